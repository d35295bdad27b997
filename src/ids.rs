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

/// The id of a request that came without a usable one of its own: this
/// process's random prefix and a counter, 16 hex digits. Unique across
/// nodes as long as their prefixes differ, and made without a system call
/// per request.
pub fn new_request_id() -> String {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU32, Ordering};
    static PREFIX: OnceLock<u32> = OnceLock::new();
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let prefix = PREFIX.get_or_init(|| {
        let mut bytes = [0u8; 4];
        getrandom::fill(&mut bytes).expect("the operating system's random source failed");
        u32::from_le_bytes(bytes)
    });
    format!("{prefix:08x}{:08x}", NEXT.fetch_add(1, Ordering::Relaxed))
}
