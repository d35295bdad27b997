//! Reading placed orders for their owners.

use super::{Shop, secrets_match};
use crate::application::error::{AppError, AppResult};
use crate::domain::order::Order;
use crate::domain::payment::PaymentInstructions;

/// The order behind a confirmation link, if the token is its secret.
pub async fn for_confirmation(shop: &Shop, number: &str, token: &str) -> AppResult<Option<Order>> {
    let order = shop.store.order_by_number(number).await?;
    Ok(order.filter(|o| secrets_match(&o.token, token)))
}

/// The path of an order's own page (its confirmation link): the token is
/// the order's secret, so the link works without logging in.
pub fn confirmation_path(number: &str, token: &str) -> String {
    format!("/checkout/success?order={number}&token={token}")
}

/// What the confirmation page shows.
#[derive(Debug, Clone)]
pub struct Confirmation {
    pub order: Order,
    /// How the buyer still has to pay, as the order's gateway says.
    pub instructions: Option<PaymentInstructions>,
}

/// The confirmation behind a link; not found unless the token is the
/// order's secret.
pub async fn confirmation(shop: &Shop, number: &str, token: &str) -> AppResult<Confirmation> {
    let order = for_confirmation(shop, number, token)
        .await?
        .ok_or(AppError::NotFound)?;
    let instructions = order
        .payment
        .as_ref()
        .and_then(|p| shop.gateways.get(&p.gateway))
        .and_then(|gateway| gateway.instructions(&order));
    Ok(Confirmation {
        order,
        instructions,
    })
}
