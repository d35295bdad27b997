//! The buyer's registration with the external customer system: created
//! pending when the checkout form is sent (a cart validator), confirmed or
//! deleted later through the outbox.

use super::Shop;
use crate::application::error::AppResult;
use crate::registration::RegistrationError;
use crate::store::registrations::RegistrationStatus;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistrationProblem {
    /// The API refused the address, with a reason for the shopper.
    Refused(String),
    /// The API did not answer in time.
    Unavailable,
}

pub const UNAVAILABLE_MESSAGE: &str = "We could not check your registration, please try again.";

/// Makes sure the cart's buyer has a live registration for `email`, and
/// tells its id (none when no registration API is configured). A resubmit
/// with the same email calls nobody; another email replaces it.
pub async fn ensure(
    shop: &Shop,
    cart_id: &str,
    email: &str,
) -> AppResult<Result<Option<String>, RegistrationProblem>> {
    let Some(api) = &shop.registration else {
        return Ok(Ok(None));
    };
    let existing = shop.store.registration_of_cart(cart_id).await?;
    if let Some(r) = &existing
        && r.email == email
        && matches!(
            r.status,
            RegistrationStatus::Pending | RegistrationStatus::Confirmed
        )
    {
        return Ok(Ok(existing.map(|r| r.registration_id)));
    }
    let generation = existing.map(|r| r.generation + 1).unwrap_or(1);
    // One key per cart and generation: a retry of this very call gives
    // the same registration.
    let key = format!("{cart_id}:{generation}");
    match api.create(email, cart_id, &key).await {
        Ok(id) => {
            crate::crash::point("registration.created");
            shop.store
                .save_registration(cart_id, email, &id, generation)
                .await?;
            Ok(Ok(Some(id)))
        }
        Err(RegistrationError::Refused(reason)) => Ok(Err(RegistrationProblem::Refused(reason))),
        Err(e) => {
            tracing::warn!(error = %e, "registration API unavailable");
            Ok(Err(RegistrationProblem::Unavailable))
        }
    }
}
