//! Money as integer minor units plus an ISO 4217 code. Never floats.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency([u8; 3]);

impl Currency {
    pub fn parse(code: &str) -> Result<Self, String> {
        let bytes = code.as_bytes();
        if bytes.len() == 3 && bytes.iter().all(u8::is_ascii_uppercase) {
            Ok(Self([bytes[0], bytes[1], bytes[2]]))
        } else {
            Err(format!("'{code}' is not a three-letter currency code"))
        }
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII upper-case letters are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }
}

impl TryFrom<String> for Currency {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Currency> for String {
    fn from(value: Currency) -> Self {
        value.as_str().to_owned()
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Money {
    pub minor: i64,
    pub currency: Currency,
}

impl Money {
    pub fn new(minor: i64, currency: Currency) -> Self {
        Self { minor, currency }
    }

    pub fn zero(currency: Currency) -> Self {
        Self::new(0, currency)
    }

    pub fn is_zero(&self) -> bool {
        self.minor == 0
    }

    pub fn times(self, quantity: i64) -> Money {
        Money::new(self.minor * quantity, self.currency)
    }

    /// `self * percent / 100`, rounded half away from zero.
    pub fn percent(self, percent: i64) -> Money {
        Money::new(div_round(self.minor * percent, 100), self.currency)
    }

    /// The VAT contained in a gross amount at `rate_bp` basis points (1900 = 19 %).
    pub fn included_vat(self, rate_bp: i64) -> Money {
        Money::new(
            div_round(self.minor * rate_bp, 10_000 + rate_bp),
            self.currency,
        )
    }
}

/// Amounts of different currencies never mix in one cart, so a mismatch is a bug.
impl std::ops::Add for Money {
    type Output = Money;
    fn add(self, other: Money) -> Money {
        debug_assert_eq!(self.currency, other.currency);
        Money::new(self.minor + other.minor, self.currency)
    }
}

impl std::ops::Sub for Money {
    type Output = Money;
    fn sub(self, other: Money) -> Money {
        debug_assert_eq!(self.currency, other.currency);
        Money::new(self.minor - other.minor, self.currency)
    }
}

/// Why a typed amount was not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountRefusal {
    #[error("Please enter an amount.")]
    Empty,
    #[error("Please enter an amount like 12.34 (digits, a point and at most two decimals).")]
    NotAnAmount,
    #[error("This amount is too large.")]
    TooLarge,
}

/// Largest amount a person may type: ten billion in major units, far
/// from overflowing anything that adds amounts.
const MAX_TYPED_MINOR: i64 = 1_000_000_000_000;

/// An amount typed in major units: `12`, `12.3`, `12.34` or with a decimal
/// comma (`12,34`). No sign, no thousands separators, no currency: what
/// is not plainly one amount is refused rather than guessed at.
pub fn parse_amount(typed: &str, currency: Currency) -> Result<Money, AmountRefusal> {
    let typed = typed.trim();
    if typed.is_empty() {
        return Err(AmountRefusal::Empty);
    }
    let (units, cents) = match typed.split_once(['.', ',']) {
        Some((units, cents)) => (units, cents),
        None => (typed, ""),
    };
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let well_formed = !units.is_empty()
        && digits(units)
        && digits(cents)
        && cents.len() <= 2
        && (!cents.is_empty() || !typed.ends_with(['.', ',']));
    if !well_formed {
        return Err(AmountRefusal::NotAnAmount);
    }
    if units.trim_start_matches('0').len() > 11 {
        return Err(AmountRefusal::TooLarge);
    }
    let units: i64 = units.parse().map_err(|_| AmountRefusal::TooLarge)?;
    let cents: i64 = match cents.len() {
        0 => 0,
        1 => cents.parse::<i64>().unwrap_or(0) * 10,
        _ => cents.parse().unwrap_or(0),
    };
    let minor = units * 100 + cents;
    if minor > MAX_TYPED_MINOR {
        return Err(AmountRefusal::TooLarge);
    }
    Ok(Money::new(minor, currency))
}

/// Integer division rounding half away from zero; `d` is positive.
fn div_round(n: i64, d: i64) -> i64 {
    if n >= 0 {
        (n + d / 2) / d
    } else {
        -((-n + d / 2) / d)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.minor < 0 { "-" } else { "" };
        let abs = self.minor.unsigned_abs();
        write!(f, "{sign}{}.{:02} {}", abs / 100, abs % 100, self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur(minor: i64) -> Money {
        Money::new(minor, Currency::parse("EUR").unwrap())
    }

    #[test]
    fn formats_minor_units() {
        assert_eq!(eur(123_456).to_string(), "1234.56 EUR");
        assert_eq!(eur(5).to_string(), "0.05 EUR");
        assert_eq!(eur(-250).to_string(), "-2.50 EUR");
    }

    #[test]
    fn percent_rounds_half_away_from_zero() {
        assert_eq!(eur(999).percent(10), eur(100));
        assert_eq!(eur(994).percent(10), eur(99));
        assert_eq!(eur(1999).percent(100), eur(1999));
    }

    #[test]
    fn included_vat_of_gross_price() {
        assert_eq!(eur(11_900).included_vat(1900), eur(1900));
        assert_eq!(eur(10_700).included_vat(700), eur(700));
        assert_eq!(eur(0).included_vat(1900), eur(0));
    }

    #[test]
    fn typed_amounts_are_read_or_refused() {
        let eur_code = Currency::parse("EUR").unwrap();
        let read = |typed: &str| parse_amount(typed, eur_code);
        assert_eq!(read("12.34"), Ok(eur(1234)));
        assert_eq!(read(" 12,3 "), Ok(eur(1230)));
        assert_eq!(read("12"), Ok(eur(1200)));
        assert_eq!(read("0.05"), Ok(eur(5)));
        assert_eq!(read("007.10"), Ok(eur(710)));
        assert_eq!(read(""), Err(AmountRefusal::Empty));
        for junk in [
            "12.345", "-1", "+1", "1.2.3", "1,234.56", "12.", ".5", "12 EUR", "1e3", "١٢", "12.3x",
            "NaN", "0x10", "1 000",
        ] {
            assert_eq!(read(junk), Err(AmountRefusal::NotAnAmount), "{junk:?}");
        }
        assert_eq!(read("99999999999999999999"), Err(AmountRefusal::TooLarge));
        assert_eq!(read("10000000000.01"), Err(AmountRefusal::TooLarge));
        assert_eq!(read("10000000000"), Ok(eur(1_000_000_000_000)));
    }

    #[test]
    fn rejects_bad_currency_codes() {
        assert!(Currency::parse("eur").is_err());
        assert!(Currency::parse("EURO").is_err());
        assert!(Currency::parse("EUR").is_ok());
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// Amounts up to ten billion in either direction: more than any
        /// order, far from overflowing the arithmetic.
        const LIMIT: i64 = 1_000_000_000_000;

        fn amount() -> impl Strategy<Value = i64> {
            -LIMIT..=LIMIT
        }

        /// Reads a formatted amount back: `[-]units.cents CUR`.
        fn read_back(text: &str) -> Option<(i64, &str)> {
            let (number, code) = text.split_once(' ')?;
            let (negative, digits) = match number.strip_prefix('-') {
                Some(rest) => (true, rest),
                None => (false, number),
            };
            let (units, cents) = digits.split_once('.')?;
            if cents.len() != 2 || !cents.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let magnitude = units.parse::<i128>().ok()? * 100 + cents.parse::<i128>().ok()?;
            let minor = if negative { -magnitude } else { magnitude };
            Some((i64::try_from(minor).ok()?, code))
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            #[test]
            fn currency_parsing_never_panics_and_takes_only_three_capitals(raw in any::<String>()) {
                let ok = raw.len() == 3 && raw.bytes().all(|b| b.is_ascii_uppercase());
                match Currency::parse(&raw) {
                    Ok(currency) => {
                        prop_assert!(ok);
                        prop_assert_eq!(currency.as_str(), raw.as_str());
                    }
                    Err(_) => prop_assert!(!ok),
                }
            }

            #[test]
            fn formatting_reads_back_to_the_same_amount(minor in any::<i64>(), code in "[A-Z]{3}") {
                let money = Money::new(minor, Currency::parse(&code).unwrap());
                let text = money.to_string();
                prop_assert_eq!(read_back(&text), Some((minor, code.as_str())), "{}", text);
            }

            #[test]
            fn typed_amounts_never_panic_and_formatted_ones_read_back(raw in any::<String>(), minor in 0..LIMIT) {
                let eur = Currency::parse("EUR").unwrap();
                if let Ok(money) = parse_amount(&raw, eur) {
                    prop_assert!((0..=LIMIT).contains(&money.minor));
                }
                let text = Money::new(minor, eur).to_string();
                let number = text.split(' ').next().unwrap();
                prop_assert_eq!(parse_amount(number, eur), Ok(Money::new(minor, eur)));
            }

            #[test]
            fn a_full_percentage_is_the_amount_and_parts_add_up(minor in amount(), percent in 0i64..=100) {
                let eur = Currency::parse("EUR").unwrap();
                let money = Money::new(minor, eur);
                prop_assert_eq!(money.percent(100), money);
                prop_assert_eq!(money.percent(0), Money::zero(eur));
                // Each part rounds by at most half a cent.
                let parts = money.percent(percent) + money.percent(100 - percent);
                prop_assert!((parts - money).minor.abs() <= 1);
            }

            #[test]
            fn included_vat_is_part_of_the_gross_amount(minor in 0..LIMIT, rate_bp in 0i64..=10_000) {
                let money = Money::new(minor, Currency::parse("EUR").unwrap());
                let vat = money.included_vat(rate_bp);
                prop_assert!((0..=minor).contains(&vat.minor));
                // The net amount times the rate gives the VAT, to a cent.
                let net = minor - vat.minor;
                prop_assert!((net * rate_bp / 10_000 - vat.minor).abs() <= 1);
            }
        }
    }
}
