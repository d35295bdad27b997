//! ValidatePayment: asks the gateway how the payment stands and goes where
//! the answer leads. A provider that does not answer leaves the state as it
//! is: the money may be on its way, so nothing is given up.

use super::{Context, FailureReason, PortError, Ports, State, Transition};
use crate::domain::payment::FlowStatus;

pub async fn run(ctx: &mut Context, ports: &mut dyn Ports) -> Result<Transition, PortError> {
    let Some(request) = ctx.payment.clone() else {
        return Ok(Transition::Fail(FailureReason::Error(
            "no payment to validate".into(),
        )));
    };
    let settled = |ctx: &mut Context| {
        if ctx.order.is_some() {
            Transition::Next(State::CompletePayment)
        } else {
            Transition::Next(State::PlaceOrder)
        }
    };
    Ok(match ports.payment_status(&request).await? {
        FlowStatus::Unapproved(action) => match action.check() {
            Ok(()) => {
                ctx.action = Some(action);
                Transition::Next(State::Redirect)
            }
            Err(reason) => Transition::Fail(FailureReason::Error(reason)),
        },
        FlowStatus::WaitingForCustomer => {
            ctx.action = None;
            Transition::Next(State::WaitForCustomer)
        }
        FlowStatus::Approved(settlement) => {
            ctx.settlement = Some(settlement);
            settled(ctx)
        }
        FlowStatus::Completed(settlement) => {
            ctx.settlement = Some(settlement);
            ctx.payment_completed = true;
            settled(ctx)
        }
        FlowStatus::Failed { reason } => Transition::Fail(FailureReason::PaymentError(reason)),
        FlowStatus::Cancelled => Transition::Fail(FailureReason::PaymentError(
            "The payment was cancelled by the payment provider. Your cart is unchanged.".into(),
        )),
        FlowStatus::Aborted => Transition::Fail(FailureReason::CanceledByCustomer),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::order::OrderStatus;
    use crate::domain::payment::{CustomerAction, PaymentStatus, Settlement};
    use crate::domain::placeorder::fake::{FakePorts, frozen};

    fn approved() -> Settlement {
        Settlement {
            payment_status: PaymentStatus::Authorized,
            order_status: OrderStatus::Placed,
        }
    }

    async fn answer(status: FlowStatus, order_placed: bool) -> (Transition, Context) {
        let mut ports = FakePorts {
            status,
            ..Default::default()
        };
        let mut ctx = frozen(&ports, order_placed);
        if order_placed {
            ctx.order = Some(crate::domain::placeorder::PlacedOrder {
                id: "o1".into(),
                number: "K-000001".into(),
                token: "t".into(),
            });
        }
        (run(&mut ctx, &mut ports).await.unwrap(), ctx)
    }

    #[tokio::test]
    async fn each_flow_status_leads_on() {
        let redirect = FlowStatus::Unapproved(CustomerAction::Redirect {
            url: "https://pay.example/s/1".into(),
        });
        let (t, ctx) = answer(redirect, true).await;
        assert_eq!(t, Transition::Next(State::Redirect));
        assert!(matches!(ctx.action, Some(CustomerAction::Redirect { .. })));

        assert_eq!(
            answer(FlowStatus::WaitingForCustomer, true).await.0,
            Transition::Next(State::WaitForCustomer)
        );
        assert_eq!(
            answer(FlowStatus::Approved(approved()), false).await.0,
            Transition::Next(State::PlaceOrder)
        );
        let (t, ctx) = answer(FlowStatus::Completed(approved()), true).await;
        assert_eq!(t, Transition::Next(State::CompletePayment));
        assert!(ctx.payment_completed);
        assert!(matches!(
            answer(FlowStatus::Failed { reason: "Card declined".into() }, true).await.0,
            Transition::Fail(FailureReason::PaymentError(m)) if m == "Card declined"
        ));
        assert!(matches!(
            answer(FlowStatus::Cancelled, true).await.0,
            Transition::Fail(FailureReason::PaymentError(_))
        ));
        assert_eq!(
            answer(FlowStatus::Aborted, true).await.0,
            Transition::Fail(FailureReason::CanceledByCustomer)
        );
    }

    #[tokio::test]
    async fn an_action_to_a_script_fails_with_a_reason() {
        let odd = FlowStatus::Unapproved(CustomerAction::Redirect {
            url: "javascript:alert(1)".into(),
        });
        assert!(matches!(
            answer(odd, true).await.0,
            Transition::Fail(FailureReason::Error(m)) if m.contains("unusable address 'javascript:alert(1)'")
        ));
    }

    #[tokio::test]
    async fn a_provider_that_does_not_answer_changes_nothing() {
        let mut ports = FakePorts {
            provider_down: true,
            ..Default::default()
        };
        let mut ctx = frozen(&ports, true);
        assert!(run(&mut ctx, &mut ports).await.is_err());
    }
}
