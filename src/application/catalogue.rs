//! What the shop shows for sale.

use super::Shop;
use crate::application::error::AppResult;
use crate::domain::catalogue::Product;

/// The catalogue page: the active products, in the shop's order.
pub async fn products(shop: &Shop) -> AppResult<Vec<Product>> {
    Ok(shop.store.list_products().await?)
}

/// A product page: a product is shown while it is active, as in the
/// catalogue; a deactivated one is not found.
pub async fn product(shop: &Shop, id: &str) -> AppResult<Option<Product>> {
    Ok(shop.store.product(id).await?.filter(|p| p.active))
}
