//! Postal address and contact fields, each parsed into a type with a message
//! the shopper can act on.

use super::field_errors::FieldErrors;
use serde::{Deserialize, Serialize};

/// Countries the shop delivers to: ISO code and display name. A `Country`
/// is an index into this list, so it is always one of them.
pub const COUNTRIES: &[(&str, &str)] = &[
    ("AT", "Austria"),
    ("BE", "Belgium"),
    ("CH", "Switzerland"),
    ("DE", "Germany"),
    ("DK", "Denmark"),
    ("FR", "France"),
    ("IT", "Italy"),
    ("LU", "Luxembourg"),
    ("NL", "Netherlands"),
    ("SE", "Sweden"),
];

fn required_text(raw: &str, what: &str, max: usize) -> Result<String, String> {
    let value = raw.trim();
    if value.is_empty() {
        Err(format!("Please enter your {what}."))
    } else if value.chars().count() > max {
        Err(format!(
            "{} can be at most {max} characters long.",
            capitalize(what)
        ))
    } else if value.chars().any(is_damaged) {
        Err(format!(
            "{} contains characters that are not allowed.",
            capitalize(what)
        ))
    } else {
        Ok(value.to_owned())
    }
}

/// Control characters, and U+FFFD, which stands for bytes that were not
/// text (a NUL or broken UTF-8 sent by a bot): nobody types either.
fn is_damaged(c: char) -> bool {
    c.is_control() || c == char::REPLACEMENT_CHARACTER
}

fn optional_text(raw: &str, what: &str, max: usize) -> Result<Option<String>, String> {
    if raw.trim().is_empty() {
        Ok(None)
    } else {
        required_text(raw, what, max).map(Some)
    }
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let value = raw.trim();
        if value.is_empty() {
            return Err("Please enter your email address.".into());
        }
        let invalid = || format!("'{value}' is not a valid email address.");
        if value.len() > 254 || value.chars().any(|c| c.is_whitespace() || is_damaged(c)) {
            return Err(invalid());
        }
        let (local, domain) = value.rsplit_once('@').ok_or_else(invalid)?;
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && !domain.contains('@');
        if local.is_empty() || local.len() > 64 || !domain_ok {
            return Err(invalid());
        }
        // Domains are case-insensitive; the local part is kept as typed.
        Ok(Self(format!("{local}@{}", domain.to_ascii_lowercase())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map(|(_, d)| d).unwrap_or("")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Country(usize);

impl Country {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let code = raw.trim().to_ascii_uppercase();
        if code.is_empty() {
            return Err("Please choose a country.".into());
        }
        COUNTRIES
            .iter()
            .position(|(c, _)| *c == code)
            .map(Country)
            .ok_or_else(|| "We do not deliver to this country.".into())
    }

    pub fn code(&self) -> &'static str {
        COUNTRIES[self.0].0
    }

    pub fn name(&self) -> &'static str {
        COUNTRIES[self.0].1
    }
}

impl TryFrom<String> for Country {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Country> for String {
    fn from(value: Country) -> Self {
        value.code().to_owned()
    }
}

/// A postcode checked against the format of its country, in the country's
/// usual spelling (`1012 AB`, `123 45`). Everything here looks at
/// characters, never byte offsets: shoppers type any letter.
pub fn parse_postcode(raw: &str, country: Option<Country>) -> Result<String, String> {
    let value = raw.trim().to_ascii_uppercase();
    if value.is_empty() {
        return Err("Please enter your postcode.".into());
    }
    let normalized = match country.map(|c| c.code()) {
        Some("DE" | "FR" | "IT") => digits(&value, 5).then(|| value.clone()),
        Some("AT" | "BE" | "CH" | "DK" | "LU") => digits(&value, 4).then(|| value.clone()),
        Some("SE") => {
            let compact = without_spaces(&value);
            let (head, tail) = split_chars(&compact, 3);
            digits(&compact, 5).then(|| format!("{head} {tail}"))
        }
        Some("NL") => {
            let (numbers, letters) = split_chars(&without_spaces(&value), 4);
            (digits(&numbers, 4)
                && letters.chars().count() == 2
                && letters.chars().all(|c| c.is_ascii_uppercase()))
            .then(|| format!("{numbers} {letters}"))
        }
        _ => ((2..=10).contains(&value.chars().count())
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == ' ' || c == '-'))
        .then(|| value.clone()),
    };
    normalized.ok_or_else(|| {
        format!(
            "'{}' is not a valid postcode for {}.",
            raw.trim(),
            country.map(|c| c.name()).unwrap_or("this country")
        )
    })
}

/// Exactly `n` characters, all ASCII digits.
fn digits(text: &str, n: usize) -> bool {
    text.chars().count() == n && text.chars().all(|c| c.is_ascii_digit())
}

fn without_spaces(text: &str) -> String {
    text.chars().filter(|c| *c != ' ').collect()
}

/// The first `at` characters and the rest.
fn split_chars(text: &str, at: usize) -> (String, String) {
    (
        text.chars().take(at).collect(),
        text.chars().skip(at).collect(),
    )
}

pub fn parse_house_number(raw: &str) -> Result<String, String> {
    let value = required_text(raw, "house number", 20)?;
    if value.starts_with(|c: char| c.is_ascii_digit()) {
        Ok(value)
    } else {
        Err("A house number starts with a digit, for example 12 or 12a.".into())
    }
}

pub fn parse_phone(raw: &str) -> Result<Option<String>, String> {
    let value = raw.trim();
    if value.is_empty() {
        return Ok(None);
    }
    let digits = value.chars().filter(char::is_ascii_digit).count();
    let allowed = value
        .chars()
        .all(|c| c.is_ascii_digit() || " +-/()".contains(c));
    if allowed && (6..=20).contains(&digits) {
        Ok(Some(value.to_owned()))
    } else {
        Err("Please enter a phone number with 6 to 20 digits, for example +49 30 1234567.".into())
    }
}

/// The raw text of an address form, as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressInput {
    pub first_name: String,
    pub last_name: String,
    pub company: String,
    pub street: String,
    pub house_number: String,
    pub postcode: String,
    pub city: String,
    pub country: String,
    pub phone: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    pub first_name: String,
    pub last_name: String,
    pub company: Option<String>,
    pub street: String,
    pub house_number: String,
    pub postcode: String,
    pub city: String,
    pub country: Country,
    pub phone: Option<String>,
}

impl Address {
    /// Parses every field, recording problems under `<prefix>_<field>`.
    pub fn parse(input: &AddressInput, prefix: &str, errors: &mut FieldErrors) -> Option<Self> {
        let name = |field: &str| format!("{prefix}_{field}");
        let first_name = errors.take(
            &name("first_name"),
            required_text(&input.first_name, "first name", 100),
        );
        let last_name = errors.take(
            &name("last_name"),
            required_text(&input.last_name, "last name", 100),
        );
        let company = errors.take(
            &name("company"),
            optional_text(&input.company, "company", 100),
        );
        let street = errors.take(&name("street"), required_text(&input.street, "street", 200));
        let house_number = errors.take(
            &name("house_number"),
            parse_house_number(&input.house_number),
        );
        let country = errors.take(&name("country"), Country::parse(&input.country));
        let postcode = errors.take(&name("postcode"), parse_postcode(&input.postcode, country));
        let city = errors.take(&name("city"), required_text(&input.city, "city", 100));
        let phone = errors.take(&name("phone"), parse_phone(&input.phone));
        Some(Self {
            first_name: first_name?,
            last_name: last_name?,
            company: company?,
            street: street?,
            house_number: house_number?,
            postcode: postcode?,
            city: city?,
            country: country?,
            phone: phone?,
        })
    }

    pub fn to_input(&self) -> AddressInput {
        AddressInput {
            first_name: self.first_name.clone(),
            last_name: self.last_name.clone(),
            company: self.company.clone().unwrap_or_default(),
            street: self.street.clone(),
            house_number: self.house_number.clone(),
            postcode: self.postcode.clone(),
            city: self.city.clone(),
            country: self.country.code().to_owned(),
            phone: self.phone.clone().unwrap_or_default(),
        }
    }

    pub fn full_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_requires_local_part_and_dotted_domain() {
        assert!(Email::parse("ann@example.com").is_ok());
        assert_eq!(
            Email::parse(" Ann@Example.COM ").unwrap().as_str(),
            "Ann@example.com"
        );
        for bad in [
            "",
            "ann",
            "ann@",
            "@example.com",
            "ann@example",
            "a nn@example.com",
            "ann@.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn postcode_follows_country() {
        let de = Country::parse("de").ok();
        assert_eq!(parse_postcode("10115", de).unwrap(), "10115");
        assert!(parse_postcode("1011", de).is_err());
        let nl = Country::parse("NL").ok();
        assert!(parse_postcode("1012 ab", nl).is_ok());
        assert!(parse_postcode("ab12 34", nl).is_err());
    }

    #[test]
    fn address_reports_each_missing_field() {
        let mut errors = FieldErrors::default();
        assert!(Address::parse(&AddressInput::default(), "billing", &mut errors).is_none());
        for field in [
            "first_name",
            "last_name",
            "street",
            "house_number",
            "postcode",
            "city",
            "country",
        ] {
            assert!(errors.get(&format!("billing_{field}")).is_some(), "{field}");
        }
        assert!(errors.get("billing_company").is_none());
        assert!(errors.get("billing_phone").is_none());
    }

    #[test]
    fn damaged_text_is_refused() {
        assert!(required_text("Ber\u{fffd}lin", "city", 100).is_err());
        assert!(required_text("Ber\u{1}lin", "city", 100).is_err());
        assert!(Email::parse("ann\u{fffd}@example.com").is_err());
    }

    #[test]
    fn phone_is_optional_but_checked() {
        assert_eq!(parse_phone("").unwrap(), None);
        assert!(parse_phone("+49 30 1234567").unwrap().is_some());
        assert!(parse_phone("call me").is_err());
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// Text a shopper might type into a postcode field: digits, letters
        /// (multi-byte ones too), blanks and signs, around the usual length.
        fn postcode_like() -> impl Strategy<Value = String> {
            "[0-9A-Za-zÄÖÜäöüßé€ \t-]{0,10}"
        }

        fn any_country() -> impl Strategy<Value = Option<Country>> {
            prop::option::of((0..COUNTRIES.len()).prop_map(Country))
        }

        /// A postcode in a valid format for `code`, with the blanks and the
        /// case a shopper may type.
        fn valid_postcode(code: &str) -> BoxedStrategy<String> {
            let format = match code {
                "DE" | "FR" | "IT" => "[0-9]{5}",
                "AT" | "BE" | "CH" | "DK" | "LU" => "[0-9]{4}",
                "SE" => "[0-9]{3} {0,2}[0-9]{2}",
                "NL" => "[0-9]{4} {0,2}[A-Za-z]{2}",
                other => panic!("no postcode format for {other}"),
            };
            (" {0,2}", format, " {0,2}")
                .prop_map(|(before, postcode, after)| format!("{before}{postcode}{after}"))
                .boxed()
        }

        fn country_and_valid_postcode() -> impl Strategy<Value = (Country, String)> {
            (0..COUNTRIES.len()).prop_flat_map(|i| {
                let country = Country(i);
                valid_postcode(country.code()).prop_map(move |p| (country, p))
            })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            #[test]
            fn postcode_parsing_never_panics(
                raw in prop_oneof![any::<String>(), postcode_like()],
                country in any_country(),
            ) {
                if let Err(message) = parse_postcode(&raw, country) {
                    prop_assert!(!message.is_empty());
                }
            }

            #[test]
            fn valid_postcodes_parse_and_normalize_idempotently(
                (country, raw) in country_and_valid_postcode(),
            ) {
                let normalized = parse_postcode(&raw, Some(country));
                prop_assert!(normalized.is_ok(), "{raw:?} for {}: {normalized:?}", country.code());
                let normalized = normalized.unwrap();
                prop_assert_eq!(parse_postcode(&normalized, Some(country)), Ok(normalized.clone()));
                prop_assert_eq!(normalized.trim(), normalized.as_str());
                prop_assert!(!normalized.contains("  "));
                prop_assert_eq!(normalized.to_ascii_uppercase(), normalized);
            }

            #[test]
            fn every_country_code_round_trips(i in 0..COUNTRIES.len(), lower in any::<bool>()) {
                let code = COUNTRIES[i].0;
                let typed = if lower { code.to_ascii_lowercase() } else { code.to_owned() };
                prop_assert_eq!(Country::parse(&typed).map(|c| c.code()), Ok(code));
            }

            #[test]
            fn other_fields_never_panic(raw in any::<String>()) {
                let _ = Country::parse(&raw);
                let _ = parse_house_number(&raw);
                let _ = parse_phone(&raw);
                if let Ok(email) = Email::parse(&raw) {
                    prop_assert_eq!(Email::parse(email.as_str()), Ok(email.clone()));
                }
            }
        }
    }
}
