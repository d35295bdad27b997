//! New: the process exists, nothing has happened yet.

use super::{Context, State, Transition};

pub fn run(_ctx: &mut Context) -> Result<Transition, super::PortError> {
    Ok(Transition::Next(State::PrepareCart))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::placeorder::fake::context;

    #[test]
    fn goes_to_prepare_cart() {
        assert_eq!(
            run(&mut context()).unwrap(),
            Transition::Next(State::PrepareCart)
        );
    }
}
