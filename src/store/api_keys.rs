//! The API keys of integrators, by the SHA-256 of the key.

use super::prepared::Prepare;
use super::rows::ApiKeyRow;
use super::schema::api_keys;
use super::{Store, StoreResult, is_unique_violation, now, read, with_conn};
use crate::ids::new_id;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use time::PrimitiveDateTime;

/// A key that opens the API.
#[derive(Debug, Clone)]
pub struct LiveApiKey {
    pub id: String,
    pub name: String,
}

/// A key as listed: live or revoked.
#[derive(Debug, Clone)]
pub struct ApiKeyListing {
    pub name: String,
    pub created_at: PrimitiveDateTime,
    pub revoked_at: Option<PrimitiveDateTime>,
}

impl Store {
    /// Stores a new key; `None` when a live key has this name.
    pub async fn create_api_key(&self, name: &str, key_hash: &str) -> StoreResult<Option<String>> {
        let row = ApiKeyRow {
            id: new_id(),
            name: name.to_owned(),
            key_hash: key_hash.to_owned(),
            created_at: now(),
            revoked_at: None,
        };
        let inserted = with_conn!(self, |c| {
            diesel::insert_into(api_keys::table)
                .values(&row)
                .execute(c)
                .await
        });
        match inserted {
            Ok(_) => Ok(Some(row.id)),
            Err(e) if is_unique_violation(&e) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The live key with this hash.
    pub async fn live_api_key(&self, key_hash: &str) -> StoreResult<Option<LiveApiKey>> {
        let row: Option<ApiKeyRow> = read!(self, |c| {
            api_keys::table
                .filter(api_keys::key_hash.eq(key_hash))
                .filter(api_keys::revoked_at.is_null())
                .select(ApiKeyRow::as_select())
                .first(c)
                .await
                .optional()
        })?;
        Ok(row.map(|r| LiveApiKey {
            id: r.id,
            name: r.name,
        }))
    }

    /// Revokes the live key with this name; `false` when there is none.
    pub async fn revoke_api_key(&self, name: &str) -> StoreResult<bool> {
        let at = now();
        let revoked = with_conn!(self, |c| {
            diesel::update(
                api_keys::table
                    .filter(api_keys::name.eq(name))
                    .filter(api_keys::revoked_at.is_null()),
            )
            .set(api_keys::revoked_at.eq(Some(at)))
            .prepared()
            .execute(c)
            .await
        })?;
        Ok(revoked > 0)
    }

    /// Every key ever made, oldest first.
    pub async fn list_api_keys(&self) -> StoreResult<Vec<ApiKeyListing>> {
        let rows: Vec<ApiKeyRow> = read!(self, |c| {
            api_keys::table
                .order((api_keys::created_at.asc(), api_keys::name.asc()))
                .select(ApiKeyRow::as_select())
                .load(c)
                .await
        })?;
        Ok(rows
            .into_iter()
            .map(|r| ApiKeyListing {
                name: r.name,
                created_at: r.created_at,
                revoked_at: r.revoked_at,
            })
            .collect())
    }
}
