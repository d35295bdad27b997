//! Redirect: the shopper must act at the provider (redirect, form post,
//! HTML or iframe, as the context's action says). The process rests here;
//! the next refresh asks the provider again.

use super::{Context, PortError, State, Transition};

pub fn run(_ctx: &mut Context) -> Result<Transition, PortError> {
    Ok(Transition::Next(State::ValidatePayment))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::placeorder::fake::context;

    #[test]
    fn a_refresh_asks_the_provider_again() {
        assert_eq!(
            run(&mut context()).unwrap(),
            Transition::Next(State::ValidatePayment)
        );
        assert!(State::Redirect.is_resting());
    }
}
