//! Vouchers are checked against the shop's records when the form is sent
//! and again when the order is placed; a limited voucher is never used more
//! often than its limit allows, however many shoppers order at once.

use crate::helpers::*;
use kassa::store::catalogue::VoucherChange;
use reqwest::StatusCode;
use time::{Duration, OffsetDateTime, PrimitiveDateTime};

/// An hour ago, in UTC as the shop keeps times.
fn an_hour_ago() -> PrimitiveDateTime {
    let then = OffsetDateTime::now_utc() - Duration::hours(1);
    PrimitiveDateTime::new(then.date(), then.time())
}

fn form_with_voucher(code: &str) -> Vec<(&'static str, String)> {
    with(checkout_form(), "voucher_code", code)
}

async fn change_voucher(app: &TestApp, code: &str, change: VoucherChange) {
    assert!(
        app.shop.store().change_voucher(code, change).await.unwrap(),
        "{code} exists"
    );
}

async fn uses_of(app: &TestApp, code: &str) -> i64 {
    app.shop.store().voucher(code).await.unwrap().unwrap().uses
}

/// A cart with the voucher applied, on the review page.
async fn reviewed_with_voucher(app: &TestApp, code: &str) {
    app.add_to_cart("hand-grinder", 1).await;
    assert_redirect(
        &app.submit_checkout(&form_with_voucher(code)).await,
        "/checkout/review",
    );
    let review = app.get_html("/checkout/review").await;
    assert!(
        review.contains("data-testid=\"discount\">-8.90 EUR<"),
        "the review shows the discount"
    );
}

/// "Place order" on the review and on through the offline payment: the
/// success URL, or the checkout page the shopper was sent back to.
async fn place_from_review(app: &TestApp) -> Result<String, String> {
    let placed = app.confirm_review().await;
    if location(&placed) == "/checkout" {
        return Err(app.get_html("/checkout").await);
    }
    Ok(assert_placed(&placed))
}

/// The order is refused with `message`, the cart stays the shopper's, and
/// without the voucher it is ordered.
async fn refused_with_the_cart_intact(app: &TestApp, message: &str) {
    let page = place_from_review(app)
        .await
        .expect_err("the order is refused");
    assert!(page.contains(message), "the shopper sees: {message}");
    assert!(
        page.contains("data-testid=\"cart-count\">1<"),
        "the cart is intact"
    );
    assert_eq!(app.order_count().await, 0);
    assert_eq!(app.stock_of("hand-grinder").await, 8, "no stock taken");
    assert_eq!(uses_of(app, "WELCOME10").await, 0, "no use counted");
    let success = app.buy(&checkout_form()).await;
    let order = app.order(&order_number(&success)).await;
    assert_eq!(order.totals.discount.minor, 0);
}

async fn a_voucher_switched_off_after_the_review_stops_the_order(backend: Backend) {
    let app = spawn_app(backend).await;
    reviewed_with_voucher(&app, "welcome10").await;
    let off = VoucherChange {
        active: Some(false),
        ..Default::default()
    };
    change_voucher(&app, "WELCOME10", off).await;
    refused_with_the_cart_intact(&app, "The voucher WELCOME10 is no longer valid.").await;
}

async fn a_voucher_expired_after_the_review_stops_the_order(backend: Backend) {
    let app = spawn_app(backend).await;
    reviewed_with_voucher(&app, "WELCOME10").await;
    let ended = VoucherChange {
        valid_until: Some(Some(an_hour_ago())),
        ..Default::default()
    };
    change_voucher(&app, "WELCOME10", ended).await;
    refused_with_the_cart_intact(&app, "The voucher WELCOME10 has expired.").await;
}

async fn a_voucher_changed_after_the_review_is_ordered_as_it_is_now(backend: Backend) {
    let app = spawn_app(backend).await;
    reviewed_with_voucher(&app, "WELCOME10").await;
    let more = VoucherChange {
        percent: Some(20),
        ..Default::default()
    };
    change_voucher(&app, "WELCOME10", more).await;
    let page = place_from_review(&app)
        .await
        .expect_err("the reviewed total no longer holds");
    assert!(page.contains("The total of your order changed"));
    assert_eq!(app.order_count().await, 0);
    assert_eq!(uses_of(&app, "WELCOME10").await, 0);
}

async fn the_last_use_goes_to_one_of_two_shoppers_ordering_at_once(backend: Backend) {
    let ann = spawn_app(backend).await;
    let bob = ann.with_client(&client());
    reviewed_with_voucher(&ann, "WELCOME10").await;
    reviewed_with_voucher(&bob, "WELCOME10").await;
    let once = VoucherChange {
        max_uses: Some(Some(1)),
        ..Default::default()
    };
    change_voucher(&ann, "WELCOME10", once).await;

    let (a, b) = tokio::join!(place_from_review(&ann), place_from_review(&bob));
    let (placed, refused) = match (a, b) {
        (Ok(placed), Err(refused)) | (Err(refused), Ok(placed)) => (placed, refused),
        (a, b) => panic!(
            "exactly one order uses the voucher: ann {:?}, bob {:?}",
            a.map_err(|_| "refused"),
            b.map_err(|_| "refused")
        ),
    };
    assert!(refused.contains("The voucher WELCOME10 has been used up."));
    assert_eq!(ann.order_count().await, 1);
    assert_eq!(uses_of(&ann, "WELCOME10").await, 1);
    let order = ann.order(&order_number(&placed)).await;
    assert_eq!(order.totals.discount.minor, 890);
}

async fn the_form_refuses_an_expired_voucher_at_its_field(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_to_cart("hand-grinder", 1).await;
    let ended = VoucherChange {
        valid_until: Some(Some(an_hour_ago())),
        ..Default::default()
    };
    change_voucher(&app, "WELCOME10", ended).await;
    let response = app.submit_checkout(&form_with_voucher(" welcome10")).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = response.text().await.unwrap();
    let error =
        "<p class=\"field-error\" id=\"voucher_code-error\">The voucher WELCOME10 has expired.</p>";
    assert!(page.contains(error), "the error is next to the field");
    assert!(page.contains("value=\" welcome10\""), "the code is kept");
    assert_redirect(&app.get("/checkout/review").await, "/checkout");

    let used_up = VoucherChange {
        valid_until: Some(None),
        max_uses: Some(Some(0)),
        ..Default::default()
    };
    change_voucher(&app, "WELCOME10", used_up).await;
    let page = app
        .submit_checkout(&form_with_voucher("WELCOME10"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("The voucher WELCOME10 has been used up."));
}

async fn a_cancelled_order_gives_its_voucher_use_back(backend: Backend) {
    let app = spawn_app(backend).await;
    let once = VoucherChange {
        max_uses: Some(Some(1)),
        ..Default::default()
    };
    change_voucher(&app, "WELCOME10", once).await;
    app.add_to_cart("hand-grinder", 1).await;
    let success = app.buy(&form_with_voucher("WELCOME10")).await;
    assert_eq!(uses_of(&app, "WELCOME10").await, 1);
    let order = app.order(&order_number(&success)).await;
    app.shop
        .store()
        .cancel_order(
            &order.id,
            kassa::store::orders::Cancellation::Rollback { fence: None },
        )
        .await
        .unwrap();
    app.shop
        .store()
        .cancel_order(
            &order.id,
            kassa::store::orders::Cancellation::Rollback { fence: None },
        )
        .await
        .unwrap();
    assert_eq!(uses_of(&app, "WELCOME10").await, 0, "given back once");

    let other = app.with_client(&client());
    other.add_to_cart("hand-grinder", 1).await;
    let success = other.buy(&form_with_voucher("WELCOME10")).await;
    let order = other.order(&order_number(&success)).await;
    assert_eq!(order.totals.discount.minor, 890, "the use is there again");
}

on_both_backends!(
    a_voucher_switched_off_after_the_review_stops_the_order,
    a_voucher_expired_after_the_review_stops_the_order,
    a_voucher_changed_after_the_review_is_ordered_as_it_is_now,
    the_last_use_goes_to_one_of_two_shoppers_ordering_at_once,
    the_form_refuses_an_expired_voucher_at_its_field,
    a_cancelled_order_gives_its_voucher_use_back,
);
