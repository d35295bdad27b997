//! Where session state lives: in the signed and encrypted cookie (one node),
//! or in Redis (any number of nodes). One type for both keeps one `App` type.

use actix_session::storage::{
    CookieSessionStore, LoadError, RedisSessionStore, SaveError, SessionKey, SessionStore,
    UpdateError,
};
use actix_web::cookie::time::Duration;
use std::collections::HashMap;

type SessionState = HashMap<String, String>;

#[derive(Clone)]
pub enum SessionBackend {
    Cookie,
    Redis(RedisSessionStore),
}

impl SessionStore for SessionBackend {
    async fn load(&self, key: &SessionKey) -> Result<Option<SessionState>, LoadError> {
        match self {
            Self::Cookie => CookieSessionStore::default().load(key).await,
            Self::Redis(store) => store.load(key).await,
        }
    }

    async fn save(&self, state: SessionState, ttl: &Duration) -> Result<SessionKey, SaveError> {
        match self {
            Self::Cookie => CookieSessionStore::default().save(state, ttl).await,
            Self::Redis(store) => store.save(state, ttl).await,
        }
    }

    async fn update(
        &self,
        key: SessionKey,
        state: SessionState,
        ttl: &Duration,
    ) -> Result<SessionKey, UpdateError> {
        match self {
            Self::Cookie => CookieSessionStore::default().update(key, state, ttl).await,
            Self::Redis(store) => store.update(key, state, ttl).await,
        }
    }

    async fn update_ttl(&self, key: &SessionKey, ttl: &Duration) -> Result<(), anyhow::Error> {
        match self {
            Self::Cookie => CookieSessionStore::default().update_ttl(key, ttl).await,
            Self::Redis(store) => store.update_ttl(key, ttl).await,
        }
    }

    async fn delete(&self, key: &SessionKey) -> Result<(), anyhow::Error> {
        match self {
            Self::Cookie => CookieSessionStore::default().delete(key).await,
            Self::Redis(store) => store.delete(key).await,
        }
    }
}
