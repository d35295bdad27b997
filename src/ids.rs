//! Fresh identifiers and secrets, each kind made in one place.

use crate::domain::payment::IdempotencyKey;

/// The id of a new row (cart, order, payment, process, outbox event, ...):
/// a UUID of version 7, whose first bits are the time in milliseconds and
/// the rest random. Rows made together sit together in every index by id,
/// so a commit touches the newest few pages of an index instead of pages
/// all over it (fewer pages written and read back).
pub fn new_id() -> String {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let mut random = [0u8; 10];
    fill_random(&mut random);
    uuid::Builder::from_unix_timestamp_millis(millis, &random)
        .into_uuid()
        .to_string()
}

/// A random UUID (version 4).
fn random_uuid() -> uuid::Uuid {
    let mut bytes = [0u8; 16];
    fill_random(&mut bytes);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

/// The idempotency key of a new payment attempt, sent to the provider with
/// every call about that attempt.
pub fn new_idempotency_key() -> IdempotencyKey {
    IdempotencyKey::from_string(random_uuid().to_string())
}

/// Names one holder of a lease or a claim (one stepping of a process, one
/// outbox worker): the OS process id, to find it in the logs, and a random
/// part, so no two holders on any node share a name.
pub fn new_holder() -> String {
    format!("{}:{}", std::process::id(), random_uuid().simple())
}

/// A random secret for links and forms, hex-encoded.
pub fn random_token() -> String {
    let mut bytes = [0u8; 24];
    fill_random(&mut bytes);
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

/// Fills `out` with bytes from the operating system's random source, read
/// a block at a time per thread: one system call per few dozen ids and
/// tokens instead of one each. The bytes are as unpredictable; each is
/// handed out once.
pub fn fill_random(out: &mut [u8]) {
    use std::cell::RefCell;
    const BLOCK: usize = 512;
    thread_local! {
        static POOL: RefCell<([u8; BLOCK], usize)> = const { RefCell::new(([0; BLOCK], BLOCK)) };
    }
    POOL.with_borrow_mut(|(block, used)| {
        for chunk in out.chunks_mut(BLOCK) {
            if BLOCK - *used < chunk.len() {
                getrandom::fill(block).expect("the operating system's random source failed");
                *used = 0;
            }
            chunk.copy_from_slice(&block[*used..*used + chunk.len()]);
            // Handed out bytes are not kept where a later reader might
            // find them.
            block[*used..*used + chunk.len()].fill(0);
            *used += chunk.len();
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_made_later_sort_after_earlier_ones() {
        let first = new_id();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let second = new_id();
        assert!(first < second, "{first} then {second}");
        let parsed = uuid::Uuid::parse_str(&second).unwrap();
        assert_eq!(parsed.get_version_num(), 7);
    }

    #[test]
    fn random_bytes_are_never_handed_out_twice() {
        let mut seen = std::collections::HashSet::new();
        // More than one block's worth, across block boundaries.
        for _ in 0..200 {
            let mut bytes = [0u8; 24];
            fill_random(&mut bytes);
            assert!(seen.insert(bytes), "the same 24 bytes came twice");
        }
        let tokens: std::collections::HashSet<_> = (0..100).map(|_| random_token()).collect();
        assert_eq!(tokens.len(), 100);
        assert_eq!(random_uuid().get_version_num(), 4);
    }
}
