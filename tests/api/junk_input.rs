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

on_both_backends!(a_postcode_with_a_multibyte_letter_is_a_field_error);
