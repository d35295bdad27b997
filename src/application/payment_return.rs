//! The shopper back from the provider. The return link names its process
//! and is signed with the shop's link key, separately for "return" and
//! "cancel", so a link reaches only its own process and a return link
//! cannot be turned into a cancel link. No session is needed.

use super::Shop;
use super::placeorder::{self, ProcessStatus};
use crate::application::error::AppResult;
use crate::domain::order::OrderRef;
use crate::payment::hosted::return_link_text;
use crate::payment::signature;

/// Where a return leaves the shopper.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Returned {
    /// Not a link the shop signed.
    NotSigned,
    /// The order is placed. `cart_id` is the cart it was placed for, when
    /// it could be read.
    Placed {
        order: OrderRef,
        cart_id: Option<String>,
    },
    /// Anything else: the payment step shows where it stands.
    NotPlaced,
}

/// Moves the process on (or cancels it, for the provider's cancel link) as
/// far as it goes now. An error: the process could not be moved yet.
pub async fn shopper_returned(
    shop: &Shop,
    process_id: &str,
    sig: &str,
    cancelled: bool,
) -> AppResult<Returned> {
    let text = return_link_text(process_id, cancelled);
    if !signature::digest_matches(&shop.link_key, &text, sig) {
        return Ok(Returned::NotSigned);
    }
    let status = if cancelled {
        placeorder::cancel(shop, process_id).await?
    } else {
        placeorder::refresh(shop, process_id).await?
    };
    Ok(match status {
        ProcessStatus::Succeeded(order) => Returned::Placed {
            order: order.into(),
            // Only for the session's sake: the confirmation needs no cart.
            cart_id: match shop.store.process(process_id).await {
                Ok(process) => process.map(|p| p.cart_id),
                Err(_) => None,
            },
        },
        _ => Returned::NotPlaced,
    })
}
