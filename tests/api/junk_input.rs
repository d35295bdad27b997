//! Junk a shopper or a bot may send: each case answers with a clear
//! message, keeps what was typed, and never panics or answers 500.

use crate::helpers::*;
use kassa::payment::signature;
use reqwest::StatusCode;

/// Postcodes are checked by characters, not bytes: a multi-byte letter
/// where a byte offset would fall must not split it.
async fn a_postcode_with_a_multibyte_letter_is_a_field_error(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_to_cart("espresso-cup", 1).await;
    for (country, postcode) in [
        ("NL", "123 ÄB"),
        ("NL", "1234Ä"),
        ("SE", "1234Ä"),
        ("DE", "1011Ä"),
    ] {
        let form = with(
            with(checkout_form(), "billing_country", country),
            "billing_postcode",
            postcode,
        );
        let response = app.submit_checkout(&form).await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{country} {postcode}"
        );
        let page = response.text().await.unwrap();
        assert!(
            page.contains("id=\"billing_postcode-error\""),
            "{postcode}: no error next to the field"
        );
        assert!(page.contains("is not a valid postcode"), "{postcode}");
        assert!(
            page.contains(&format!("value=\"{postcode}\"")),
            "{postcode}: the typed postcode is not kept"
        );
        assert!(
            page.contains("value=\"Invalidenstraße\""),
            "other values kept"
        );
    }
    assert_eq!(app.order_count().await, 0);
}

/// What a shopper types is not echoed into the session: a 10 KB quantity
/// would not fit into the session cookie.
async fn a_huge_junk_quantity_gets_a_message_and_the_shop_goes_on(backend: Backend) {
    let app = spawn_app(backend).await;
    let junk = "x".repeat(10 * 1024);
    for path in ["/cart/add", "/cart/update"] {
        let response = app
            .post(
                path,
                &[
                    ("product_id", "espresso-cup".to_owned()),
                    ("quantity", junk.clone()),
                ],
            )
            .await;
        assert_redirect(&response, "/cart");
        let cart = app.get("/cart").await;
        assert_eq!(cart.status(), StatusCode::OK, "{path}: the cart page loads");
        let page = cart.text().await.unwrap();
        assert!(page.contains("whole number"), "{path}: {page}");
        assert!(!page.contains("xxxxxxxxxx"), "{path}: the junk is echoed");
        // Make a line for the update, and show that the session still works.
        app.add_to_cart("espresso-cup", 1).await;
        assert!(app.get_html("/cart").await.contains("Espresso cup"));
    }
}

/// A bot that sends a form again and again without loading a page in
/// between: the messages for the next page do not pile up in the session.
async fn messages_of_forms_sent_without_a_page_between_do_not_pile_up(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.csrf().await;
    for quantity in 0..120 {
        let response = app
            .client
            .post(app.url("/cart/add"))
            .form(&[
                ("csrf_token", token.clone()),
                ("product_id", "espresso-cup".to_owned()),
                ("quantity", format!("{}", 100 + quantity)),
            ])
            .send()
            .await
            .expect("POST");
        assert_redirect(&response, "/cart");
    }
    let cart = app.get("/cart").await;
    assert_eq!(cart.status(), StatusCode::OK);
    let page = cart.text().await.unwrap();
    assert_eq!(
        page.matches("Please choose a quantity from 1 to 99.")
            .count(),
        1,
        "{page}"
    );
}

/// A form over the body limit gets 413 and a page that says so.
async fn a_form_over_the_size_limit_is_refused_with_a_clear_page(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_to_cart("espresso-cup", 1).await;
    let form = with(checkout_form(), "billing_company", &"x".repeat(70 * 1024));
    let response = app.submit_checkout(&form).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let page = response.text().await.unwrap();
    assert!(page.contains("larger than the shop accepts"), "{page}");
    assert!(app.get_html("/cart").await.contains("Espresso cup"));
}

/// Webhook signatures with times at the ends of the number range are old
/// signatures like any other: 401, not an overflow.
async fn a_webhook_signed_at_the_end_of_time_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    for header in [
        "t=-9223372036854775808,v1=00",
        "t=9223372036854775807,v1=00",
        "t=-1,v1=00",
    ] {
        let response = app
            .client
            .post(app.url("/webhooks/hosted"))
            .header("Kassa-Signature", header)
            .body("{}")
            .send()
            .await
            .unwrap_or_else(|e| panic!("{header}: the connection dropped: {e}"));
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{header}");
    }
}

/// PostgreSQL cannot store or compare text with a NUL character: such text
/// anywhere in a request is refused or ignored like any other junk.
async fn a_nul_character_anywhere_is_junk_like_any_other(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_to_cart("espresso-cup", 1).await;
    let nul = "a\0b".to_owned();
    let mut failures = Vec::new();
    for path in [
        "/products/a%00b",
        "/checkout/success?order=K-%00&token=a%00b",
        "/account/login?next=/%00",
        "/checkout/return?process=a%00b&sig=00",
    ] {
        let status = app.get(path).await.status();
        if status.is_server_error() {
            failures.push(format!("GET {path}: {status}"));
        }
    }
    for (path, fields) in [
        (
            "/cart/add",
            vec![("product_id", nul.clone()), ("quantity", "1".into())],
        ),
        (
            "/cart/update",
            vec![("product_id", nul.clone()), ("quantity", "1".into())],
        ),
        ("/cart/remove", vec![("product_id", nul.clone())]),
        (
            "/account/login",
            vec![("email", nul.clone()), ("password", nul.clone())],
        ),
        (
            "/account/register",
            vec![("email", nul.clone()), ("password", nul.clone())],
        ),
        (
            "/checkout/restore",
            vec![("order", nul.clone()), ("token", nul.clone())],
        ),
    ] {
        let status = app.post(path, &fields).await.status();
        if status.is_server_error() {
            failures.push(format!("POST {path}: {status}"));
        }
    }
    for field in [
        "voucher_code",
        "email",
        "billing_city",
        "payment_method",
        "shipping_method",
    ] {
        let response = app
            .submit_checkout(&with(checkout_form(), field, &nul))
            .await;
        let status = response.status();
        let page = response.text().await.unwrap();
        if status != StatusCode::UNPROCESSABLE_ENTITY
            || !page.contains(&format!("id=\"{field}-error\""))
        {
            failures.push(format!("POST /checkout with {field}: {status}"));
        }
    }
    for event in [
        r#"{"id":"evt_1","type":"payment.succeeded","session_id":"ps_\u0000"}"#,
        r#"{"id":"evt_\u0000","type":"payment.succeeded","session_id":"ps_1"}"#,
    ] {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let header = signature::sign(&app.settings.webhook_secret(), now, event.as_bytes());
        let response = app
            .client
            .post(app.url("/webhooks/hosted"))
            .header(signature::HEADER, header)
            .body(event)
            .send()
            .await
            .unwrap();
        // A signed event naming no payment of the shop: answered, so the
        // provider does not send it again and again.
        if response.status().is_server_error() {
            failures.push(format!("webhook {event}: {}", response.status()));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(app.get_html("/cart").await.contains("Espresso cup"));
}

/// A mangled return link from the provider: a page that says so.
async fn a_return_link_with_a_bad_signature_shows_a_page(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app.get("/checkout/return?process=p-1&sig=00").await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let page = response.text().await.unwrap();
    assert!(page.contains("There is nothing at this address."), "{page}");
}

on_both_backends!(
    a_return_link_with_a_bad_signature_shows_a_page,
    a_nul_character_anywhere_is_junk_like_any_other,
    a_webhook_signed_at_the_end_of_time_is_refused,
    a_form_over_the_size_limit_is_refused_with_a_clear_page,
    messages_of_forms_sent_without_a_page_between_do_not_pile_up,
    a_postcode_with_a_multibyte_letter_is_a_field_error,
    a_huge_junk_quantity_gets_a_message_and_the_shop_goes_on,
);
