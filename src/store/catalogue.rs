//! Products, shipping methods and vouchers.

use super::catalogue_cache::Snapshot;
use super::rows::{ProductRow, ShippingMethodRow, VoucherRow};
use super::schema::{products, shipping_methods, vouchers};
use super::{Store, StoreError, StoreResult, read};
use crate::domain::catalogue::{Product, ShippingMethod, VoucherTerms};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use std::sync::Arc;

/// A change to a product, as a back office would make one (only tests
/// make one yet); `None` leaves a column as it is.
#[cfg(feature = "test-support")]
#[derive(Debug, Clone, Default, AsChangeset)]
#[diesel(table_name = products)]
pub struct ProductChange {
    pub price_minor: Option<i64>,
    pub stock: Option<i64>,
    pub active: Option<bool>,
}

/// A change to a voucher's terms, as a back office would make one (only
/// tests make one yet); `None` leaves a column as it is, `Some(None)`
/// removes an end or a limit.
#[cfg(feature = "test-support")]
#[derive(Debug, Clone, Default, AsChangeset)]
#[diesel(table_name = vouchers)]
pub struct VoucherChange {
    pub percent: Option<i64>,
    pub active: Option<bool>,
    pub valid_until: Option<Option<time::PrimitiveDateTime>>,
    pub max_uses: Option<Option<i64>>,
}

/// Inside an order's transaction: the voucher with this code as the shop
/// keeps it now, if an order may use it, with the use counted. The count
/// only rises below the limit, so of concurrent orders for the last use one
/// gets it and the others are refused. Evaluates to
/// `Result<Voucher, VoucherProblem>`; database errors go to `?`.
macro_rules! use_voucher {
    ($c:expr, $code:expr) => {{
        use $crate::domain::catalogue::VoucherProblem;
        use $crate::store::prepared::Prepare as _;
        use $crate::store::rows::VoucherRow;
        use $crate::store::schema::vouchers;
        let code: &str = $code;
        let row: Option<VoucherRow> = vouchers::table
            .find(code)
            .select(VoucherRow::as_select())
            .first($c)
            .await
            .optional()?;
        match row.map(VoucherRow::into_domain) {
            None => Err(VoucherProblem::Inactive(code.to_owned())),
            Some(terms) => match terms.usable_at($crate::store::now()) {
                Err(problem) => Err(problem),
                Ok(()) => {
                    let counted = diesel::update(
                        vouchers::table.find(code).filter(
                            vouchers::max_uses
                                .is_null()
                                .or(vouchers::max_uses.gt(vouchers::uses.nullable())),
                        ),
                    )
                    .set(vouchers::uses.eq(vouchers::uses + 1))
                    .prepared()
                    .execute($c)
                    .await?;
                    if counted == 1 {
                        Ok(terms.voucher)
                    } else {
                        Err(VoucherProblem::UsedUp(code.to_owned()))
                    }
                }
            },
        }
    }};
}
pub(crate) use use_voucher;

/// Inside the transaction that cancels an order: the use of its voucher, if
/// it had one, is given back.
macro_rules! give_back_voucher_use {
    ($c:expr, $order_id:expr) => {{
        use $crate::store::prepared::Prepare as _;
        use $crate::store::schema::{orders, vouchers};
        let code: Option<String> = orders::table
            .find($order_id)
            .select(orders::voucher_code)
            .first($c)
            .await?;
        if let Some(code) = code {
            diesel::update(vouchers::table.find(&code).filter(vouchers::uses.gt(0)))
                .set(vouchers::uses.eq(vouchers::uses - 1))
                .prepared()
                .execute($c)
                .await?;
        }
    }};
}
pub(crate) use give_back_voucher_use;

impl Store {
    /// Active products in catalogue order.
    pub async fn list_products(&self) -> StoreResult<Vec<Product>> {
        let catalogue = self.catalogue().await?;
        Ok(catalogue
            .products
            .iter()
            .filter(|p| p.active)
            .cloned()
            .collect())
    }

    pub async fn product(&self, id: &str) -> StoreResult<Option<Product>> {
        Ok(self.catalogue().await?.product(id).cloned())
    }

    pub async fn shipping_methods(&self) -> StoreResult<Vec<ShippingMethod>> {
        Ok(self.catalogue().await?.shipping_methods.clone())
    }

    /// The voucher with this (normalized) code and its terms, usable or not.
    pub async fn voucher(&self, code: &str) -> StoreResult<Option<VoucherTerms>> {
        Ok(self.catalogue().await?.vouchers.get(code).cloned())
    }

    /// The read-mostly data, from memory while fresh (see
    /// `catalogue_cache`), else read in one go.
    async fn catalogue(&self) -> StoreResult<Arc<Snapshot>> {
        if let Some(snapshot) = self.catalogue.fresh() {
            return Ok(snapshot);
        }
        let generation = self.catalogue.generation();
        let (products, methods, vouchers) = read!(self, |c| {
            let products: Vec<ProductRow> = products::table
                .order((products::position.asc(), products::id.asc()))
                .select(ProductRow::as_select())
                .load(c)
                .await?;
            let methods: Vec<ShippingMethodRow> = shipping_methods::table
                .order(shipping_methods::position.asc())
                .select(ShippingMethodRow::as_select())
                .load(c)
                .await?;
            let vouchers: Vec<VoucherRow> = vouchers::table
                .select(VoucherRow::as_select())
                .load(c)
                .await?;
            Ok::<_, StoreError>((products, methods, vouchers))
        })?;
        let products = products
            .into_iter()
            .map(ProductRow::into_domain)
            .collect::<StoreResult<Vec<_>>>()?;
        let methods = methods
            .into_iter()
            .map(ShippingMethodRow::into_domain)
            .collect::<StoreResult<Vec<_>>>()?;
        let vouchers = vouchers
            .into_iter()
            .map(|row| {
                let terms = row.into_domain();
                (terms.voucher.code.clone(), terms)
            })
            .collect();
        Ok(self.catalogue.keep(generation, products, methods, vouchers))
    }

    /// Changes a voucher's terms; `false` when there is no such voucher.
    #[cfg(feature = "test-support")]
    pub async fn change_voucher(&self, code: &str, change: VoucherChange) -> StoreResult<bool> {
        let changed = super::write_tx!(self, |c| {
            diesel::update(vouchers::table.find(code))
                .set(&change)
                .execute(c)
                .await
        })?;
        self.catalogue.changed();
        Ok(changed > 0)
    }

    /// Applies a change to a product; `false` when there is no such product.
    #[cfg(feature = "test-support")]
    pub async fn change_product(&self, id: &str, change: ProductChange) -> StoreResult<bool> {
        let changed = super::write_tx!(self, |c| {
            diesel::update(products::table.find(id))
                .set((&change, products::version.eq(products::version + 1)))
                .execute(c)
                .await
        })?;
        self.catalogue.changed();
        Ok(changed > 0)
    }
}
