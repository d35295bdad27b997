//! CompletePayment: confirms an approved payment with the gateway and gives
//! the order and the payment their final status. Nothing to roll back:
//! from here on the money is the shop's.

use super::{Context, FailureReason, PortError, Ports, State, Transition};
use crate::domain::order::OrderStatus;
use crate::domain::payment::{PaymentStatus, Settlement};

/// Nothing to pay: the order is complete as it is.
const NOTHING_TO_PAY: Settlement = Settlement {
    payment_status: PaymentStatus::Captured,
    order_status: OrderStatus::Placed,
};

/// The settlement the order can be placed with, in the same change, so
/// that this state is not needed: the payment's last word is in and nobody
/// outside has to confirm it (paid in full, or a payment only the shop
/// knows of), or there is nothing to pay.
pub fn at_once(ctx: &Context, ports: &dyn Ports) -> Option<Settlement> {
    match (&ctx.payment, ctx.settlement) {
        (Some(request), Some(settlement))
            if ctx.payment_completed || !ports.held_outside(request) =>
        {
            Some(settlement)
        }
        (Some(_), _) => None,
        (None, _) => Some(NOTHING_TO_PAY),
    }
}

pub async fn run(ctx: &mut Context, ports: &mut dyn Ports) -> Result<Transition, PortError> {
    let Some(order) = ctx.order.clone() else {
        return Ok(Transition::Fail(FailureReason::Error(
            "no order to complete".into(),
        )));
    };
    let settlement = match (&ctx.payment, ctx.settlement) {
        (Some(request), Some(settlement)) => {
            if !ctx.payment_completed {
                ports.confirm_payment(request).await?;
            }
            settlement
        }
        (Some(_), None) => {
            return Ok(Transition::Fail(FailureReason::Error(
                "the payment was not approved".into(),
            )));
        }
        (None, _) => NOTHING_TO_PAY,
    };
    let key = ctx.payment.as_ref().map(|p| &p.idempotency_key);
    ports.settle_order(&order.id, key, settlement).await?;
    // The undo steps are moot now; keeping them would only confuse.
    ctx.rollbacks.clear();
    Ok(Transition::Next(State::Success))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::placeorder::fake::{FakePorts, frozen};
    use crate::domain::placeorder::{PlacedOrder, Rollback};

    fn with_order(ports: &FakePorts) -> Context {
        let mut ctx = frozen(ports, false);
        ctx.order = Some(PlacedOrder {
            id: "o1".into(),
            number: "K-000001".into(),
            token: "t".into(),
        });
        ctx.rollbacks.push(Rollback::CancelOrder {
            order_id: "o1".into(),
        });
        ctx
    }

    #[tokio::test]
    async fn an_approved_payment_is_confirmed_and_settled() {
        let mut ports = FakePorts::default();
        let mut ctx = with_order(&ports);
        ctx.settlement = Some(Settlement {
            payment_status: PaymentStatus::Authorized,
            order_status: OrderStatus::Placed,
        });
        assert_eq!(
            run(&mut ctx, &mut ports).await.unwrap(),
            Transition::Next(State::Success)
        );
        assert_eq!(ports.confirmed.len(), 1);
        assert_eq!(ports.settled, vec![("o1".to_owned(), OrderStatus::Placed)]);
        assert!(ctx.rollbacks.is_empty());
    }

    #[tokio::test]
    async fn a_completed_payment_needs_no_confirmation() {
        let mut ports = FakePorts::default();
        let mut ctx = with_order(&ports);
        ctx.settlement = Some(Settlement {
            payment_status: PaymentStatus::Captured,
            order_status: OrderStatus::Placed,
        });
        ctx.payment_completed = true;
        run(&mut ctx, &mut ports).await.unwrap();
        assert!(ports.confirmed.is_empty());
    }
}
