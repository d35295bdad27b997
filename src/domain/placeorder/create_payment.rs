//! CreatePayment: starts the payment flow at the gateway with the attempt's
//! idempotency key, so a repeat after a crash finds the same payment.
//! Rollback: the payment is voided.

use super::{Context, FailureReason, PortError, Ports, Rollback, State, Transition};
use crate::domain::payment::PaymentRequest;

pub async fn run(ctx: &mut Context, ports: &mut dyn Ports) -> Result<Transition, PortError> {
    let Some(request) = ctx.payment.clone() else {
        return Ok(Transition::Fail(FailureReason::Error(
            "no payment attempt to start".into(),
        )));
    };
    match ports.start_payment(&request).await {
        Ok(start) => {
            ctx.payment_start = Some(start);
            ctx.push_rollback(Rollback::CancelPayment(request));
            Ok(Transition::Next(State::CompleteCart))
        }
        Err(PortError::Refused(message)) => Ok(Transition::Fail(FailureReason::PaymentError(message))),
        // Nothing was paid yet: better a clear message now than a shopper
        // left waiting.
        Err(PortError::Unavailable(_)) => Ok(Transition::Fail(FailureReason::PaymentError(
            "The payment provider cannot be reached right now. Your cart is unchanged; please try again in a moment.".into(),
        ))),
        Err(broken @ PortError::Broken(_)) => Err(broken),
    }
}

pub async fn rollback(request: &PaymentRequest, ports: &mut dyn Ports) -> Result<(), PortError> {
    ports.cancel_payment(request).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::placeorder::fake::{FakePorts, with_payment};

    #[tokio::test]
    async fn starts_the_payment_and_remembers_to_void_it() {
        let mut ports = FakePorts::default();
        let mut ctx = with_payment(&ports);
        assert_eq!(
            run(&mut ctx, &mut ports).await.unwrap(),
            Transition::Next(State::CompleteCart)
        );
        assert_eq!(ports.started.len(), 1);
        assert!(matches!(
            ctx.rollbacks.last(),
            Some(Rollback::CancelPayment(_))
        ));
        // A repeat (crash before the save) does not stack a second rollback.
        run(&mut ctx, &mut ports).await.unwrap();
        assert_eq!(ctx.rollbacks.len(), 1);

        rollback(ctx.payment.as_ref().unwrap(), &mut ports)
            .await
            .unwrap();
        assert_eq!(ports.cancelled.len(), 1);
    }

    #[tokio::test]
    async fn a_provider_that_is_down_fails_with_a_message() {
        let mut ports = FakePorts {
            provider_down: true,
            ..Default::default()
        };
        let mut ctx = with_payment(&ports);
        let t = run(&mut ctx, &mut ports).await.unwrap();
        assert!(
            matches!(t, Transition::Fail(FailureReason::PaymentError(m)) if m.contains("cannot be reached"))
        );
        assert!(ctx.rollbacks.is_empty());
    }
}
