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
    if (now - timestamp).abs() > TOLERANCE_SECONDS {
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
}
