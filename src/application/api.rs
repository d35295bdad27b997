//! The API for integrators (`/api/v1`): their keys, and the connectivity
//! check. A key is shown once when made and stored as its SHA-256; a
//! revoked key opens nothing.

use super::idempotency::{self, Answer, ApiRequest, Idempotent};
use super::{Shop, sha256_hex};
use crate::application::error::AppResult;
use crate::domain::staff::{API_KEY_PREFIX, api_key_name};
use crate::ids::random_token;
use crate::store::Store;

/// The holder of a live API key, as an API request sees them.
#[derive(Debug, Clone)]
pub struct KeyHolder {
    pub key_id: String,
    pub name: String,
}

/// A key as `kassa admin list-keys` shows it.
#[derive(Debug, Clone)]
pub struct KeyListing {
    pub name: String,
    pub created: String,
    pub revoked: Option<String>,
}

/// The holder of `key`, if it is a live key.
pub async fn authenticate(shop: &Shop, key: &str) -> AppResult<Option<KeyHolder>> {
    let found = shop.store.live_api_key(&sha256_hex(key.as_bytes())).await?;
    Ok(found.map(|k| KeyHolder {
        key_id: k.id,
        name: k.name,
    }))
}

/// Makes a key named `name` and returns it: the only time it is seen.
/// `Err` with a message for the operator when the name is refused or a
/// live key has it.
pub async fn create_key(store: &Store, name: &str) -> AppResult<Result<String, String>> {
    let name = match api_key_name(name) {
        Ok(name) => name,
        Err(problem) => return Ok(Err(problem)),
    };
    let key = format!("{API_KEY_PREFIX}{}", random_token());
    Ok(
        match store
            .create_api_key(&name, &sha256_hex(key.as_bytes()))
            .await?
        {
            Some(_) => Ok(key),
            None => Err(format!(
                "a live key named {name} exists: revoke it first, or choose another name"
            )),
        },
    )
}

/// Revokes the live key named `name`; `false` when there is none.
pub async fn revoke_key(store: &Store, name: &str) -> AppResult<bool> {
    Ok(store.revoke_api_key(name.trim()).await?)
}

pub async fn list_keys(store: &Store) -> AppResult<Vec<KeyListing>> {
    let when = |at: time::PrimitiveDateTime| {
        format!("{} {} UTC", at.date(), at.time().truncate_to_second())
    };
    Ok(store
        .list_api_keys()
        .await?
        .into_iter()
        .map(|k| KeyListing {
            name: k.name,
            created: when(k.created_at),
            revoked: k.revoked_at.map(when),
        })
        .collect())
}

/// `POST /api/v1/echo`, the connectivity check: the JSON sent, the key's
/// name and a fresh id, once per idempotency key (a repeat gets the same
/// id back).
pub async fn echo(shop: &Shop, caller_name: &str, request: &ApiRequest) -> AppResult<Idempotent> {
    idempotency::once(shop, request, async || {
        let received: serde_json::Value = match serde_json::from_slice(&request.body) {
            Ok(json) => json,
            Err(e) => return Ok(Answer::error(400, format!("the body is not JSON: {e}"))),
        };
        Ok(Answer::ok(serde_json::json!({
            "caller": caller_name,
            "received": received,
            "echo_id": crate::ids::new_id(),
        })))
    })
    .await
}
