//! The buyers' registrations with the external customer system.

use super::outbox::event;
use super::prepared::Prepare;
use super::schema::{orders, outbox, registrations};
use super::{Store, StoreError, StoreResult, light_tx, now, read};
use crate::domain::events::{EventKind, EventPayload};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistrationStatus {
    Pending,
    Confirmed,
    /// Left behind; its deletion is queued.
    Abandoned,
    Deleted,
}

crate::domain::stored_names!(RegistrationStatus {
    Pending => "pending",
    Confirmed => "confirmed",
    Abandoned => "abandoned",
    Deleted => "deleted",
});

/// A registration the API has just made for a cart, to be recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRegistration {
    pub cart_id: String,
    pub email: String,
    pub registration_id: String,
    pub generation: i64,
}

/// Inside a write transaction: records `$new` as the cart's pending
/// registration. One it replaces that is still pending gets its deletion
/// queued in the same transaction.
macro_rules! record_registration {
    ($c:ident, $new:expr, $at:expr) => {{
        use $crate::store::schema::{outbox, registrations};
        let new: &$crate::store::registrations::NewRegistration = $new;
        let at: time::PrimitiveDateTime = $at;
        let old: Option<(String, String)> = registrations::table
            .find(&new.cart_id)
            .select((registrations::registration_id, registrations::status))
            .first($c)
            .await
            .optional()?;
        if let Some((old_id, status)) = old {
            if old_id != new.registration_id
                && status == $crate::store::registrations::RegistrationStatus::Pending.as_str()
            {
                let payload = $crate::domain::events::EventPayload {
                    registration_id: Some(old_id),
                    ..Default::default()
                };
                diesel::insert_into(outbox::table)
                    .values($crate::store::outbox::event(
                        $crate::domain::events::EventKind::RegistrationAbandoned,
                        &new.cart_id,
                        &payload,
                    )?)
                    .execute($c)
                    .await?;
            }
            diesel::delete(registrations::table.find(&new.cart_id))
                .execute($c)
                .await?;
        }
        diesel::insert_into(registrations::table)
            .values((
                registrations::cart_id.eq(&new.cart_id),
                registrations::email.eq(&new.email),
                registrations::registration_id.eq(&new.registration_id),
                registrations::status
                    .eq($crate::store::registrations::RegistrationStatus::Pending.as_str()),
                registrations::generation.eq(new.generation),
                registrations::created_at.eq(at),
                registrations::updated_at.eq(at),
            ))
            .execute($c)
            .await?;
    }};
}
pub(crate) use record_registration;

#[derive(Debug, Clone)]
pub struct CartRegistration {
    pub email: String,
    pub registration_id: String,
    pub status: RegistrationStatus,
    pub generation: i64,
}

/// Sets the status of the registration `$id` (its id at the API).
/// Recorded with the outbox event's "done" that carried it there
/// (`Store::outbox_done`).
macro_rules! mark_registration_status {
    ($c:expr, $id:expr, $status:expr) => {{
        use $crate::store::prepared::Prepare as _;
        use $crate::store::schema::registrations;
        let status: $crate::store::registrations::RegistrationStatus = $status;
        struct RegistrationStatusSet;
        diesel::update(registrations::table.filter(registrations::registration_id.eq($id)))
            .set((
                registrations::status.eq(status.as_str()),
                registrations::updated_at.eq($crate::store::now()),
            ))
            .prepared_as::<RegistrationStatusSet>()
            .execute($c)
            .await
    }};
}
pub(crate) use mark_registration_status;

impl Store {
    pub async fn registration_of_cart(
        &self,
        cart_id: &str,
    ) -> StoreResult<Option<CartRegistration>> {
        let row: Option<(String, String, String, i64)> = read!(self, |c| {
            registrations::table
                .find(cart_id)
                .select((
                    registrations::email,
                    registrations::registration_id,
                    registrations::status,
                    registrations::generation,
                ))
                .first(c)
                .await
                .optional()
        })?;
        row.map(|(email, registration_id, status, generation)| {
            Ok(CartRegistration {
                status: RegistrationStatus::parse(&status)
                    .ok_or_else(|| StoreError::Corrupt(format!("registration status {status}")))?,
                email,
                registration_id,
                generation,
            })
        })
        .transpose()
    }

    /// Records the cart's new pending registration (see
    /// [`record_registration!`]).
    pub async fn save_registration(&self, new: &NewRegistration) -> StoreResult<()> {
        let at = now();
        light_tx!(self, |c| {
            super::registrations::record_registration!(c, new, at);
            Ok::<_, StoreError>(())
        })
    }

    /// The status of a registration (by its id at the API), if the shop
    /// still keeps it.
    pub async fn registration_status(
        &self,
        registration_id: &str,
    ) -> StoreResult<Option<RegistrationStatus>> {
        let status: Option<String> = read!(self, |c| {
            registrations::table
                .filter(registrations::registration_id.eq(registration_id))
                .select(registrations::status)
                .first(c)
                .await
                .optional()
        })?;
        status
            .map(|s| {
                RegistrationStatus::parse(&s)
                    .ok_or_else(|| StoreError::Corrupt(format!("registration status {s}")))
            })
            .transpose()
    }

    /// Pending registrations older than `age` whose cart never got a live
    /// order: marked abandoned, their deletion queued. Returns how many.
    pub async fn abandon_stale_registrations(&self, age: Duration) -> StoreResult<usize> {
        let cutoff = now() - age;
        // The one rule for "stale", read twice below.
        macro_rules! stale {
            ($c:ident, $limit:expr) => {
                registrations::table
                    .filter(registrations::status.eq(RegistrationStatus::Pending.as_str()))
                    .filter(registrations::created_at.lt(cutoff))
                    .filter(diesel::dsl::not(diesel::dsl::exists(
                        orders::table
                            .filter(orders::cart_id.eq(registrations::cart_id))
                            .filter(super::orders::Live),
                    )))
                    .select((registrations::cart_id, registrations::registration_id))
                    .limit($limit)
                    .load::<(String, String)>($c)
                    .await
            };
        }
        // Mostly there are none: looked for without taking a write turn.
        if read!(self, |c| stale!(c, 1))?.is_empty() {
            return Ok(0);
        }
        light_tx!(self, |c| {
            let stale = stale!(c, 100)?;
            for (cart_id, registration_id) in &stale {
                diesel::update(registrations::table.find(cart_id))
                    .set(registrations::status.eq(RegistrationStatus::Abandoned.as_str()))
                    .prepared()
                    .execute(c)
                    .await?;
                let payload = EventPayload {
                    registration_id: Some(registration_id.clone()),
                    ..Default::default()
                };
                diesel::insert_into(outbox::table)
                    .values(event(EventKind::RegistrationAbandoned, cart_id, &payload)?)
                    .execute(c)
                    .await?;
            }
            Ok::<_, StoreError>(stale.len())
        })
    }
}
