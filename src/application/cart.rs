//! Adding to and changing the cart.

use super::Shop;
use crate::domain::catalogue::Quantity;
use crate::error::AppResult;
use crate::store::carts::LineChange;

/// The result of a cart action, for the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CartAction {
    /// The cart the shopper has now (a new one when theirs was ordered).
    pub cart_id: String,
    /// `Err` holds a message for the shopper.
    pub outcome: Result<(), String>,
}

/// An open cart for the shopper: theirs, or a new one.
async fn usable_cart(
    shop: &Shop,
    cart_id: Option<&str>,
    user_id: Option<&str>,
) -> AppResult<String> {
    if let Some(id) = cart_id
        && let Some(cart) = shop.store.cart(id).await?
        && cart.status != crate::domain::cart::CartStatus::Ordered
    {
        return Ok(cart.id);
    }
    Ok(shop.store.create_cart(user_id).await?)
}

pub async fn add(
    shop: &Shop,
    cart_id: Option<&str>,
    user_id: Option<&str>,
    product_id: &str,
    quantity: &str,
) -> AppResult<CartAction> {
    let cart_id = usable_cart(shop, cart_id, user_id).await?;
    let outcome = match Quantity::parse(quantity) {
        Err(message) => Err(message),
        Ok(q) => apply(shop, &cart_id, product_id, q.get(), true).await?,
    };
    Ok(CartAction { cart_id, outcome })
}

/// Sets a line's quantity; 0 removes it.
pub async fn set_quantity(
    shop: &Shop,
    cart_id: &str,
    product_id: &str,
    quantity: &str,
) -> AppResult<Result<(), String>> {
    let quantity = match quantity.trim() {
        "0" => 0,
        raw => match Quantity::parse(raw) {
            Ok(q) => q.get(),
            Err(message) => return Ok(Err(message)),
        },
    };
    apply(shop, cart_id, product_id, quantity, false).await
}

async fn apply(
    shop: &Shop,
    cart_id: &str,
    product_id: &str,
    quantity: i64,
    add: bool,
) -> AppResult<Result<(), String>> {
    Ok(
        match shop
            .store
            .change_line(cart_id, product_id, quantity, add)
            .await?
        {
            LineChange::Done => Ok(()),
            LineChange::Refused(message) => Err(message),
            LineChange::CartFrozen => Err(
                "Your cart is being paid and cannot change now. Cancel the payment to change it."
                    .into(),
            ),
            LineChange::CartClosed => {
                Err("This cart has already been ordered. Please start a new one.".into())
            }
        },
    )
}
