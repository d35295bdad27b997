//! Row structs, one per table that is read whole; each derives both
//! reading and inserting, so there is no separate insert struct (except
//! the outbox's, which lives with the outbox). Catalogue rows become
//! domain types here, the others in their store module.

use super::StoreError;
use super::schema::*;
use crate::domain::catalogue::{Product, ShippingMethod, Voucher, VoucherTerms};
use crate::domain::money::{Currency, Money};
use diesel::prelude::*;
use time::PrimitiveDateTime;

fn currency(code: &str) -> Result<Currency, StoreError> {
    Currency::parse(code).map_err(StoreError::Corrupt)
}

#[derive(Queryable, Selectable, Insertable, Debug, Clone)]
#[diesel(table_name = products)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct ProductRow {
    pub id: String,
    pub name: String,
    pub description: String,
    pub price_minor: i64,
    pub currency: String,
    pub vat_rate_bp: i64,
    pub stock: i64,
    pub active: bool,
    pub position: i64,
    pub version: i64,
}

impl ProductRow {
    pub fn into_domain(self) -> Result<Product, StoreError> {
        Ok(Product {
            price: Money::new(self.price_minor, currency(&self.currency)?),
            id: self.id,
            name: self.name,
            description: self.description,
            vat_rate_bp: self.vat_rate_bp,
            stock: self.stock,
            active: self.active,
        })
    }
}

#[derive(Queryable, Selectable, Insertable, Debug, Clone)]
#[diesel(table_name = shipping_methods)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct ShippingMethodRow {
    pub code: String,
    pub name: String,
    pub price_minor: i64,
    pub currency: String,
    pub vat_rate_bp: i64,
    pub free_above_minor: Option<i64>,
    pub position: i64,
}

impl ShippingMethodRow {
    pub fn into_domain(self) -> Result<ShippingMethod, StoreError> {
        let currency = currency(&self.currency)?;
        Ok(ShippingMethod {
            code: self.code,
            name: self.name,
            price: Money::new(self.price_minor, currency),
            vat_rate_bp: self.vat_rate_bp,
            free_above: self.free_above_minor.map(|m| Money::new(m, currency)),
        })
    }
}

#[derive(Queryable, Selectable, Insertable, Debug, Clone)]
#[diesel(table_name = vouchers)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct VoucherRow {
    pub code: String,
    pub percent: i64,
    pub active: bool,
    pub valid_until: Option<PrimitiveDateTime>,
    pub max_uses: Option<i64>,
    pub uses: i64,
}

impl VoucherRow {
    pub fn into_domain(self) -> VoucherTerms {
        VoucherTerms {
            voucher: Voucher {
                code: self.code,
                percent: self.percent,
            },
            active: self.active,
            valid_until: self.valid_until,
            max_uses: self.max_uses,
            uses: self.uses,
        }
    }
}

#[derive(Queryable, Selectable, Insertable, Debug, Clone)]
#[diesel(table_name = users)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct UserRow {
    pub id: String,
    pub email: String,
    pub password_hash: String,
    pub created_at: PrimitiveDateTime,
}

#[derive(Queryable, Selectable, Insertable, Debug, Clone)]
#[diesel(table_name = carts)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct CartRow {
    pub id: String,
    pub user_id: Option<String>,
    pub status: String,
    pub checkout: Option<String>,
    pub order_id: Option<String>,
    pub version: i64,
    pub created_at: PrimitiveDateTime,
    pub updated_at: PrimitiveDateTime,
    /// The owning guest session's secret, while no account owns the cart.
    pub guest_token: Option<String>,
}

#[derive(Queryable, Selectable, Insertable, Debug, Clone)]
#[diesel(table_name = cart_lines)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct CartLineRow {
    pub cart_id: String,
    pub product_id: String,
    pub quantity: i64,
    pub unit_price_minor: i64,
    pub added_at: PrimitiveDateTime,
}

#[derive(Queryable, Selectable, Insertable, Debug, Clone)]
#[diesel(table_name = orders)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct OrderRow {
    pub id: String,
    pub number: String,
    pub token: String,
    pub cart_id: String,
    pub user_id: Option<String>,
    pub email: String,
    pub status: String,
    pub currency: String,
    pub subtotal_minor: i64,
    pub shipping_minor: i64,
    pub discount_minor: i64,
    pub vat_minor: i64,
    pub total_minor: i64,
    pub shipping_method: String,
    pub voucher_code: Option<String>,
    pub details: String,
    pub version: i64,
    pub created_at: PrimitiveDateTime,
    pub updated_at: PrimitiveDateTime,
    /// The buyer's registration of the attempt that placed the order.
    pub registration_id: Option<String>,
}

#[derive(Queryable, Selectable, Insertable, Debug, Clone)]
#[diesel(table_name = order_lines)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct OrderLineRow {
    pub order_id: String,
    pub position: i64,
    pub product_id: String,
    pub name: String,
    pub quantity: i64,
    pub unit_price_minor: i64,
    pub vat_rate_bp: i64,
    pub total_minor: i64,
}

#[derive(Queryable, Selectable, Insertable, Debug, Clone)]
#[diesel(table_name = payments)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct PaymentRow {
    pub id: String,
    pub process_id: String,
    pub cart_id: String,
    pub order_id: Option<String>,
    pub gateway: String,
    pub method: String,
    pub amount_minor: i64,
    pub currency: String,
    pub status: String,
    pub idempotency_key: String,
    pub provider_reference: Option<String>,
    pub version: i64,
    pub created_at: PrimitiveDateTime,
    pub updated_at: PrimitiveDateTime,
    /// The buyer's registration of this attempt.
    pub registration_id: Option<String>,
    /// When the reconciliation last asked the provider about it.
    pub checked_at: Option<PrimitiveDateTime>,
    pub captured_minor: i64,
    pub refunded_minor: i64,
    pub released: bool,
}

#[derive(Queryable, Selectable, Insertable, Debug, Clone)]
#[diesel(table_name = place_order_process)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct ProcessRow {
    pub id: String,
    pub cart_id: String,
    pub state: String,
    pub context: String,
    pub failure: Option<String>,
    pub idempotency_key: String,
    pub is_final: bool,
    pub version: i64,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<PrimitiveDateTime>,
    pub created_at: PrimitiveDateTime,
    pub updated_at: PrimitiveDateTime,
}

#[derive(Queryable, Selectable, Insertable, Debug, Clone)]
#[diesel(table_name = staff)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct StaffRow {
    pub id: String,
    pub email: String,
    pub password_hash: String,
    pub created_at: PrimitiveDateTime,
}

#[derive(Queryable, Selectable, Insertable, Debug, Clone)]
#[diesel(table_name = staff_sessions)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct StaffSessionRow {
    pub id_hash: String,
    pub staff_id: String,
    pub csrf_token: String,
    pub created_at: PrimitiveDateTime,
    pub last_seen_at: PrimitiveDateTime,
}

#[derive(Queryable, Selectable, Insertable, Debug, Clone)]
#[diesel(table_name = staff_login_attempts)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct LoginAttemptRow {
    pub id: String,
    pub email: String,
    pub ip: String,
    pub attempted_at: PrimitiveDateTime,
}

#[derive(Queryable, Selectable, Insertable, Debug, Clone)]
#[diesel(table_name = api_keys)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct ApiKeyRow {
    pub id: String,
    pub name: String,
    pub key_hash: String,
    pub created_at: PrimitiveDateTime,
    pub revoked_at: Option<PrimitiveDateTime>,
}

#[derive(Queryable, Selectable, Insertable, Debug, Clone)]
#[diesel(table_name = api_idempotency)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct IdempotencyRow {
    pub caller_key_id: String,
    pub idempotency_key: String,
    pub fingerprint: String,
    pub state: String,
    pub status_code: Option<i64>,
    pub response_body: Option<String>,
    pub created_at: PrimitiveDateTime,
    pub claimed_at: PrimitiveDateTime,
}
