//! Webhook signatures: `Kassa-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret,
//! "<t>.<raw body>")>`. The timestamp is signed too, so an old delivery
//! cannot be replayed later.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

pub const HEADER: &str = "Kassa-Signature";

/// How far a signature's time may be from now.
pub const TOLERANCE_SECONDS: i64 = 300;

fn mac(secret: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let digest = mac(secret, timestamp, body).finalize().into_bytes();
    format!("t={timestamp},v1={}", hex(&digest))
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the signature header is missing or malformed")]
    Malformed,
    #[error("the signature is too old or from the future")]
    Stale,
    #[error("the signature does not match")]
    Mismatch,
}

/// Checks a signature header against the raw body, in constant time.
pub fn verify(secret: &str, header: &str, body: &[u8], now: i64) -> Result<(), SignatureError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = value.parse::<i64>().ok(),
            Some(("v1", value)) => signatures.push(unhex(value).ok_or(SignatureError::Malformed)?),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    // `abs_diff`: a timestamp at either end of the range must not overflow.
    if now.abs_diff(timestamp) > TOLERANCE_SECONDS.unsigned_abs() {
        return Err(SignatureError::Stale);
    }
    let matches = signatures
        .iter()
        .any(|sig| mac(secret, timestamp, body).verify_slice(sig).is_ok());
    if matches {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// A keyed digest of `text`, hex-encoded (signed links).
pub fn digest(key: &[u8], text: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(text.as_bytes());
    hex(&mac.finalize().into_bytes())
}

/// Whether `signature` is `digest(key, text)`, compared in constant time.
pub fn digest_matches(key: &[u8], text: &str, signature: &str) -> bool {
    let Some(bytes) = unhex(signature) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(text.as_bytes());
    mac.verify_slice(&bytes).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_body_verifies() {
        let header = sign("secret", 1000, b"{}");
        assert_eq!(verify("secret", &header, b"{}", 1100), Ok(()));
    }

    #[test]
    fn forged_stale_and_malformed_signatures_fail() {
        let header = sign("secret", 1000, b"{}");
        assert_eq!(
            verify("other", &header, b"{}", 1000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify("secret", &header, b"{ }", 1000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify("secret", &header, b"{}", 1000 + 301),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify("secret", "v1=zz", b"{}", 1000),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify("secret", "", b"{}", 1000),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn signed_links() {
        let sig = digest(b"key", "process-1");
        assert!(digest_matches(b"key", "process-1", &sig));
        assert!(!digest_matches(b"key", "process-2", &sig));
        assert!(!digest_matches(b"key", "process-1", "nothex"));
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        const NOW: i64 = 1_800_000_000;

        /// Headers as a provider, a bot or a broken proxy may send them.
        fn header_like() -> impl Strategy<Value = String> {
            prop_oneof![
                any::<String>(),
                (
                    prop_oneof![any::<i64>(), Just(i64::MIN), Just(i64::MAX)],
                    "([0-9a-fA-F]{2}){0,33}|[0-9a-fz]{0,5}",
                )
                    .prop_map(|(t, sig)| format!("t={t},v1={sig}")),
                "(( ?[tv1x]{1,2}=[-+]?[0-9a-fé]{0,12}) ?,?){0,4}",
            ]
        }

        /// A signed request: secret, time (within the tolerance) and body.
        fn signed() -> impl Strategy<Value = (String, i64, Vec<u8>)> {
            (
                ".{1,40}",
                NOW - TOLERANCE_SECONDS..=NOW + TOLERANCE_SECONDS,
                prop::collection::vec(any::<u8>(), 0..200),
            )
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            #[test]
            fn verifying_any_header_never_panics(
                header in header_like(),
                body in prop::collection::vec(any::<u8>(), 0..50),
                now in prop_oneof![Just(NOW), any::<i64>()],
            ) {
                let _ = verify("secret", &header, &body, now);
                let _ = digest_matches(b"key", "text", &header);
            }

            #[test]
            fn a_correctly_signed_header_verifies((secret, t, body) in signed()) {
                let header = sign(&secret, t, &body);
                prop_assert_eq!(verify(&secret, &header, &body, NOW), Ok(()));
            }

            #[test]
            fn a_changed_body_does_not_verify(
                (secret, t, mut body) in signed(),
                at in any::<prop::sample::Index>(),
                bit in 0u8..8,
            ) {
                let header = sign(&secret, t, &body);
                if body.is_empty() {
                    body.push(0);
                } else {
                    let i = at.index(body.len());
                    body[i] ^= 1 << bit;
                }
                prop_assert_eq!(verify(&secret, &header, &body, NOW), Err(SignatureError::Mismatch));
            }

            #[test]
            fn a_changed_time_does_not_verify((secret, t, body) in signed(), delta in -1000i64..1000) {
                prop_assume!(delta != 0);
                let signature = sign(&secret, t, &body);
                let forged = signature.replacen(&format!("t={t}"), &format!("t={}", t + delta), 1);
                prop_assert_ne!(verify(&secret, &forged, &body, NOW), Ok(()));
            }

            #[test]
            fn a_changed_signature_digit_does_not_verify(
                (secret, t, body) in signed(),
                at in any::<prop::sample::Index>(),
                other in 1u32..16,
            ) {
                let header = sign(&secret, t, &body);
                let (prefix, sig) = header.split_once(",v1=").unwrap();
                let mut digits: Vec<char> = sig.chars().collect();
                let i = at.index(digits.len());
                let value = digits[i].to_digit(16).unwrap();
                digits[i] = char::from_digit((value + other) % 16, 16).unwrap();
                let forged = format!("{prefix},v1={}", digits.into_iter().collect::<String>());
                prop_assert_eq!(verify(&secret, &forged, &body, NOW), Err(SignatureError::Mismatch));
            }

            #[test]
            // Not a suffix of only NUL bytes: HMAC pads short keys with
            // zeros, so "k" and "k\0" are the same key.
            fn another_secret_does_not_verify((secret, t, body) in signed(), suffix in "[^\x00].{0,4}") {
                let header = sign(&secret, t, &body);
                let other = format!("{secret}{suffix}");
                prop_assert_eq!(verify(&other, &header, &body, NOW), Err(SignatureError::Mismatch));
            }

            #[test]
            fn signed_links_match_only_their_text(key in prop::collection::vec(any::<u8>(), 1..64), text in ".{0,40}", other in ".{0,40}") {
                let signature = digest(&key, &text);
                prop_assert!(digest_matches(&key, &text, &signature));
                prop_assert_eq!(digest_matches(&key, &other, &signature), other == text);
            }
        }
    }
}
