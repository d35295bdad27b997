//! ValidatePaymentSelection: the chosen method is still offered, and the
//! attempt gets the process's idempotency key. Free orders need none.

use super::{Context, FailureReason, PortError, Ports, State, Transition};
use crate::domain::payment::PaymentRequest;

pub fn run(ctx: &mut Context, ports: &mut dyn Ports) -> Result<Transition, PortError> {
    if !ctx.needs_payment() {
        return Ok(Transition::Next(State::CompleteCart));
    }
    let selection = ctx.details.as_ref().and_then(|d| d.payment.clone());
    let Some(selection) = selection else {
        return Ok(Transition::Fail(FailureReason::PaymentError(
            "Please choose a payment method.".into(),
        )));
    };
    let offered = ports
        .payment_methods()
        .iter()
        .any(|o| o.form_value() == selection.form_value());
    if !offered {
        return Ok(Transition::Fail(FailureReason::PaymentError(
            "This payment method is no longer offered. Please choose another one.".into(),
        )));
    }
    let Some(amount) = ctx.amount else {
        return Ok(Transition::Fail(FailureReason::Error(
            "the total is unknown".into(),
        )));
    };
    ctx.payment = Some(PaymentRequest {
        gateway: selection.gateway,
        method: selection.method,
        amount,
        idempotency_key: ctx.idempotency_key.clone(),
        reference: ctx.process_id.clone(),
    });
    Ok(Transition::Next(State::CreatePayment))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::placeorder::fake::{FakePorts, prepared};

    #[test]
    fn an_offered_method_becomes_the_attempt() {
        let mut ports = FakePorts::default();
        let mut ctx = prepared(&ports);
        assert_eq!(
            run(&mut ctx, &mut ports).unwrap(),
            Transition::Next(State::CreatePayment)
        );
        let payment = ctx.payment.unwrap();
        assert_eq!(payment.idempotency_key, ctx.idempotency_key);
        assert_eq!(payment.amount.minor, 2895);
    }

    #[test]
    fn a_method_no_longer_offered_fails() {
        let mut ports = FakePorts::default();
        let mut ctx = prepared(&ports);
        ports.methods.clear();
        assert!(matches!(
            run(&mut ctx, &mut ports).unwrap(),
            Transition::Fail(FailureReason::PaymentError(_))
        ));
    }

    #[test]
    fn a_free_order_skips_payment() {
        let mut ports = FakePorts::default();
        let mut ctx = prepared(&ports);
        ctx.amount = Some(crate::domain::money::Money::zero(ports.currency()));
        assert_eq!(
            run(&mut ctx, &mut ports).unwrap(),
            Transition::Next(State::CompleteCart)
        );
        assert!(ctx.payment.is_none());
    }
}
