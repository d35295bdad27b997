//! What a readiness probe asks of the shop.

use super::Shop;
use crate::error::AppResult;

/// The database answers.
pub async fn database_answers(shop: &Shop) -> AppResult<()> {
    Ok(shop.store.ping().await?)
}
