//! Success: the order is placed and paid as agreed. Final.

use super::{Context, PortError, Transition};

pub fn run(_ctx: &mut Context) -> Result<Transition, PortError> {
    Ok(Transition::Rest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::placeorder::State;
    use crate::domain::placeorder::fake::context;

    #[test]
    fn is_final() {
        assert_eq!(run(&mut context()).unwrap(), Transition::Rest);
        assert!(State::Success.is_final());
    }
}
