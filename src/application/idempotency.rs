//! Idempotent API POSTs. A use case wraps its work in [`once`]: the first
//! request with an `Idempotency-Key` runs it and stores the answer; a
//! repeat of the same request (same caller, key, method, path and body)
//! gets that answer again, byte for byte, without running anything. The
//! key is claimed by inserting an in-progress record before the work runs,
//! so of several requests racing on any nodes only one runs it.
//!
//! Work that fails with an error (not an answer such as a 4xx) lets go of
//! the key, so a retry runs it again: such work must leave nothing behind
//! when it fails (one transaction). Answers are kept for a day.

use super::{Shop, sha256_hex};
use crate::application::error::{AppError, AppResult};
use crate::domain::idempotency::{ABANDONED_AFTER, KEPT_FOR, Repeat, repeat_of};
use crate::store::idempotency::Claim;

/// An API POST as it came in.
#[derive(Debug, Clone)]
pub struct ApiRequest {
    /// The API key that sent it.
    pub caller_key_id: String,
    /// Its `Idempotency-Key` header (checked by
    /// `domain::idempotency::parse_idempotency_key`).
    pub idempotency_key: String,
    pub method: String,
    /// Path and query.
    pub path: String,
    pub body: Vec<u8>,
}

impl ApiRequest {
    /// What makes two requests the same: method, path and body.
    pub fn fingerprint(&self) -> String {
        let mut bytes = Vec::with_capacity(self.body.len() + self.path.len() + 16);
        bytes.extend_from_slice(self.method.as_bytes());
        bytes.push(0);
        bytes.extend_from_slice(self.path.as_bytes());
        bytes.push(0);
        bytes.extend_from_slice(&self.body);
        sha256_hex(&bytes)
    }
}

/// What the work answers: a status and a JSON body.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: serde_json::Value,
}

impl Answer {
    pub fn ok(body: serde_json::Value) -> Self {
        Self { status: 200, body }
    }

    /// `{"error": message}` with `status`.
    pub fn error(status: u16, message: impl Into<String>) -> Self {
        Self {
            status,
            body: serde_json::json!({ "error": message.into() }),
        }
    }
}

/// An answer as sent and stored: the JSON text, so a repeat gets the
/// same bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAnswer {
    pub status: u16,
    pub json: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Idempotent {
    /// The work ran for this request.
    Ran(StoredAnswer),
    /// A repeat: the first request's answer.
    Replayed(StoredAnswer),
    /// The key was used before for another request (422).
    KeyReused,
    /// The first request with this key is still running (409: retry).
    InProgress,
}

/// Runs `work` once per caller and idempotency key; see the module.
pub async fn once<F>(shop: &Shop, request: &ApiRequest, work: F) -> AppResult<Idempotent>
where
    F: AsyncFnOnce() -> AppResult<Answer>,
{
    let fingerprint = request.fingerprint();
    let (caller, key) = (&request.caller_key_id, &request.idempotency_key);
    let claim = shop
        .store
        .claim_idempotency_key(caller, key, &fingerprint, KEPT_FOR, ABANDONED_AFTER)
        .await?;
    if let Claim::Seen(stored) = claim {
        return Ok(
            match repeat_of(stored.state, &stored.fingerprint, &fingerprint) {
                Repeat::OtherRequest => Idempotent::KeyReused,
                Repeat::StillRunning => Idempotent::InProgress,
                Repeat::Replay => Idempotent::Replayed(StoredAnswer {
                    status: stored
                        .status
                        .and_then(|s| u16::try_from(s).ok())
                        .unwrap_or(500),
                    json: stored.body.unwrap_or_default(),
                }),
            },
        );
    }
    let answer = match work().await {
        Ok(answer) => answer,
        Err(e) => {
            if let Err(release) = shop.store.release_idempotency_key(caller, key).await {
                tracing::warn!(error = %release, "an idempotency key of failed work stays claimed");
            }
            return Err(e);
        }
    };
    let stored = StoredAnswer {
        status: answer.status,
        json: serde_json::to_string(&answer.body)
            .map_err(|e| AppError::Internal(anyhow::anyhow!("answer to JSON: {e}")))?,
    };
    // The work is done: a failure to store its answer is logged, not
    // reported, or the caller would retry work that happened. The claim
    // then stays in progress until it counts as abandoned.
    if let Err(e) = shop
        .store
        .finish_idempotency_key(caller, key, i64::from(stored.status), &stored.json)
        .await
    {
        tracing::error!(error = %e, "the answer to an idempotent request was not stored");
    }
    Ok(Idempotent::Ran(stored))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(path: &str, body: &str) -> ApiRequest {
        ApiRequest {
            caller_key_id: "k".into(),
            idempotency_key: "i".into(),
            method: "POST".into(),
            path: path.into(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn the_fingerprint_tells_method_path_and_body_apart() {
        let a = request("/api/v1/echo", "{}");
        assert_eq!(a.fingerprint(), request("/api/v1/echo", "{}").fingerprint());
        assert_ne!(
            a.fingerprint(),
            request("/api/v1/echo", "{ }").fingerprint()
        );
        assert_ne!(
            a.fingerprint(),
            request("/api/v1/echo2", "{}").fingerprint()
        );
        // The separator keeps path and body apart.
        assert_ne!(
            request("/a", "b").fingerprint(),
            request("/ab", "").fingerprint()
        );
    }
}
