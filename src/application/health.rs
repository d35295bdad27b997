//! What a readiness probe asks of the shop.

use super::Shop;
use crate::application::error::AppResult;

/// The database answers.
pub async fn database_answers(shop: &Shop) -> AppResult<()> {
    Ok(shop.store.ping().await?)
}

/// Commits the store made since start: (durable, light).
pub fn commits(shop: &Shop) -> (u64, u64) {
    shop.store.commits().get()
}

/// Waits for a database connection since start, (count, seconds), for
/// reading and for writing.
pub fn connection_waits(shop: &Shop) -> ((u64, f64), (u64, f64)) {
    shop.store.commits().waits()
}

/// The shop-wide figures for `/metrics`, counted in the database now.
pub async fn figures(shop: &Shop) -> AppResult<crate::store::figures::ShopFigures> {
    let stalled_after = std::time::Duration::from_millis(shop.settings.placeorder.stalled_after_ms);
    Ok(shop.store.figures(stalled_after).await?)
}
