//! The provider's rules for money operations on a session, without I/O:
//! partial captures of a reservation, releasing its rest, partial refunds
//! of what was captured. Every operation asked for is recorded, refused
//! ones too, so a repeat of its key gets the same answer.

use crate::payment::hosted::wire::{
    Operation, OperationKind, OperationOutcome, Session, SessionStatus,
};
use time::OffsetDateTime;

/// What a staff member reads when a capture is refused by the test knob.
pub const EXPIRED_RESERVATION: &str = "The reservation has expired";

/// Performs a new operation (its key not seen before) on `session`, or
/// records why not; `refusal` makes the provider say no whatever the
/// amounts (the test knob). The record is also added to the session.
pub fn perform(
    session: &mut Session,
    key: &str,
    kind: OperationKind,
    amount_minor: i64,
    at: OffsetDateTime,
    refusal: Option<String>,
) -> Operation {
    let decided = match refusal {
        Some(reason) => Err(reason),
        None => match kind {
            OperationKind::Capture => check_capture(session, amount_minor).map(|()| amount_minor),
            OperationKind::Release => check_release(session),
            OperationKind::Refund => check_refund(session, amount_minor).map(|()| amount_minor),
        },
    };
    let (amount_minor, outcome) = match decided {
        Ok(amount) => {
            match kind {
                OperationKind::Capture => session.captured_minor += amount,
                OperationKind::Release => session.released = true,
                OperationKind::Refund => session.refunded_minor += amount,
            }
            session.status = status_after_money_moved(session);
            (amount, OperationOutcome::Done)
        }
        Err(reason) => (
            // A refused release records what it would have released.
            if kind == OperationKind::Release {
                still_reserved(session)
            } else {
                amount_minor
            },
            OperationOutcome::Refused { reason },
        ),
    };
    let operation = Operation {
        key: key.to_owned(),
        kind,
        amount_minor,
        at,
        outcome,
    };
    session.operations.push(operation.clone());
    operation
}

/// The authorized amount not captured yet, unless the rest was released.
pub fn still_reserved(session: &Session) -> i64 {
    if session.released || session.status != SessionStatus::Authorized {
        return 0;
    }
    session.request.amount_minor - session.captured_minor
}

fn check_capture(session: &Session, amount_minor: i64) -> Result<(), String> {
    positive(amount_minor)?;
    if session.status != SessionStatus::Authorized || session.released {
        return Err(not_reserved(session));
    }
    let left = still_reserved(session);
    if amount_minor > left {
        return Err(format!(
            "Amount exceeds what is still reserved ({} left)",
            format_minor(left, &session.request.currency)
        ));
    }
    Ok(())
}

/// Ok with the amount released.
fn check_release(session: &Session) -> Result<i64, String> {
    if session.status != SessionStatus::Authorized || session.released {
        return Err(not_reserved(session));
    }
    Ok(still_reserved(session))
}

fn check_refund(session: &Session, amount_minor: i64) -> Result<(), String> {
    positive(amount_minor)?;
    let left = session.captured_minor - session.refunded_minor;
    if left <= 0 {
        return Err("Nothing captured is left to refund".into());
    }
    if amount_minor > left {
        return Err(format!(
            "Amount exceeds what was captured and not yet refunded ({} left)",
            format_minor(left, &session.request.currency)
        ));
    }
    Ok(())
}

fn positive(amount_minor: i64) -> Result<(), String> {
    if amount_minor <= 0 {
        return Err("The amount must be more than zero".into());
    }
    Ok(())
}

/// Why nothing can be captured or released from this session.
fn not_reserved(session: &Session) -> String {
    use SessionStatus::*;
    if session.released {
        return "The reservation was released".into();
    }
    match session.status {
        Open => "The payment is not authorized yet",
        Pending => "The payment waits to be paid at a store; nothing is reserved",
        Declined => "The payment was declined",
        Cancelled => "The payment was cancelled",
        Expired => "The payment has expired",
        Authorized | Captured | Refunded => "Everything reserved is already captured",
    }
    .into()
}

/// Once nothing is reserved any more (all captured, or the rest released)
/// the session is captured, so its flow status says so; with nothing
/// captured at all a release voided it; once everything captured is paid
/// back it is refunded. Sessions in other states keep theirs.
fn status_after_money_moved(session: &Session) -> SessionStatus {
    use SessionStatus::*;
    if !matches!(session.status, Authorized | Captured) {
        return session.status;
    }
    let reservation_over =
        session.released || session.captured_minor >= session.request.amount_minor;
    match (reservation_over, session.captured_minor) {
        (false, _) => Authorized,
        (true, 0) => Cancelled,
        (true, captured) if session.refunded_minor >= captured => Refunded,
        (true, _) => Captured,
    }
}

/// `1234` in EUR: `12.34 EUR`.
pub fn format_minor(minor: i64, currency: &str) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let minor = minor.unsigned_abs();
    format!("{sign}{}.{:02} {currency}", minor / 100, minor % 100)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payment::hosted::wire::{CaptureMode, CreateSession};
    use OperationKind::*;

    fn authorized(amount_minor: i64) -> Session {
        Session {
            id: "ps_1".into(),
            idempotency_key: "attempt".into(),
            request: CreateSession {
                amount_minor,
                currency: "EUR".into(),
                reference: "r".into(),
                method: "card".into(),
                capture: CaptureMode::Manual,
                return_url: String::new(),
                cancel_url: String::new(),
                webhook_url: String::new(),
            },
            status: SessionStatus::Authorized,
            pay_url: String::new(),
            captured_minor: 0,
            refunded_minor: 0,
            released: false,
            operations: Vec::new(),
            payment_code: None,
            expires_at: OffsetDateTime::UNIX_EPOCH,
        }
    }

    fn run(session: &mut Session, key: &str, kind: OperationKind, amount: i64) -> OperationOutcome {
        perform(session, key, kind, amount, OffsetDateTime::UNIX_EPOCH, None).outcome
    }

    fn refused(outcome: OperationOutcome) -> String {
        match outcome {
            OperationOutcome::Refused { reason } => reason,
            OperationOutcome::Done => panic!("done, not refused"),
        }
    }

    #[test]
    fn partial_captures_use_up_the_reservation() {
        let mut s = authorized(1000);
        assert_eq!(run(&mut s, "a", Capture, 400), OperationOutcome::Done);
        assert_eq!(s.status, SessionStatus::Authorized, "600 still reserved");
        let over = refused(run(&mut s, "b", Capture, 601));
        assert_eq!(
            over,
            "Amount exceeds what is still reserved (6.00 EUR left)"
        );
        assert_eq!(run(&mut s, "c", Capture, 600), OperationOutcome::Done);
        assert_eq!(s.status, SessionStatus::Captured);
        assert_eq!(s.captured_minor, 1000);
        assert_eq!(s.operations.len(), 3, "the refusal is recorded too");
        assert!(refused(run(&mut s, "d", Capture, 1)).contains("already captured"));
    }

    #[test]
    fn a_release_ends_the_reservation() {
        let mut s = authorized(1000);
        run(&mut s, "a", Capture, 300);
        let release = perform(&mut s, "r", Release, 0, OffsetDateTime::UNIX_EPOCH, None);
        assert_eq!(release.amount_minor, 700, "the rest is released");
        assert_eq!(s.status, SessionStatus::Captured, "what was taken stays");
        assert_eq!(
            refused(run(&mut s, "b", Capture, 1)),
            "The reservation was released"
        );
        assert_eq!(
            refused(run(&mut s, "r2", Release, 0)),
            "The reservation was released"
        );
        assert_eq!(s.captured_minor, 300);
    }

    #[test]
    fn releasing_everything_voids_the_payment() {
        let mut s = authorized(1000);
        assert_eq!(run(&mut s, "r", Release, 0), OperationOutcome::Done);
        assert_eq!(s.status, SessionStatus::Cancelled);
        assert_eq!(
            refused(run(&mut s, "f", Refund, 1)),
            "Nothing captured is left to refund"
        );
    }

    #[test]
    fn refunds_stay_within_what_was_captured() {
        let mut s = authorized(1000);
        run(&mut s, "a", Capture, 1000);
        assert_eq!(run(&mut s, "f1", Refund, 250), OperationOutcome::Done);
        assert_eq!(s.status, SessionStatus::Captured);
        let over = refused(run(&mut s, "f2", Refund, 751));
        assert!(over.contains("(7.50 EUR left)"), "{over}");
        assert_eq!(run(&mut s, "f3", Refund, 750), OperationOutcome::Done);
        assert_eq!(s.status, SessionStatus::Refunded);
        assert_eq!(s.refunded_minor, 1000);
    }

    #[test]
    fn a_refund_while_money_is_still_reserved_keeps_the_reservation() {
        let mut s = authorized(1000);
        run(&mut s, "a", Capture, 400);
        assert_eq!(run(&mut s, "f", Refund, 400), OperationOutcome::Done);
        assert_eq!(
            s.status,
            SessionStatus::Authorized,
            "600 can still be captured"
        );
        assert_eq!(run(&mut s, "b", Capture, 600), OperationOutcome::Done);
        assert_eq!(s.status, SessionStatus::Captured);
    }

    #[test]
    fn automatic_capture_can_be_refunded_not_captured() {
        let mut s = authorized(1000);
        s.request.capture = CaptureMode::Automatic;
        s.status = SessionStatus::Captured;
        s.captured_minor = 1000;
        assert!(refused(run(&mut s, "a", Capture, 1)).contains("already captured"));
        assert!(refused(run(&mut s, "r", Release, 0)).contains("already captured"));
        assert_eq!(run(&mut s, "f", Refund, 1000), OperationOutcome::Done);
        assert_eq!(s.status, SessionStatus::Refunded);
    }

    #[test]
    fn nothing_moves_on_a_payment_not_authorized() {
        for (status, reason) in [
            (SessionStatus::Open, "not authorized yet"),
            (SessionStatus::Pending, "at a store"),
            (SessionStatus::Expired, "expired"),
            (SessionStatus::Cancelled, "cancelled"),
            (SessionStatus::Declined, "declined"),
        ] {
            let mut s = authorized(1000);
            s.status = status;
            assert!(
                refused(run(&mut s, "a", Capture, 10)).contains(reason),
                "{status:?}"
            );
            assert!(
                refused(run(&mut s, "r", Release, 0)).contains(reason),
                "{status:?}"
            );
            assert_eq!(s.status, status);
            assert_eq!(s.captured_minor, 0);
        }
    }

    #[test]
    fn amounts_must_be_positive_and_the_knob_wins() {
        let mut s = authorized(1000);
        assert!(refused(run(&mut s, "a", Capture, 0)).contains("more than zero"));
        assert!(refused(run(&mut s, "b", Refund, -5)).contains("more than zero"));
        let forced = perform(
            &mut s,
            "c",
            Capture,
            100,
            OffsetDateTime::UNIX_EPOCH,
            Some(EXPIRED_RESERVATION.into()),
        );
        assert_eq!(refused(forced.outcome), EXPIRED_RESERVATION);
        assert_eq!(s.captured_minor, 0);
        assert_eq!(s.status, SessionStatus::Authorized);
    }

    #[test]
    fn amounts_read_as_money() {
        assert_eq!(format_minor(1234, "EUR"), "12.34 EUR");
        assert_eq!(format_minor(5, "EUR"), "0.05 EUR");
        assert_eq!(format_minor(-250, "EUR"), "-2.50 EUR");
    }
}
