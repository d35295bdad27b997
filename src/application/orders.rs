//! Reading placed orders for their owners.

use super::{Shop, secrets_match};
use crate::domain::order::Order;
use crate::error::AppResult;

/// The order behind a confirmation link, if the token is its secret.
pub async fn for_confirmation(shop: &Shop, number: &str, token: &str) -> AppResult<Option<Order>> {
    let order = shop.store.order_by_number(number).await?;
    Ok(order.filter(|o| secrets_match(&o.token, token)))
}
