//! Products, shipping methods and vouchers.

use super::rows::{ProductRow, ShippingMethodRow, VoucherRow};
use super::schema::{products, shipping_methods, vouchers};
use super::{Store, StoreResult, with_conn, write_tx};
use crate::domain::catalogue::{Product, ShippingMethod, Voucher};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

/// A back-office change to a product; `None` leaves a column as it is.
#[derive(Debug, Clone, Default, AsChangeset)]
#[diesel(table_name = products)]
pub struct ProductChange {
    pub price_minor: Option<i64>,
    pub stock: Option<i64>,
    pub active: Option<bool>,
}

impl Store {
    /// Active products in catalogue order.
    pub async fn list_products(&self) -> StoreResult<Vec<Product>> {
        let rows: Vec<ProductRow> = with_conn!(self, |c| {
            products::table
                .filter(products::active.eq(true))
                .order(products::position.asc())
                .select(ProductRow::as_select())
                .load(c)
                .await
        })?;
        rows.into_iter().map(ProductRow::into_domain).collect()
    }

    pub async fn product(&self, id: &str) -> StoreResult<Option<Product>> {
        let row: Option<ProductRow> = with_conn!(self, |c| {
            products::table
                .find(id)
                .select(ProductRow::as_select())
                .first(c)
                .await
                .optional()
        })?;
        row.map(ProductRow::into_domain).transpose()
    }

    pub async fn shipping_methods(&self) -> StoreResult<Vec<ShippingMethod>> {
        let rows: Vec<ShippingMethodRow> = with_conn!(self, |c| {
            shipping_methods::table
                .order(shipping_methods::position.asc())
                .select(ShippingMethodRow::as_select())
                .load(c)
                .await
        })?;
        rows.into_iter()
            .map(ShippingMethodRow::into_domain)
            .collect()
    }

    /// The active voucher with this (normalized) code.
    pub async fn voucher(&self, code: &str) -> StoreResult<Option<Voucher>> {
        let row: Option<VoucherRow> = with_conn!(self, |c| {
            vouchers::table
                .find(code)
                .filter(vouchers::active.eq(true))
                .select(VoucherRow::as_select())
                .first(c)
                .await
                .optional()
        })?;
        Ok(row.map(|v| Voucher {
            code: v.code,
            percent: v.percent,
        }))
    }

    /// Applies a change to a product; `false` when there is no such product.
    pub async fn change_product(&self, id: &str, change: ProductChange) -> StoreResult<bool> {
        let changed = write_tx!(self, |c| {
            diesel::update(products::table.find(id))
                .set((&change, products::version.eq(products::version + 1)))
                .execute(c)
                .await
        })?;
        Ok(changed > 0)
    }
}
