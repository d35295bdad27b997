//! The demo data: the catalogue, seeded into an empty database on first
//! start, and a staff account for the back office.

use super::prepared::Prepare;
use super::rows::{ProductRow, ShippingMethodRow, StaffRow, VoucherRow};
use super::schema::{products, shipping_methods, staff, vouchers};
use super::{Store, StoreError, StoreResult, now, write_tx};
use crate::ids::new_id;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

const PRODUCTS: &[(&str, &str, &str, i64, i64, i64)] = &[
    // id, name, description, price (minor, gross), VAT (bp), stock
    (
        "espresso-cup",
        "Espresso cup",
        "Thick-walled porcelain cup that keeps a double espresso hot.",
        1290,
        1900,
        40,
    ),
    (
        "pour-over-kettle",
        "Pour-over kettle",
        "Gooseneck kettle, 1 litre, for a slow and even pour.",
        4990,
        1900,
        12,
    ),
    (
        "hand-grinder",
        "Hand grinder",
        "Conical steel burrs, 30 grind settings, fits in a travel bag.",
        8900,
        1900,
        8,
    ),
    (
        "filter-papers",
        "Filter papers (100)",
        "Unbleached paper filters for size 02 drippers.",
        590,
        1900,
        200,
    ),
    (
        "house-blend",
        "House blend, 500 g",
        "Chocolate and hazelnut, roasted for espresso and filter.",
        1450,
        700,
        60,
    ),
    (
        "single-origin",
        "Single origin Ethiopia, 250 g",
        "Washed Yirgacheffe with notes of jasmine and lemon.",
        1190,
        700,
        30,
    ),
    (
        "milk-jug",
        "Milk jug",
        "Stainless steel, 600 ml, with a sharp spout for latte art.",
        2290,
        1900,
        25,
    ),
    (
        "cleaning-tablets",
        "Cleaning tablets (50)",
        "Descaling tablets for espresso machines.",
        990,
        1900,
        80,
    ),
    (
        "travel-mug",
        "Travel mug",
        "Double-walled, leak-proof lid, 350 ml.",
        2490,
        1900,
        3,
    ),
];

const SHIPPING: &[(&str, &str, i64, Option<i64>)] = &[
    // code, name, price (minor, gross), free from (minor)
    ("standard", "Standard delivery (3–5 days)", 495, Some(5000)),
    ("express", "Express delivery (next working day)", 1290, None),
    ("pickup", "Pick up at the shop", 0, None),
];

const VOUCHERS: &[(&str, i64)] = &[("WELCOME10", 10), ("FREEORDER", 100)];

impl Store {
    /// Seeds the demo data unless the catalogue has products already, every
    /// product with `stock` if given. Returns whether anything was seeded.
    /// Nodes starting together may both seed: rows that exist already are
    /// left alone.
    pub async fn seed_demo_data(&self, currency: &str, stock: Option<i64>) -> StoreResult<bool> {
        let seeded = write_tx!(self, |c| {
            let existing: i64 = products::table.count().get_result(c).await?;
            if existing > 0 {
                return Ok(false);
            }
            let product_rows: Vec<ProductRow> = PRODUCTS
                .iter()
                .enumerate()
                .map(
                    |(i, (id, name, description, price, vat, listed))| ProductRow {
                        id: (*id).into(),
                        name: (*name).into(),
                        description: (*description).into(),
                        price_minor: *price,
                        currency: currency.into(),
                        vat_rate_bp: *vat,
                        stock: stock.unwrap_or(*listed),
                        active: true,
                        position: i as i64,
                        version: 1,
                    },
                )
                .collect();
            // diesel-async has no multi-row INSERT on SQLite; rows go one by one
            // inside the same transaction, which costs no extra commit.
            for row in product_rows {
                diesel::insert_into(products::table)
                    .values(row)
                    .on_conflict_do_nothing()
                    .prepared()
                    .execute(c)
                    .await?;
            }
            let shipping_rows: Vec<ShippingMethodRow> = SHIPPING
                .iter()
                .enumerate()
                .map(|(i, (code, name, price, free_above))| ShippingMethodRow {
                    code: (*code).into(),
                    name: (*name).into(),
                    price_minor: *price,
                    currency: currency.into(),
                    vat_rate_bp: 1900,
                    free_above_minor: *free_above,
                    position: i as i64,
                })
                .collect();
            for row in shipping_rows {
                diesel::insert_into(shipping_methods::table)
                    .values(row)
                    .on_conflict_do_nothing()
                    .prepared()
                    .execute(c)
                    .await?;
            }
            let voucher_rows: Vec<VoucherRow> = VOUCHERS
                .iter()
                .map(|(code, percent)| VoucherRow {
                    code: (*code).into(),
                    percent: *percent,
                    active: true,
                    valid_until: None,
                    max_uses: None,
                    uses: 0,
                })
                .collect();
            for row in voucher_rows {
                diesel::insert_into(vouchers::table)
                    .values(row)
                    .on_conflict_do_nothing()
                    .prepared()
                    .execute(c)
                    .await?;
            }
            Ok::<_, StoreError>(true)
        });
        self.catalogue.changed();
        seeded
    }
}

/// The demo's staff account, for the back office at `/admin`.
pub const DEMO_STAFF_EMAIL: &str = "admin@kassa.example";
pub const DEMO_STAFF_PASSWORD: &str = "kassa-demo";
/// The argon2 hash of the demo password, made once, so no start pays for
/// hashing it (a test checks that it matches).
pub const DEMO_STAFF_PASSWORD_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$MydQtWAOSm50FeFfZ/Q72g$Fx+E2VG6nxA2SUmeU97sfNavJLGzUdMPtp7odJJqDGw";

impl Store {
    /// Creates the demo staff account if there is no staff account at
    /// all, so a shop with staff of its own never gets it. Returns whether
    /// it was created.
    pub async fn seed_demo_staff(&self) -> StoreResult<bool> {
        let row = StaffRow {
            id: new_id(),
            email: DEMO_STAFF_EMAIL.into(),
            password_hash: DEMO_STAFF_PASSWORD_HASH.into(),
            created_at: now(),
        };
        write_tx!(self, |c| {
            let existing: i64 = staff::table.count().get_result(c).await?;
            if existing > 0 {
                return Ok(false);
            }
            let inserted = diesel::insert_into(staff::table)
                .values(&row)
                .on_conflict_do_nothing()
                .prepared()
                .execute(c)
                .await?;
            Ok::<_, StoreError>(inserted == 1)
        })
    }
}
