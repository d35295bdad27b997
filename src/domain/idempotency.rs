//! Idempotent API requests: an integrator sends each POST with an
//! `Idempotency-Key`; the first request with a key runs, a repeat gets the
//! first answer again.

use std::time::Duration;

/// How long an answer is kept for repeats.
pub const KEPT_FOR: Duration = Duration::from_secs(24 * 60 * 60);

/// A request still marked running after this long was cut off (its node
/// died): a repeat may run it again.
pub const ABANDONED_AFTER: Duration = Duration::from_secs(5 * 60);

/// Where the first request with a key is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordState {
    InProgress,
    Done,
}

super::stored_names!(RecordState {
    InProgress => "in_progress",
    Done => "done",
});

/// What a request whose key was seen before gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeat {
    /// The same request, answered: the stored answer again.
    Replay,
    /// The same request, still running: try again shortly.
    StillRunning,
    /// Another request under a used key: refused.
    OtherRequest,
}

/// The stored record of a key against a new request's fingerprint.
pub fn repeat_of(stored: RecordState, stored_fingerprint: &str, fingerprint: &str) -> Repeat {
    if stored_fingerprint != fingerprint {
        Repeat::OtherRequest
    } else if stored == RecordState::InProgress {
        Repeat::StillRunning
    } else {
        Repeat::Replay
    }
}

/// An `Idempotency-Key` header: 1 to 255 visible ASCII characters (a UUID
/// is usual).
pub fn parse_idempotency_key(raw: &str) -> Result<String, String> {
    let visible = raw.chars().all(|c| c.is_ascii_graphic());
    if raw.is_empty() || raw.len() > 255 || !visible {
        Err("the Idempotency-Key header must be 1 to 255 visible ASCII characters".into())
    } else {
        Ok(raw.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeat_is_replayed_refused_or_told_to_wait() {
        assert_eq!(repeat_of(RecordState::Done, "a", "a"), Repeat::Replay);
        assert_eq!(
            repeat_of(RecordState::InProgress, "a", "a"),
            Repeat::StillRunning
        );
        assert_eq!(repeat_of(RecordState::Done, "a", "b"), Repeat::OtherRequest);
        assert_eq!(
            repeat_of(RecordState::InProgress, "a", "b"),
            Repeat::OtherRequest
        );
    }

    #[test]
    fn keys_are_short_visible_ascii() {
        assert!(parse_idempotency_key("3f1c-42").is_ok());
        assert!(parse_idempotency_key("").is_err());
        assert!(parse_idempotency_key("with space").is_err());
        assert!(parse_idempotency_key("ü").is_err());
        assert!(parse_idempotency_key(&"k".repeat(256)).is_err());
    }

    #[test]
    fn states_round_trip() {
        for &state in RecordState::ALL {
            assert_eq!(RecordState::parse(state.as_str()), Some(state));
        }
    }
}
