//! What a readiness probe asks of the shop.

use super::Shop;
use crate::application::error::AppResult;

/// The database answers.
pub async fn database_answers(shop: &Shop) -> AppResult<()> {
    Ok(shop.store.ping().await?)
}
