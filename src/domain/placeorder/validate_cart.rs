//! ValidateCart: the cart can still be ordered as confirmed: every product
//! available, in stock and at the price shown, and nothing changed since.

use super::{Context, FailureReason, PortError, Ports, State, Transition};
use crate::domain::cart::validate;

pub async fn run(ctx: &mut Context, ports: &mut dyn Ports) -> Result<Transition, PortError> {
    let Some(cart) = ports.cart(&ctx.cart_id).await? else {
        return Ok(Transition::Fail(FailureReason::CartValidationError(
            "Your cart no longer exists.".into(),
        )));
    };
    let problems = validate(&cart.lines);
    if !problems.is_empty() {
        let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
        return Ok(Transition::Fail(FailureReason::CartValidationError(
            text.join(" "),
        )));
    }
    if Some(cart.version) != ctx.cart_version {
        return Ok(Transition::Fail(FailureReason::CartValidationError(
            "Your cart changed during checkout. Please check it and place the order again.".into(),
        )));
    }
    Ok(Transition::Next(State::ValidatePaymentSelection))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::placeorder::fake::{FakePorts, prepared};

    #[tokio::test]
    async fn a_valid_unchanged_cart_passes() {
        let mut ports = FakePorts::default();
        let mut ctx = prepared(&ports);
        assert_eq!(
            run(&mut ctx, &mut ports).await.unwrap(),
            Transition::Next(State::ValidatePaymentSelection)
        );
    }

    #[tokio::test]
    async fn stock_or_a_changed_version_fails() {
        let mut ports = FakePorts::default();
        let mut ctx = prepared(&ports);
        ports.cart.lines[0].product.as_mut().unwrap().stock = 1;
        let t = run(&mut ctx, &mut ports).await.unwrap();
        assert!(
            matches!(t, Transition::Fail(FailureReason::CartValidationError(m)) if m.contains("in stock"))
        );

        let mut ports = FakePorts::default();
        let mut ctx = prepared(&ports);
        ports.cart.version += 1;
        let t = run(&mut ctx, &mut ports).await.unwrap();
        assert!(
            matches!(t, Transition::Fail(FailureReason::CartValidationError(m)) if m.contains("changed"))
        );
    }
}
