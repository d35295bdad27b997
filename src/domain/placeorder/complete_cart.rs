//! CompleteCart: freezes the cart as confirmed, so nothing changes while
//! the payment runs. Rollback: the cart is opened again, lines intact.

use super::{Context, FailureReason, PortError, Ports, Rollback, State, Transition};

pub async fn run(ctx: &mut Context, ports: &mut dyn Ports) -> Result<Transition, PortError> {
    let Some(version) = ctx.cart_version else {
        return Ok(Transition::Fail(FailureReason::Error(
            "the cart was not prepared".into(),
        )));
    };
    if !ports.freeze_cart(&ctx.cart_id, version).await? {
        return Ok(Transition::Fail(FailureReason::CartValidationError(
            "Your cart changed during checkout. Please check it and place the order again.".into(),
        )));
    }
    ctx.push_rollback(Rollback::ReopenCart {
        cart_id: ctx.cart_id.clone(),
    });
    let early = ctx
        .payment_start
        .as_ref()
        .is_some_and(|s| s.early_place_order);
    if early || !ctx.needs_payment() {
        Ok(Transition::Next(State::PlaceOrder))
    } else {
        Ok(Transition::Next(State::ValidatePayment))
    }
}

pub async fn rollback(cart_id: &str, ports: &mut dyn Ports) -> Result<(), PortError> {
    ports.reopen_cart(cart_id).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::cart::CartStatus;
    use crate::domain::placeorder::fake::{FakePorts, started};

    #[tokio::test]
    async fn freezes_and_asks_for_the_payment_status() {
        let mut ports = FakePorts::default();
        let mut ctx = started(&ports, false);
        assert_eq!(
            run(&mut ctx, &mut ports).await.unwrap(),
            Transition::Next(State::ValidatePayment)
        );
        assert_eq!(ports.cart.status, CartStatus::Frozen);
        rollback(&ctx.cart_id, &mut ports).await.unwrap();
        assert_eq!(ports.cart.status, CartStatus::Open);
    }

    #[tokio::test]
    async fn early_place_order_goes_to_place_order() {
        let mut ports = FakePorts::default();
        let mut ctx = started(&ports, true);
        assert_eq!(
            run(&mut ctx, &mut ports).await.unwrap(),
            Transition::Next(State::PlaceOrder)
        );
    }

    #[tokio::test]
    async fn a_cart_changed_since_the_snapshot_fails() {
        let mut ports = FakePorts::default();
        let mut ctx = started(&ports, false);
        ports.cart.version += 1;
        assert!(matches!(
            run(&mut ctx, &mut ports).await.unwrap(),
            Transition::Fail(FailureReason::CartValidationError(_))
        ));
    }
}
