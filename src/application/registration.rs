//! The buyer's registration with the external customer system: created
//! pending when the checkout form is sent (a cart validator), confirmed or
//! deleted later through the outbox.

use super::Shop;
use crate::application::error::AppResult;
use crate::registration::RegistrationError;
use crate::store::registrations::{NewRegistration, RegistrationStatus};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistrationProblem {
    /// The API refused the address, with a reason for the shopper.
    Refused(String),
    /// The API did not answer in time.
    Unavailable,
}

pub const UNAVAILABLE_MESSAGE: &str = "We could not check your registration, please try again.";

/// What the check of the buyer's registration found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checked {
    /// No registration API is configured.
    NoApi,
    /// The cart's live registration, already recorded.
    Recorded(String),
    /// A registration the API made just now, not yet recorded: the caller
    /// records it with its next change (`Store::save_checkout`).
    New(NewRegistration),
}

impl Checked {
    /// The registration's id at the API.
    pub fn id(&self) -> Option<&str> {
        match self {
            Self::NoApi => None,
            Self::Recorded(id) => Some(id),
            Self::New(new) => Some(&new.registration_id),
        }
    }

    /// The registration still to be recorded, if any.
    pub fn unrecorded(&self) -> Option<&NewRegistration> {
        match self {
            Self::New(new) => Some(new),
            _ => None,
        }
    }
}

/// Makes sure the cart's buyer has a live registration for `email`, and
/// records it. See [`check`].
pub async fn ensure(
    shop: &Shop,
    cart_id: &str,
    email: &str,
) -> AppResult<Result<Option<String>, RegistrationProblem>> {
    let checked = match check(shop, cart_id, email).await? {
        Ok(checked) => checked,
        Err(problem) => return Ok(Err(problem)),
    };
    if let Some(new) = checked.unrecorded() {
        shop.store.save_registration(new).await?;
    }
    Ok(Ok(checked.id().map(str::to_owned)))
}

/// Makes sure the cart's buyer has a live registration for `email`, and
/// tells its id. A resubmit with the same email calls nobody; another
/// email replaces it. A registration made now is left for the caller to
/// record: one the API made and a crash kept from being recorded is made
/// again under the same key, as it would be after a crash between the
/// call and a record of its own.
pub async fn check(
    shop: &Shop,
    cart_id: &str,
    email: &str,
) -> AppResult<Result<Checked, RegistrationProblem>> {
    let Some(api) = &shop.registration else {
        return Ok(Ok(Checked::NoApi));
    };
    let existing = shop.store.registration_of_cart(cart_id).await?;
    if let Some(r) = &existing
        && r.email == email
        && matches!(
            r.status,
            RegistrationStatus::Pending | RegistrationStatus::Confirmed
        )
    {
        return Ok(Ok(Checked::Recorded(r.registration_id.clone())));
    }
    let generation = existing.map(|r| r.generation + 1).unwrap_or(1);
    // One key per cart and generation: a retry of this very call gives
    // the same registration.
    let key = format!("{cart_id}:{generation}");
    match api.create(email, cart_id, &key).await {
        Ok(id) => {
            crate::crash::point("registration.created");
            Ok(Ok(Checked::New(NewRegistration {
                cart_id: cart_id.to_owned(),
                email: email.to_owned(),
                registration_id: id,
                generation,
            })))
        }
        Err(RegistrationError::Refused(reason)) => Ok(Err(RegistrationProblem::Refused(reason))),
        Err(e) => {
            tracing::warn!(error = %e, "registration API unavailable");
            Ok(Err(RegistrationProblem::Unavailable))
        }
    }
}
