//! Totals of an order. Prices are gross (VAT included); a percentage voucher
//! applies to goods and shipping alike, part by part, so the VAT of each part
//! is taken from what the shopper really pays for it.

use super::cart::{CartLine, subtotal};
use super::catalogue::{ShippingMethod, Voucher};
use super::money::{Currency, Money};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Totals {
    pub subtotal: Money,
    pub shipping: Money,
    pub discount: Money,
    pub vat: Money,
    pub total: Money,
}

impl Totals {
    pub fn needs_payment(&self) -> bool {
        self.total.minor > 0
    }
}

pub fn totals(
    lines: &[CartLine],
    shipping: Option<&ShippingMethod>,
    voucher: Option<&Voucher>,
    currency: Currency,
) -> Totals {
    let goods = subtotal(lines, currency);
    let shipping_price = shipping
        .map(|m| m.price_for(goods))
        .unwrap_or(Money::zero(currency));
    let keep = 100 - voucher.map(|v| v.percent.clamp(0, 100)).unwrap_or(0);

    // (gross after discount, VAT rate) of every part of the order.
    let parts = lines
        .iter()
        .map(|l| {
            let rate = l.product.as_ref().map(|p| p.vat_rate_bp).unwrap_or(0);
            (l.total().percent(keep), rate)
        })
        .chain(shipping.map(|m| (shipping_price.percent(keep), m.vat_rate_bp)));

    let (total, vat) = parts.fold(
        (Money::zero(currency), Money::zero(currency)),
        |(total, vat), (gross, rate)| (total + gross, vat + gross.included_vat(rate)),
    );
    Totals {
        subtotal: goods,
        shipping: shipping_price,
        discount: goods + shipping_price - total,
        vat,
        total,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::catalogue::Product;

    fn eur(minor: i64) -> Money {
        Money::new(minor, Currency::parse("EUR").unwrap())
    }

    fn line(price: i64, quantity: i64, rate: i64) -> CartLine {
        CartLine {
            product_id: "p".into(),
            quantity,
            unit_price: eur(price),
            product: Some(Product {
                id: "p".into(),
                name: "P".into(),
                description: String::new(),
                price: eur(price),
                vat_rate_bp: rate,
                stock: 10,
                active: true,
            }),
        }
    }

    fn standard() -> ShippingMethod {
        ShippingMethod {
            code: "standard".into(),
            name: "Standard".into(),
            price: eur(500),
            vat_rate_bp: 1900,
            free_above: Some(eur(10_000)),
        }
    }

    #[test]
    fn without_voucher() {
        let t = totals(
            &[line(1190, 2, 1900)],
            Some(&standard()),
            None,
            eur(0).currency,
        );
        assert_eq!(t.subtotal, eur(2380));
        assert_eq!(t.shipping, eur(500));
        assert_eq!(t.discount, eur(0));
        assert_eq!(t.total, eur(2880));
        assert_eq!(t.vat, eur(380 + 80));
    }

    #[test]
    fn percentage_voucher_discounts_goods_and_shipping() {
        let v = Voucher {
            code: "TEN".into(),
            percent: 10,
        };
        let t = totals(
            &[line(1000, 1, 700)],
            Some(&standard()),
            Some(&v),
            eur(0).currency,
        );
        assert_eq!(t.total, eur(900 + 450));
        assert_eq!(t.discount, eur(150));
        assert_eq!(t.subtotal + t.shipping - t.discount, t.total);
    }

    #[test]
    fn full_voucher_makes_the_order_free() {
        let v = Voucher {
            code: "FREE".into(),
            percent: 100,
        };
        let t = totals(
            &[line(1999, 3, 1900)],
            Some(&standard()),
            Some(&v),
            eur(0).currency,
        );
        assert_eq!(t.total, eur(0));
        assert_eq!(t.vat, eur(0));
        assert!(!t.needs_payment());
    }
}
