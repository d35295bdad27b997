//! Every field of the checkout form: a bad value gets a message next to the
//! field and in the summary, and every typed value is kept.

use crate::helpers::*;
use reqwest::StatusCode;

const CASES: &[(&str, &str, &str)] = &[
    ("email", "ann.example.com", "is not a valid email address"),
    ("billing_first_name", "", "Please enter your first name."),
    ("billing_last_name", " ", "Please enter your last name."),
    ("billing_street", "", "Please enter your street."),
    (
        "billing_house_number",
        "first",
        "A house number starts with a digit",
    ),
    (
        "billing_postcode",
        "1011",
        "is not a valid postcode for Germany.",
    ),
    ("billing_city", "", "Please enter your city."),
    (
        "billing_country",
        "XX",
        "We do not deliver to this country.",
    ),
    (
        "billing_phone",
        "call me maybe",
        "Please enter a phone number with 6 to 20 digits",
    ),
    (
        "shipping_method",
        "teleport",
        "Please choose one of the shipping methods shown.",
    ),
    (
        "payment_method",
        "offline:cheque",
        "Please choose one of the payment methods shown.",
    ),
    (
        "voucher_code",
        "NOPE",
        "The voucher code &#39;NOPE&#39; is not valid.",
    ),
];

async fn each_field_reports_its_problem_and_keeps_the_values(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_to_cart("espresso-cup", 1).await;
    for (field, bad, message) in CASES {
        let form = with(checkout_form(), field, bad);
        let response = app.submit_checkout(&form).await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field}"
        );
        let page = response.text().await.unwrap();
        assert!(
            page.contains(&format!("id=\"{field}-error\"")),
            "{field}: no error next to the field"
        );
        assert!(page.contains(message), "{field}: message missing");
        assert!(
            page.contains("data-testid=\"error-summary\""),
            "{field}: no summary"
        );
        for (other, value) in checkout_form() {
            if other != *field && other.starts_with("billing_") && other != "billing_country" {
                assert!(
                    page.contains(&format!("value=\"{value}\"")),
                    "{field}: {other} was not kept"
                );
            }
        }
    }
    assert_eq!(app.order_count().await, 0);
}

async fn a_too_long_company_name_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_to_cart("espresso-cup", 1).await;
    let long = "x".repeat(101);
    let page = app
        .submit_checkout(&with(checkout_form(), "billing_company", &long))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Company can be at most 100 characters long."));
}

async fn a_separate_delivery_address_is_checked_field_by_field(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_to_cart("espresso-cup", 1).await;
    let form = with(
        without(checkout_form(), "delivery_same_as_billing"),
        "delivery_postcode",
        "ABC",
    );
    let response = app.submit_checkout(&form).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = response.text().await.unwrap();
    for field in [
        "delivery_first_name",
        "delivery_last_name",
        "delivery_street",
        "delivery_house_number",
        "delivery_city",
        "delivery_country",
    ] {
        assert!(page.contains(&format!("id=\"{field}-error\"")), "{field}");
    }
    assert!(page.contains("value=\"ABC\""), "the typed postcode is kept");
}

async fn missing_terms_and_several_errors_are_listed_together(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_to_cart("espresso-cup", 1).await;
    let form = with(without(checkout_form(), "accept_terms"), "email", "");
    let page = app.submit_checkout(&form).await.text().await.unwrap();
    assert!(page.contains("Please correct 2 fields"));
    assert!(page.contains("Please accept the terms and conditions."));
    assert!(page.contains("Please enter your email address."));
}

async fn typed_markup_is_shown_as_text(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_to_cart("espresso-cup", 1).await;
    let form = with(
        with(checkout_form(), "billing_city", "<script>alert(1)</script>"),
        "email",
        "",
    );
    let page = app.submit_checkout(&form).await.text().await.unwrap();
    assert!(!page.contains("<script>alert(1)</script>"));
    assert!(page.contains("value=\"&#60;script&#62;alert(1)&#60;/script&#62;\""));
}

on_both_backends!(
    each_field_reports_its_problem_and_keeps_the_values,
    a_too_long_company_name_is_refused,
    a_separate_delivery_address_is_checked_field_by_field,
    missing_terms_and_several_errors_are_listed_together,
    typed_markup_is_shown_as_text,
);
