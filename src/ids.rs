//! Fresh identifiers and secrets, each kind made in one place.

use crate::domain::payment::IdempotencyKey;

/// The id of a new row (cart, order, payment, process, outbox event, ...).
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The idempotency key of a new payment attempt, sent to the provider with
/// every call about that attempt.
pub fn new_idempotency_key() -> IdempotencyKey {
    IdempotencyKey::from_string(uuid::Uuid::new_v4().to_string())
}

/// Names one holder of a lease or a claim (one stepping of a process, one
/// outbox worker): the OS process id, to find it in the logs, and a random
/// part, so no two holders on any node share a name.
pub fn new_holder() -> String {
    format!("{}:{}", std::process::id(), uuid::Uuid::new_v4().simple())
}

/// A random secret for links and forms, hex-encoded.
pub fn random_token() -> String {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The id of a request that came without a usable one of its own.
pub fn new_request_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}
