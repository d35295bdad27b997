//! Named crash points: the places where a node dying matters (after an
//! outside effect, before it is recorded). The kill -9 tests name one in
//! `FAILPOINTS` (`name=return`) and the process kills itself there.
//! Without the `failpoints` feature every point is nothing.

/// Every crash point, so the tests can check they try each one.
pub const POINTS: &[&str] = &[
    "registration.created",
    "placeorder.payment_started",
    "placeorder.payment_recorded",
    "placeorder.payment_confirmed",
    "placeorder.payment_voided",
    "placeorder.cart_frozen",
    "placeorder.cart_reopened",
    "placeorder.order_placed",
    "placeorder.order_cancelled",
    "placeorder.order_settled",
    "placeorder.step_done",
    "webhook.applied",
    "outbox.delivered",
    "mail.sent",
    "fulfilment.capture_answered",
    "fulfilment.release_answered",
    "fulfilment.refund_answered",
];

/// Dies here, at once and without clean-up (SIGKILL, as a power cut or
/// the OOM killer would), when the tests named this point.
#[inline]
pub fn point(name: &'static str) {
    debug_assert!(POINTS.contains(&name), "crash point {name} is not listed");
    #[cfg(feature = "failpoints")]
    if fail::eval(name, |_| ()).is_some() {
        eprintln!("crash point {name}: killing the process");
        // SAFETY: kill(2) with our own pid and a valid signal number.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
    }
}

/// Arms the points named in `FAILPOINTS`; keep the guard while serving.
#[cfg(feature = "failpoints")]
pub fn arm() -> fail::FailScenario<'static> {
    fail::FailScenario::setup()
}
