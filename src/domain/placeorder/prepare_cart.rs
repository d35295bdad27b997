//! PrepareCart: takes a snapshot of what the shopper confirmed: the cart's
//! version, the checkout details and the total to pay.

use super::{Context, FailureReason, PortError, Ports, State, Transition};
use crate::domain::pricing::totals;

pub async fn run(ctx: &mut Context, ports: &mut dyn Ports) -> Result<Transition, PortError> {
    let Some(cart) = ports.cart(&ctx.cart_id).await? else {
        return Ok(Transition::Fail(FailureReason::CartValidationError(
            "Your cart no longer exists.".into(),
        )));
    };
    if !cart.is_open() {
        return Ok(Transition::Fail(FailureReason::CartValidationError(
            "This cart is already being paid or was ordered.".into(),
        )));
    }
    if ctx.reviewed_version.is_some_and(|v| v != cart.version) {
        return Ok(Transition::Fail(FailureReason::CartValidationError(
            "Your cart changed since you reviewed it. Please check it and place the order again."
                .into(),
        )));
    }
    let Some(details) = cart.checkout.clone() else {
        return Ok(Transition::Fail(FailureReason::CartValidationError(
            "Please fill in the checkout form first.".into(),
        )));
    };
    let shipping = ports.shipping_method(&details.shipping_method).await?;
    let order_totals = totals(
        &cart.lines,
        shipping.as_ref(),
        details.voucher.as_ref(),
        ports.currency(),
    );
    ctx.cart_version = Some(cart.version);
    ctx.amount = Some(order_totals.total);
    ctx.details = Some(details);
    Ok(Transition::Next(State::ValidateCart))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::placeorder::fake::{FakePorts, context};

    #[tokio::test]
    async fn snapshots_version_details_and_total() {
        let mut ports = FakePorts::default();
        let mut ctx = context();
        assert_eq!(
            run(&mut ctx, &mut ports).await.unwrap(),
            Transition::Next(State::ValidateCart)
        );
        assert_eq!(ctx.cart_version, Some(ports.cart.version));
        // 2 × 12.00 + 4.95 shipping.
        assert_eq!(ctx.amount.unwrap().minor, 2895);
        assert!(ctx.details.is_some());
    }

    #[tokio::test]
    async fn only_the_reviewed_version_is_prepared() {
        let mut ports = FakePorts::default();
        let mut ctx = context();
        ctx.reviewed_version = Some(ports.cart.version);
        ports.cart.version += 1;
        let t = run(&mut ctx, &mut ports).await.unwrap();
        assert!(
            matches!(t, Transition::Fail(FailureReason::CartValidationError(m)) if m.contains("since you reviewed"))
        );
        assert_eq!(ctx.cart_version, None, "nothing snapshotted");
    }

    #[tokio::test]
    async fn a_cart_without_details_or_already_frozen_fails() {
        let mut ports = FakePorts::default();
        ports.cart.checkout = None;
        let t = run(&mut context(), &mut ports).await.unwrap();
        assert!(matches!(
            t,
            Transition::Fail(FailureReason::CartValidationError(_))
        ));

        let mut ports = FakePorts::default();
        ports.cart.status = crate::domain::cart::CartStatus::Frozen;
        let t = run(&mut context(), &mut ports).await.unwrap();
        assert!(matches!(
            t,
            Transition::Fail(FailureReason::CartValidationError(_))
        ));
    }
}
