//! Junk a shopper or a bot may send: each case answers with a clear
//! message, keeps what was typed, and never panics or answers 500.

use crate::helpers::*;
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

on_both_backends!(
    a_webhook_signed_at_the_end_of_time_is_refused,
    a_form_over_the_size_limit_is_refused_with_a_clear_page,
    messages_of_forms_sent_without_a_page_between_do_not_pile_up,
    a_postcode_with_a_multibyte_letter_is_a_field_error,
    a_huge_junk_quantity_gets_a_message_and_the_shop_goes_on,
);
