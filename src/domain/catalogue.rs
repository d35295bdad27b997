//! What the shop sells and how it ships.

use super::money::Money;
use serde::{Deserialize, Serialize};
use time::PrimitiveDateTime;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    pub id: String,
    pub name: String,
    pub description: String,
    /// Gross price, VAT included.
    pub price: Money,
    /// VAT rate in basis points (1900 = 19 %).
    pub vat_rate_bp: i64,
    pub stock: i64,
    pub active: bool,
}

impl Product {
    pub fn is_available(&self) -> bool {
        self.active && self.stock > 0
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShippingMethod {
    pub code: String,
    pub name: String,
    pub price: Money,
    pub vat_rate_bp: i64,
    /// Free when the goods are worth at least this much.
    pub free_above: Option<Money>,
}

impl ShippingMethod {
    pub fn price_for(&self, goods: Money) -> Money {
        match self.free_above {
            Some(threshold) if goods.minor >= threshold.minor => Money::zero(goods.currency),
            _ => self.price,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Voucher {
    pub code: String,
    /// 1..=100; applies to goods and shipping, so 100 makes the order free.
    pub percent: i64,
}

/// A voucher as the shop keeps it: what it gives and the terms of its use.
/// Only `voucher` travels with a cart and an order; the terms are read
/// from the shop's records whenever the voucher is applied or used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoucherTerms {
    pub voucher: Voucher,
    pub active: bool,
    /// The last moment (UTC) the voucher may be used; `None`: no end.
    pub valid_until: Option<PrimitiveDateTime>,
    /// How many orders may use it; `None`: no limit.
    pub max_uses: Option<i64>,
    /// Orders that used it and were not cancelled.
    pub uses: i64,
}

impl VoucherTerms {
    /// May an order use the voucher at `now` (UTC)?
    pub fn usable_at(&self, now: PrimitiveDateTime) -> Result<(), VoucherProblem> {
        let code = || self.voucher.code.clone();
        if !self.active {
            return Err(VoucherProblem::Inactive(code()));
        }
        if self.valid_until.is_some_and(|until| now > until) {
            return Err(VoucherProblem::Expired(code()));
        }
        if self.max_uses.is_some_and(|max| self.uses >= max) {
            return Err(VoucherProblem::UsedUp(code()));
        }
        Ok(())
    }
}

/// Why a voucher may not be used, in words for the shopper.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VoucherProblem {
    /// Switched off by the shop, or gone.
    #[error("The voucher {0} is no longer valid.")]
    Inactive(String),
    #[error("The voucher {0} has expired.")]
    Expired(String),
    #[error("The voucher {0} has been used up.")]
    UsedUp(String),
}

/// Voucher codes are matched case-insensitively and without surrounding blanks.
pub fn normalize_voucher_code(raw: &str) -> String {
    raw.trim().to_ascii_uppercase()
}

/// Why a typed quantity is not one. The message never repeats what was
/// typed: it goes into the session, and a shopper (or a bot) may type
/// anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    #[error(
        "Please enter the quantity as a whole number from 1 to {}.",
        Quantity::MAX
    )]
    NotANumber,
    #[error("Please choose a quantity from 1 to {}.", Quantity::MAX)]
    OutOfRange,
}

/// A quantity a shopper may put in the cart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quantity(i64);

impl Quantity {
    pub const MAX: i64 = 99;

    pub fn parse(raw: &str) -> Result<Self, QuantityError> {
        let value: i64 = raw.trim().parse().map_err(|_| QuantityError::NotANumber)?;
        Self::new(value)
    }

    pub fn new(value: i64) -> Result<Self, QuantityError> {
        if (1..=Self::MAX).contains(&value) {
            Ok(Self(value))
        } else {
            Err(QuantityError::OutOfRange)
        }
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::money::Currency;
    use time::macros::datetime;

    #[test]
    fn shipping_is_free_from_the_threshold() {
        let eur = Currency::parse("EUR").unwrap();
        let method = ShippingMethod {
            code: "standard".into(),
            name: "Standard".into(),
            price: Money::new(495, eur),
            vat_rate_bp: 1900,
            free_above: Some(Money::new(5000, eur)),
        };
        assert_eq!(method.price_for(Money::new(4999, eur)).minor, 495);
        assert_eq!(method.price_for(Money::new(5000, eur)).minor, 0);
    }

    fn terms(
        active: bool,
        valid_until: Option<PrimitiveDateTime>,
        max_uses: Option<i64>,
        uses: i64,
    ) -> VoucherTerms {
        VoucherTerms {
            voucher: Voucher {
                code: "WELCOME10".into(),
                percent: 10,
            },
            active,
            valid_until,
            max_uses,
            uses,
        }
    }

    #[test]
    fn a_voucher_without_limits_is_usable_while_active() {
        let now = datetime!(2026-11-22 12:00);
        assert_eq!(terms(true, None, None, 1_000).usable_at(now), Ok(()));
        let inactive = terms(false, None, None, 0).usable_at(now).unwrap_err();
        assert_eq!(inactive, VoucherProblem::Inactive("WELCOME10".into()));
        assert_eq!(
            inactive.to_string(),
            "The voucher WELCOME10 is no longer valid."
        );
    }

    #[test]
    fn a_voucher_is_usable_until_its_last_moment() {
        let until = datetime!(2026-11-22 12:00);
        let voucher = terms(true, Some(until), None, 0);
        assert_eq!(voucher.usable_at(until), Ok(()));
        let problem = voucher
            .usable_at(datetime!(2026-11-22 12:00:00.000001))
            .unwrap_err();
        assert_eq!(problem.to_string(), "The voucher WELCOME10 has expired.");
    }

    #[test]
    fn a_voucher_is_usable_below_its_limit() {
        let now = datetime!(2026-11-22 12:00);
        assert_eq!(terms(true, None, Some(2), 1).usable_at(now), Ok(()));
        let problem = terms(true, None, Some(2), 2).usable_at(now).unwrap_err();
        assert_eq!(
            problem.to_string(),
            "The voucher WELCOME10 has been used up."
        );
        assert!(terms(true, None, Some(0), 0).usable_at(now).is_err());
    }

    #[test]
    fn quantity_bounds() {
        assert!(Quantity::parse("0").is_err());
        assert!(Quantity::parse("100").is_err());
        assert!(Quantity::parse("two").is_err());
        assert_eq!(Quantity::parse(" 3 ").unwrap().get(), 3);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// What lands in a quantity field: numbers of every size and sign,
        /// with blanks, and any text at all.
        fn typed_quantity() -> impl Strategy<Value = String> {
            prop_oneof![
                any::<i64>().prop_map(|n| n.to_string()),
                (-5i64..200).prop_map(|n| format!(" {n}\t")),
                "[-+]?[0-9]{0,25}(\\.[0-9]{0,3})?",
                any::<String>(),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            #[test]
            fn quantity_is_accepted_exactly_from_1_to_max(raw in typed_quantity()) {
                let expected = raw
                    .trim()
                    .parse::<i64>()
                    .ok()
                    .filter(|n| (1..=Quantity::MAX).contains(n));
                match Quantity::parse(&raw) {
                    Ok(quantity) => prop_assert_eq!(Some(quantity.get()), expected),
                    Err(error) => {
                        prop_assert_eq!(expected, None);
                        // Not a number, or a number out of range: each has
                        // its own fixed message.
                        let is_number = raw.trim().parse::<i64>().is_ok();
                        prop_assert_eq!(error == QuantityError::OutOfRange, is_number);
                    }
                }
            }

            #[test]
            fn a_quantity_reads_back_from_its_number(n in 1..=Quantity::MAX) {
                let quantity = Quantity::new(n).unwrap();
                prop_assert_eq!(Quantity::parse(&quantity.get().to_string()), Ok(quantity));
            }
        }
    }
}
