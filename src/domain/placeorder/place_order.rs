//! PlaceOrder: turns the frozen cart into an order. Before the payment is
//! approved (early place order) the order waits as pending payment. When
//! the payment's last word is in and nobody has to confirm it (cash,
//! paid in full, nothing to pay), the order is settled in the same change
//! and the process succeeds. Rollback: the order is cancelled and its
//! stock put back.

use super::{
    Context, FailureReason, OrderDraft, PlacedOrder, PortError, Ports, Rollback, State, Transition,
};
use crate::domain::order::OrderStatus;

pub async fn run(ctx: &mut Context, ports: &mut dyn Ports) -> Result<Transition, PortError> {
    let (Some(details), Some(amount)) = (ctx.details.clone(), ctx.amount) else {
        return Ok(Transition::Fail(FailureReason::Error(
            "the cart was not prepared".into(),
        )));
    };
    let status = match (&ctx.settlement, ctx.needs_payment()) {
        (Some(settlement), _) => settlement.order_status,
        (None, true) => OrderStatus::PendingPayment,
        (None, false) => OrderStatus::Placed,
    };
    let draft = OrderDraft {
        cart_id: ctx.cart_id.clone(),
        details,
        status,
        expected_total: amount,
        payment_key: ctx.payment.as_ref().map(|p| p.idempotency_key.clone()),
        registration_id: ctx.registration_id.clone(),
        settlement: super::complete_payment::at_once(ctx, ports),
    };
    let order = match ports.place_order(&draft).await {
        Ok(order) => order,
        Err(PortError::Refused(message)) => {
            return Ok(Transition::Fail(FailureReason::CartValidationError(
                message,
            )));
        }
        Err(unavailable) => return Err(unavailable),
    };
    if draft.settlement.is_some() {
        return Ok(Transition::Next(settled(ctx, order)));
    }
    ctx.push_rollback(Rollback::CancelOrder {
        order_id: order.id.clone(),
    });
    ctx.order = Some(order);
    if ctx.settlement.is_some() || !ctx.needs_payment() {
        Ok(Transition::Next(State::CompletePayment))
    } else {
        Ok(Transition::Next(State::ValidatePayment))
    }
}

/// Where an order placed and settled in one change leaves the process:
/// from here on the money is the shop's, and nothing is left to undo. The
/// shop also writes the process so, in the order's own transaction.
pub fn settled(ctx: &mut Context, order: PlacedOrder) -> State {
    ctx.order = Some(order);
    ctx.rollbacks.clear();
    State::Success
}

pub async fn rollback(order_id: &str, ports: &mut dyn Ports) -> Result<(), PortError> {
    ports.cancel_order(order_id).await
}

/// The order id was never saved: the cart's live order is the one this
/// process placed, since only the process that froze a cart orders it.
pub async fn rollback_unsaved(cart_id: &str, ports: &mut dyn Ports) -> Result<(), PortError> {
    match ports.live_order(cart_id).await? {
        Some(order) => ports.cancel_order(&order.id).await,
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::payment::{PaymentStatus, Settlement};
    use crate::domain::placeorder::fake::{FakePorts, frozen};

    #[tokio::test]
    async fn early_order_waits_for_the_payment() {
        let mut ports = FakePorts::default();
        let mut ctx = frozen(&ports, true);
        assert_eq!(
            run(&mut ctx, &mut ports).await.unwrap(),
            Transition::Next(State::ValidatePayment)
        );
        assert_eq!(ports.orders[0].status, OrderStatus::PendingPayment);
        assert!(ctx.order.is_some());
        rollback(&ctx.order.as_ref().unwrap().id, &mut ports)
            .await
            .unwrap();
        assert_eq!(ports.cancelled_orders.len(), 1);
    }

    #[tokio::test]
    async fn an_approved_payment_places_the_order_in_its_final_status() {
        let mut ports = FakePorts::default();
        let mut ctx = frozen(&ports, false);
        ctx.settlement = Some(Settlement {
            payment_status: PaymentStatus::Pending,
            order_status: OrderStatus::OnHold,
        });
        assert_eq!(
            run(&mut ctx, &mut ports).await.unwrap(),
            Transition::Next(State::CompletePayment)
        );
        assert_eq!(ports.orders[0].status, OrderStatus::OnHold);
        assert_eq!(
            ports.orders[0].settlement, None,
            "the provider confirms first"
        );
    }

    #[tokio::test]
    async fn a_cash_payment_is_settled_with_its_order_in_one_change() {
        let mut ports = FakePorts {
            cash: true,
            ..Default::default()
        };
        let mut ctx = frozen(&ports, false);
        let settlement = Settlement {
            payment_status: PaymentStatus::Pending,
            order_status: OrderStatus::Placed,
        };
        ctx.settlement = Some(settlement);
        assert_eq!(
            run(&mut ctx, &mut ports).await.unwrap(),
            Transition::Next(State::Success)
        );
        assert_eq!(ports.orders[0].settlement, Some(settlement));
        assert!(ports.confirmed.is_empty(), "nobody to confirm cash with");
        assert!(ctx.order.is_some());
        assert!(ctx.rollbacks.is_empty(), "nothing left to undo");
    }

    #[tokio::test]
    async fn a_refused_order_is_a_cart_problem() {
        let mut ports = FakePorts {
            refuse_order: true,
            ..Default::default()
        };
        let mut ctx = frozen(&ports, true);
        assert!(matches!(
            run(&mut ctx, &mut ports).await.unwrap(),
            Transition::Fail(FailureReason::CartValidationError(_))
        ));
        assert!(
            ctx.rollbacks
                .iter()
                .all(|r| !matches!(r, Rollback::CancelOrder { .. }))
        );
    }
}
