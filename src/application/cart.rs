//! The shopper's cart: finding it, adding to and changing it, and what
//! becomes of it on login.

use super::Shop;
use crate::application::error::AppResult;
use crate::domain::cart::{Cart, CartOwner, CartRefusal, CartStatus, LineRequest};
use crate::domain::catalogue::Quantity;
use crate::store::carts::LineChange;

/// What a session says about its shopper's cart: the cart it remembers and
/// who is asking.
#[derive(Debug, Clone, Default)]
pub struct CartClaim {
    pub cart_id: Option<String>,
    pub owner: Option<CartOwner>,
}

/// The result of a cart action, for the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CartAction {
    /// The cart the shopper has now (a new one when theirs was ordered).
    pub cart_id: String,
    /// `Err` says why nothing changed.
    pub outcome: Result<(), CartRefusal>,
}

/// The shopper's cart, in whatever state, when the session names a cart
/// this shopper owns. Every page finds the shopper's cart through here: a
/// cart id from a session alone reaches nothing.
pub async fn shoppers_cart(shop: &Shop, claim: &CartClaim) -> AppResult<Option<Cart>> {
    let (Some(id), Some(owner)) = (&claim.cart_id, &claim.owner) else {
        return Ok(None);
    };
    Ok(shop.store.cart_of(id, owner).await?)
}

/// Items in the shopper's open cart, for the page header.
pub async fn item_count(shop: &Shop, claim: &CartClaim) -> AppResult<i64> {
    Ok(shoppers_cart(shop, claim)
        .await?
        .filter(Cart::is_open)
        .map_or(0, |cart| cart.item_count()))
}

/// The cart a shopper has after logging in: the guest session's open
/// cart merged into the account's, else the account's last open cart.
pub async fn after_login(
    shop: &Shop,
    before: &CartClaim,
    user_id: &str,
) -> AppResult<Option<String>> {
    if let (Some(cart_id), Some(CartOwner::Guest(token))) = (&before.cart_id, &before.owner)
        && let Some(cart_id) = shop.store.merge_guest_cart(cart_id, token, user_id).await?
    {
        return Ok(Some(cart_id));
    }
    Ok(shop.store.open_cart_of_user(user_id).await?)
}

/// The shopper's cart if they may still add to it (not ordered).
async fn usable_cart(
    shop: &Shop,
    cart_id: Option<&str>,
    owner: &CartOwner,
) -> AppResult<Option<String>> {
    let claim = CartClaim {
        cart_id: cart_id.map(str::to_owned),
        owner: Some(owner.clone()),
    };
    Ok(shoppers_cart(shop, &claim)
        .await?
        .filter(|cart| cart.status != CartStatus::Ordered)
        .map(|cart| cart.id))
}

/// Adds to the shopper's cart; a shopper without one gets a new cart, made
/// in the same commit as its first line.
pub async fn add(
    shop: &Shop,
    cart_id: Option<&str>,
    owner: &CartOwner,
    product_id: &str,
    quantity: &str,
) -> AppResult<CartAction> {
    let usable = usable_cart(shop, cart_id, owner).await?;
    let (cart_id, outcome) = match (Quantity::parse(quantity), usable) {
        (Err(error), Some(cart_id)) => (cart_id, Err(error.into())),
        (Err(error), None) => (shop.store.create_cart(owner).await?, Err(error.into())),
        (Ok(q), Some(cart_id)) => {
            let outcome = apply(shop, &cart_id, product_id, LineRequest::Add(q)).await?;
            (cart_id, outcome)
        }
        (Ok(q), None) => {
            let (cart_id, change) = shop
                .store
                .create_cart_with_line(owner, product_id, LineRequest::Add(q))
                .await?;
            (cart_id, refusal_of(change))
        }
    };
    Ok(CartAction { cart_id, outcome })
}

/// Changes a line of the shopper's cart as its quantity field says.
pub async fn set_quantity(
    shop: &Shop,
    claim: &CartClaim,
    product_id: &str,
    quantity: &str,
) -> AppResult<Result<(), CartRefusal>> {
    match LineRequest::from_quantity_field(quantity) {
        Ok(request) => change(shop, claim, product_id, request).await,
        Err(error) => Ok(Err(error.into())),
    }
}

/// Takes a line out of the shopper's cart.
pub async fn remove(
    shop: &Shop,
    claim: &CartClaim,
    product_id: &str,
) -> AppResult<Result<(), CartRefusal>> {
    change(shop, claim, product_id, LineRequest::Remove).await
}

async fn change(
    shop: &Shop,
    claim: &CartClaim,
    product_id: &str,
    request: LineRequest,
) -> AppResult<Result<(), CartRefusal>> {
    let Some(cart) = shoppers_cart(shop, claim).await? else {
        return Ok(Err(CartRefusal::NoCart));
    };
    apply(shop, &cart.id, product_id, request).await
}

async fn apply(
    shop: &Shop,
    cart_id: &str,
    product_id: &str,
    request: LineRequest,
) -> AppResult<Result<(), CartRefusal>> {
    Ok(refusal_of(
        shop.store.change_line(cart_id, product_id, request).await?,
    ))
}

fn refusal_of(change: LineChange) -> Result<(), CartRefusal> {
    match change {
        LineChange::Done => Ok(()),
        LineChange::Refused(refusal) => Err(refusal.into()),
    }
}
