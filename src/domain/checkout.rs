//! The one big checkout form: raw input as typed, the rules the shop owner
//! set, and the parsed details kept on the cart until the order is placed.

use super::address::{Address, AddressInput, Email};
use super::cart::CartLine;
use super::catalogue::{ShippingMethod, Voucher, VoucherTerms, normalize_voucher_code};
use super::field_errors::FieldErrors;
use super::money::Currency;
use super::payment::{IdempotencyKey, PaymentMethodOption, PaymentSelection};
use super::pricing::{Totals, totals};
use serde::{Deserialize, Serialize};
use time::{Date, PrimitiveDateTime};

/// Every field of the form as typed. Check boxes hold "on" or nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CheckoutInput {
    pub email: String,
    pub billing_first_name: String,
    pub billing_last_name: String,
    pub billing_company: String,
    pub billing_street: String,
    pub billing_house_number: String,
    pub billing_postcode: String,
    pub billing_city: String,
    pub billing_country: String,
    pub billing_phone: String,
    pub delivery_same_as_billing: String,
    pub delivery_first_name: String,
    pub delivery_last_name: String,
    pub delivery_company: String,
    pub delivery_street: String,
    pub delivery_house_number: String,
    pub delivery_postcode: String,
    pub delivery_city: String,
    pub delivery_country: String,
    pub delivery_phone: String,
    pub shipping_method: String,
    pub date_of_birth: String,
    pub payment_method: String,
    pub voucher_code: String,
    pub accept_terms: String,
    pub accept_privacy: String,
}

fn checked(value: &str) -> bool {
    !value.trim().is_empty()
}

fn checkbox(on: bool) -> String {
    if on { "on".into() } else { String::new() }
}

impl CheckoutInput {
    /// The names of all fields, for checking configured defaults.
    pub fn field_names() -> Vec<String> {
        match serde_json::to_value(Self::default()) {
            Ok(serde_json::Value::Object(map)) => map.keys().cloned().collect(),
            _ => Vec::new(),
        }
    }

    pub fn billing(&self) -> AddressInput {
        AddressInput {
            first_name: self.billing_first_name.clone(),
            last_name: self.billing_last_name.clone(),
            company: self.billing_company.clone(),
            street: self.billing_street.clone(),
            house_number: self.billing_house_number.clone(),
            postcode: self.billing_postcode.clone(),
            city: self.billing_city.clone(),
            country: self.billing_country.clone(),
            phone: self.billing_phone.clone(),
        }
    }

    pub fn delivery(&self) -> AddressInput {
        AddressInput {
            first_name: self.delivery_first_name.clone(),
            last_name: self.delivery_last_name.clone(),
            company: self.delivery_company.clone(),
            street: self.delivery_street.clone(),
            house_number: self.delivery_house_number.clone(),
            postcode: self.delivery_postcode.clone(),
            city: self.delivery_city.clone(),
            country: self.delivery_country.clone(),
            phone: self.delivery_phone.clone(),
        }
    }

    fn set_billing(&mut self, a: AddressInput) {
        self.billing_first_name = a.first_name;
        self.billing_last_name = a.last_name;
        self.billing_company = a.company;
        self.billing_street = a.street;
        self.billing_house_number = a.house_number;
        self.billing_postcode = a.postcode;
        self.billing_city = a.city;
        self.billing_country = a.country;
        self.billing_phone = a.phone;
    }

    fn set_delivery(&mut self, a: AddressInput) {
        self.delivery_first_name = a.first_name;
        self.delivery_last_name = a.last_name;
        self.delivery_company = a.company;
        self.delivery_street = a.street;
        self.delivery_house_number = a.house_number;
        self.delivery_postcode = a.postcode;
        self.delivery_city = a.city;
        self.delivery_country = a.country;
        self.delivery_phone = a.phone;
    }

    pub fn same_as_billing(&self) -> bool {
        checked(&self.delivery_same_as_billing)
    }

    pub fn terms_accepted(&self) -> bool {
        checked(&self.accept_terms)
    }

    pub fn privacy_accepted(&self) -> bool {
        checked(&self.accept_privacy)
    }

    /// Fills the fields a shopper has typed before: addresses, email, choices.
    /// Consent boxes stay unticked; they are asked for every order.
    pub fn prefill_from(&mut self, details: &CheckoutDetails) {
        self.email = details.email.as_str().to_owned();
        self.set_billing(details.billing.to_input());
        match &details.delivery_address {
            Some(address) => {
                self.delivery_same_as_billing = String::new();
                self.set_delivery(address.to_input());
            }
            None => self.delivery_same_as_billing = checkbox(true),
        }
        self.shipping_method = details.shipping_method.clone();
        if let Some(dob) = details.date_of_birth {
            self.date_of_birth = dob.to_string();
        }
        if let Some(payment) = &details.payment {
            self.payment_method = payment.form_value();
        }
        if let Some(voucher) = &details.voucher {
            self.voucher_code = voucher.code.clone();
        }
    }
}

/// What the shop owner configured, and the facts the form is checked against.
#[derive(Debug, Clone)]
pub struct CheckoutRules<'a> {
    pub use_delivery_forms: bool,
    pub use_personal_data_form: bool,
    pub privacy_policy_required: bool,
    pub minimum_age: u8,
    pub today: Date,
    /// The moment (UTC) vouchers are checked against.
    pub now: PrimitiveDateTime,
    pub shipping_methods: &'a [ShippingMethod],
    pub payment_methods: &'a [PaymentMethodOption],
    pub currency: Currency,
}

/// The validated form, stored on the cart until the order is placed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckoutDetails {
    pub email: Email,
    pub billing: Address,
    /// `None`: deliver to the billing address.
    pub delivery_address: Option<Address>,
    pub shipping_method: String,
    pub date_of_birth: Option<Date>,
    /// `None` when nothing is left to pay.
    pub payment: Option<PaymentSelection>,
    pub voucher: Option<Voucher>,
    pub privacy_accepted: bool,
}

impl CheckoutDetails {
    pub fn delivery(&self) -> &Address {
        self.delivery_address.as_ref().unwrap_or(&self.billing)
    }
}

/// Parses the whole form. `voucher` is the voucher found for the typed code,
/// if any, with its terms; `new_key` becomes the idempotency key of the
/// payment selection.
pub fn parse(
    input: &CheckoutInput,
    rules: &CheckoutRules<'_>,
    lines: &[CartLine],
    voucher: Option<VoucherTerms>,
    new_key: IdempotencyKey,
) -> Result<(CheckoutDetails, Totals), FieldErrors> {
    let mut errors = FieldErrors::default();

    let email = errors.take("email", Email::parse(&input.email));
    let billing = Address::parse(&input.billing(), "billing", &mut errors);

    let delivery_address = if rules.use_delivery_forms && !input.same_as_billing() {
        Address::parse(&input.delivery(), "delivery", &mut errors).map(Some)
    } else {
        Some(None)
    };

    let shipping = errors.take("shipping_method", chosen_shipping(input, rules));

    let date_of_birth = if rules.use_personal_data_form {
        errors
            .take(
                "date_of_birth",
                parse_date_of_birth(&input.date_of_birth, rules.today, rules.minimum_age),
            )
            .map(Some)
    } else {
        Some(None)
    };

    let voucher = parse_voucher(&input.voucher_code, voucher, rules.now, &mut errors);

    let order_totals = totals(lines, shipping, voucher.as_ref(), rules.currency);
    let payment = if order_totals.needs_payment() {
        errors
            .take(
                "payment_method",
                parse_payment_method(&input.payment_method, rules.payment_methods, new_key),
            )
            .map(Some)
    } else {
        Some(None)
    };

    check_consents(input, rules, &mut errors);

    match (
        email,
        billing,
        delivery_address,
        shipping,
        date_of_birth,
        payment,
    ) {
        (
            Some(email),
            Some(billing),
            Some(delivery_address),
            Some(shipping),
            Some(dob),
            Some(payment),
        ) if errors.is_empty() => Ok((
            CheckoutDetails {
                email,
                billing,
                delivery_address,
                shipping_method: shipping.code.clone(),
                date_of_birth: dob,
                payment,
                voucher,
                privacy_accepted: input.privacy_accepted(),
            },
            order_totals,
        )),
        _ => Err(errors),
    }
}

/// The shipping method chosen on the form; without a delivery section the
/// first (default) method applies.
fn chosen_shipping<'a>(
    input: &CheckoutInput,
    rules: &CheckoutRules<'a>,
) -> Result<&'a ShippingMethod, String> {
    if !rules.use_delivery_forms {
        return rules
            .shipping_methods
            .first()
            .ok_or_else(|| "This shop has no shipping method configured.".to_owned());
    }
    match input.shipping_method.trim() {
        "" => Err("Please choose a shipping method.".to_owned()),
        code => rules
            .shipping_methods
            .iter()
            .find(|m| m.code == code)
            .ok_or_else(|| "Please choose one of the shipping methods shown.".to_owned()),
    }
}

/// The terms, and the privacy policy where the shop asks for it.
fn check_consents(input: &CheckoutInput, rules: &CheckoutRules<'_>, errors: &mut FieldErrors) {
    if !input.terms_accepted() {
        errors.add("accept_terms", "Please accept the terms and conditions.");
    }
    if rules.privacy_policy_required && !input.privacy_accepted() {
        errors.add("accept_privacy", "Please accept the privacy policy.");
    }
}

/// The voucher of the typed code, if there is one and it may be used now.
fn parse_voucher(
    raw: &str,
    found: Option<VoucherTerms>,
    now: PrimitiveDateTime,
    errors: &mut FieldErrors,
) -> Option<Voucher> {
    let code = normalize_voucher_code(raw);
    if code.is_empty() {
        return None;
    }
    let Some(terms) = found.filter(|t| t.voucher.code == code) else {
        errors.add(
            "voucher_code",
            format!("The voucher code '{}' is not valid.", raw.trim()),
        );
        return None;
    };
    match terms.usable_at(now) {
        Ok(()) => Some(terms.voucher),
        Err(problem) => {
            errors.add("voucher_code", problem.to_string());
            None
        }
    }
}

fn parse_payment_method(
    raw: &str,
    options: &[PaymentMethodOption],
    key: IdempotencyKey,
) -> Result<PaymentSelection, String> {
    if options.is_empty() {
        return Err(
            "No payment method is available at the moment. Please contact the shop.".into(),
        );
    }
    let raw = raw.trim();
    if raw.is_empty() {
        return Err("Please choose a payment method.".into());
    }
    options
        .iter()
        .find(|o| o.form_value() == raw)
        .map(|o| PaymentSelection {
            gateway: o.gateway.clone(),
            method: o.method.clone(),
            idempotency_key: key,
        })
        .ok_or_else(|| "Please choose one of the payment methods shown.".into())
}

pub fn parse_date_of_birth(raw: &str, today: Date, minimum_age: u8) -> Result<Date, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err("Please enter your date of birth.".into());
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let date =
        Date::parse(raw, &format).map_err(|_| format!("'{raw}' is not a date like 1990-04-25."))?;
    if date > today || date.year() < 1900 {
        return Err(format!("'{raw}' is not a possible date of birth."));
    }
    if age_on(date, today) < i32::from(minimum_age) {
        return Err(format!(
            "You must be at least {minimum_age} years old to order."
        ));
    }
    Ok(date)
}

fn age_on(birth: Date, today: Date) -> i32 {
    let had_birthday = (today.month() as u8, today.day()) >= (birth.month() as u8, birth.day());
    today.year() - birth.year() - i32::from(!had_birthday)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::catalogue::Product;
    use crate::domain::money::Money;
    use time::macros::{date, datetime};

    fn eur() -> Currency {
        Currency::parse("EUR").unwrap()
    }

    fn lines() -> Vec<CartLine> {
        vec![CartLine {
            product_id: "mug".into(),
            quantity: 1,
            unit_price: Money::new(1200, eur()),
            product: Some(Product {
                id: "mug".into(),
                name: "Mug".into(),
                description: String::new(),
                price: Money::new(1200, eur()),
                vat_rate_bp: 1900,
                stock: 3,
                active: true,
            }),
        }]
    }

    fn shipping() -> Vec<ShippingMethod> {
        vec![ShippingMethod {
            code: "standard".into(),
            name: "Standard".into(),
            price: Money::new(495, eur()),
            vat_rate_bp: 1900,
            free_above: None,
        }]
    }

    fn methods() -> Vec<PaymentMethodOption> {
        vec![PaymentMethodOption {
            gateway: "offline".into(),
            method: "cash_on_delivery".into(),
            title: "Cash on delivery".into(),
        }]
    }

    fn valid_input() -> CheckoutInput {
        CheckoutInput {
            email: "ann@example.com".into(),
            billing_first_name: "Ann".into(),
            billing_last_name: "Lee".into(),
            billing_street: "Main Street".into(),
            billing_house_number: "1".into(),
            billing_postcode: "10115".into(),
            billing_city: "Berlin".into(),
            billing_country: "DE".into(),
            delivery_same_as_billing: "on".into(),
            shipping_method: "standard".into(),
            date_of_birth: "1990-04-25".into(),
            payment_method: "offline:cash_on_delivery".into(),
            accept_terms: "on".into(),
            accept_privacy: "on".into(),
            ..Default::default()
        }
    }

    fn run(
        input: &CheckoutInput,
        personal: bool,
        voucher: Option<VoucherTerms>,
    ) -> Result<CheckoutDetails, FieldErrors> {
        let shipping = shipping();
        let methods = methods();
        let rules = CheckoutRules {
            use_delivery_forms: true,
            use_personal_data_form: personal,
            privacy_policy_required: true,
            minimum_age: 18,
            today: date!(2026 - 11 - 22),
            now: datetime!(2026-11-22 12:00),
            shipping_methods: &shipping,
            payment_methods: &methods,
            currency: eur(),
        };
        parse(
            input,
            &rules,
            &lines(),
            voucher,
            IdempotencyKey::from_string("k1".into()),
        )
        .map(|(details, _)| details)
    }

    #[test]
    fn a_complete_form_parses() {
        let details = run(&valid_input(), true, None).unwrap();
        assert_eq!(details.delivery(), &details.billing);
        assert_eq!(details.payment.unwrap().method, "cash_on_delivery");
    }

    #[test]
    fn missing_consent_and_payment_are_reported() {
        let input = CheckoutInput {
            accept_terms: String::new(),
            accept_privacy: String::new(),
            payment_method: String::new(),
            ..valid_input()
        };
        let errors = run(&input, false, None).unwrap_err();
        assert!(errors.get("accept_terms").is_some());
        assert!(errors.get("accept_privacy").is_some());
        assert!(errors.get("payment_method").is_some());
    }

    #[test]
    fn a_separate_delivery_address_is_checked() {
        let input = CheckoutInput {
            delivery_same_as_billing: String::new(),
            ..valid_input()
        };
        let errors = run(&input, false, None).unwrap_err();
        assert!(errors.get("delivery_street").is_some());
    }

    #[test]
    fn minimum_age_is_enforced() {
        let today = date!(2026 - 11 - 22);
        assert!(parse_date_of_birth("2008-11-22", today, 18).is_ok());
        assert!(parse_date_of_birth("2008-11-23", today, 18).is_err());
        assert!(parse_date_of_birth("22.11.1990", today, 18).is_err());
        assert!(parse_date_of_birth("2030-01-01", today, 18).is_err());
    }

    #[test]
    fn a_full_voucher_needs_no_payment_method() {
        let input = CheckoutInput {
            payment_method: String::new(),
            voucher_code: "free".into(),
            ..valid_input()
        };
        let details = run(&input, false, Some(terms("FREE", 100))).unwrap();
        assert!(details.payment.is_none());
    }

    fn terms(code: &str, percent: i64) -> VoucherTerms {
        VoucherTerms {
            voucher: Voucher {
                code: code.into(),
                percent,
            },
            active: true,
            valid_until: None,
            max_uses: None,
            uses: 0,
        }
    }

    #[test]
    fn a_voucher_past_its_end_is_an_error_at_its_field() {
        let input = CheckoutInput {
            voucher_code: " welcome10 ".into(),
            ..valid_input()
        };
        let expired = VoucherTerms {
            valid_until: Some(datetime!(2026-11-21 23:59)),
            ..terms("WELCOME10", 10)
        };
        let errors = run(&input, false, Some(expired)).unwrap_err();
        assert_eq!(
            errors.get("voucher_code"),
            Some("The voucher WELCOME10 has expired.")
        );
        let details = run(&input, false, Some(terms("WELCOME10", 10))).unwrap();
        assert_eq!(details.voucher.map(|v| v.percent), Some(10));
    }

    #[test]
    fn an_unknown_voucher_is_an_error() {
        let input = CheckoutInput {
            voucher_code: "nope".into(),
            ..valid_input()
        };
        assert!(
            run(&input, false, None)
                .unwrap_err()
                .get("voucher_code")
                .is_some()
        );
    }

    #[test]
    fn prefill_round_trips_the_details() {
        let details = run(&valid_input(), true, None).unwrap();
        let mut input = CheckoutInput::default();
        input.prefill_from(&details);
        assert_eq!(input.billing_city, "Berlin");
        assert!(input.same_as_billing());
        assert!(!input.terms_accepted());
    }
}
