//! The whole shopper flow with the offline provider.

use crate::helpers::*;
use kassa::domain::order::OrderStatus;
use kassa::domain::payment::PaymentStatus;
use reqwest::StatusCode;

async fn a_guest_buys_from_start_to_success(backend: Backend) {
    let app = spawn_app(backend).await;
    assert_redirect(&app.add_to_cart("hand-grinder", 1).await, "/cart");
    assert_redirect(&app.add_to_cart("filter-papers", 2).await, "/cart");
    let cart = app.get_html("/cart").await;
    assert!(cart.contains("Hand grinder"));
    assert!(
        cart.contains("data-testid=\"cart-count\">3<"),
        "header shows 3 items"
    );

    let start = app.get("/checkout/start").await;
    assert_eq!(start.status(), StatusCode::OK);
    assert!(start.text().await.unwrap().contains("Continue as guest"));
    assert_eq!(app.get("/checkout").await.status(), StatusCode::OK);

    assert_redirect(
        &app.submit_checkout(&checkout_form()).await,
        "/checkout/review",
    );
    let review = app.get_html("/checkout/review").await;
    // 89.00 + 2 × 5.90 = 100.80: standard shipping is free from 50.00.
    assert!(
        review.contains("data-testid=\"total\">100.80 EUR"),
        "{review}"
    );
    assert!(review.contains("Cash on delivery"));
    assert!(review.contains("Invalidenstraße 117"));

    // Cash on delivery is placed at once: "Place order" leads to the
    // confirmation, and so do the payment steps afterwards.
    let success_url = assert_placed(&app.confirm_review().await);
    assert!(
        success_url.starts_with("/checkout/success?order=K-000001&token="),
        "{success_url}"
    );
    assert_redirect(&app.get("/checkout/payment").await, &success_url);
    assert_redirect(&app.get("/checkout/placeorder").await, &success_url);

    let page = app.get_html(&success_url).await;
    assert!(page.contains("data-testid=\"order-number\">K-000001<"));
    assert!(
        page.contains("data-testid=\"cart-count\">0<"),
        "the cart is done"
    );
    assert!(
        !page.contains("pay-instructions"),
        "cash on delivery: nothing to pay before"
    );

    let order = app.order("K-000001").await;
    assert_eq!(order.status, OrderStatus::Placed);
    assert_eq!(order.totals.subtotal.minor, 10_080);
    assert_eq!(order.totals.shipping.minor, 0);
    assert_eq!(order.totals.discount.minor, 0);
    assert_eq!(order.totals.total.minor, 10_080);
    // 19 % VAT included in 100.80.
    assert_eq!(order.totals.vat.minor, 1609);
    assert_eq!(order.lines.len(), 2);
    assert_eq!(order.lines[0].name, "Hand grinder");
    assert_eq!(order.lines[1].quantity, 2);
    assert_eq!(order.details.email.as_str(), "ann@example.com");
    let payment = order.payment.expect("payment row");
    assert_eq!(payment.method, "cash_on_delivery");
    assert_eq!(payment.status, PaymentStatus::Pending);
    assert_eq!(payment.amount.minor, 10_080);
    assert_eq!(app.stock_of("hand-grinder").await, 7);
    assert_eq!(app.stock_of("filter-papers").await, 198);
}

async fn a_logged_in_shopper_skips_start_and_gets_the_last_order_prefilled(backend: Backend) {
    let app = spawn_app(backend).await;
    let registered = app
        .post(
            "/account/register",
            &[
                ("email", "bo@example.com".into()),
                ("password", "correct horse battery".into()),
                ("password_confirmation", "correct horse battery".into()),
                ("next", "/".into()),
            ],
        )
        .await;
    assert_redirect(&registered, "/");
    assert!(
        app.get_html("/").await.contains("bo@example.com"),
        "header shows who is logged in"
    );

    app.add_to_cart("espresso-cup", 2).await;
    assert_redirect(&app.get("/checkout/start").await, "/checkout");
    let form = with(
        with(checkout_form(), "email", "bo@example.com"),
        "billing_city",
        "Hamburg",
    );
    let form = with(form, "billing_postcode", "20095");
    let success = app.buy(&form).await;
    let number = order_number(&success);
    let order = app.order(&number).await;
    assert_eq!(order.details.billing.city, "Hamburg");

    // Next order: the form remembers the last one, consent is asked again.
    app.add_to_cart("milk-jug", 1).await;
    let page = app.get_html("/checkout").await;
    assert!(page.contains("value=\"Hamburg\""), "city prefilled");
    assert!(page.contains("value=\"bo@example.com\""), "email prefilled");
    assert!(!page.contains(
        "id=\"accept_terms\" name=\"accept_terms\" type=\"checkbox\" value=\"on\" checked"
    ));
}

async fn cash_in_advance_puts_the_order_on_hold_with_instructions(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_to_cart("house-blend", 1).await;
    let success = app
        .buy(&with(
            checkout_form(),
            "payment_method",
            "offline:cash_in_advance",
        ))
        .await;
    let page = app.get_html(&success).await;
    assert!(page.contains("data-testid=\"pay-instructions\""));
    assert!(page.contains("On hold until payment arrives"));
    let order = app.order(&order_number(&success)).await;
    assert_eq!(order.status, OrderStatus::OnHold);
    assert_eq!(order.payment.unwrap().method, "cash_in_advance");
}

async fn a_full_voucher_skips_payment_and_places_the_order(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_to_cart("travel-mug", 1).await;
    let form = with(
        without(checkout_form(), "payment_method"),
        "voucher_code",
        "freeorder",
    );
    let success = app.buy(&form).await;
    let order = app.order(&order_number(&success)).await;
    assert_eq!(order.totals.total.minor, 0);
    assert_eq!(order.totals.discount.minor, 2490 + 495);
    assert_eq!(order.status, OrderStatus::Placed);
    assert!(order.payment.is_none(), "nothing to pay, no payment");
}

async fn a_percentage_voucher_lowers_the_total(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_to_cart("pour-over-kettle", 1).await;
    let success = app
        .buy(&with(checkout_form(), "voucher_code", "WELCOME10"))
        .await;
    let order = app.order(&order_number(&success)).await;
    // 49.90 + 4.95 shipping, 10 % off each part.
    assert_eq!(order.totals.total.minor, 4491 + 446);
    assert_eq!(order.totals.discount.minor, 4990 + 495 - 4491 - 446);
}

async fn the_success_page_works_without_a_session_and_only_with_the_token(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_to_cart("espresso-cup", 1).await;
    let success = app.buy(&checkout_form()).await;

    let stranger = client();
    let page = stranger.get(app.url(&success)).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    // The token in the address must not leak to other sites.
    assert_eq!(page.headers()["referrer-policy"], "same-origin");
    assert!(page.text().await.unwrap().contains(&order_number(&success)));

    let number = order_number(&success);
    let forged = format!("/checkout/success?order={number}&token=0000");
    assert_eq!(
        stranger
            .get(app.url(&forged))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
    let bare = format!("/checkout/success?order={number}");
    assert_eq!(
        stranger.get(app.url(&bare)).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
}

async fn the_expired_page_explains_that_nothing_was_charged(backend: Backend) {
    let app = spawn_app(backend).await;
    let page = app.get("/checkout/expired").await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("Nothing was ordered and nothing was charged")
    );
}

/// The first click placed the order (cash on delivery places it at once)
/// but its answer never reached the browser: a node that died, or a
/// double click. The second click leads to the same order's confirmation,
/// not to an empty cart.
async fn place_order_clicked_again_after_the_order_was_placed_shows_it(backend: Backend) {
    // A cookie jar of the test's own, so the lost answer can be played.
    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    let browser = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let app = spawn_app(backend).await.with_client(&browser);
    app.add_to_cart("hand-grinder", 1).await;
    assert_redirect(
        &app.submit_checkout(&checkout_form()).await,
        "/checkout/review",
    );
    let reviewed = app.reviewed_version().await;
    let site = reqwest::Url::parse(&app.url("/")).unwrap();
    let cookies_before = reqwest::cookie::CookieStore::cookies(&*jar, &site).expect("a session");
    let first = assert_placed(&app.place_reviewed(reviewed.clone()).await);
    assert_eq!(app.order_count().await, 1, "placed by the first click");
    // Its answer never arrived: the browser still has the cookie it had.
    for cookie in cookies_before.to_str().unwrap().split("; ") {
        jar.add_cookie_str(&format!("{cookie}; Path=/"), &site);
    }
    assert_redirect(
        &app.place_reviewed(reviewed.clone()).await,
        "/checkout/payment",
    );
    assert_redirect(&app.get("/checkout/payment").await, "/checkout/placeorder");
    assert_redirect(&app.get("/checkout/placeorder").await, &first);
    assert_eq!(app.get(&first).await.status(), StatusCode::OK);
    // Once it knows the order, a third click shows it at once.
    assert_redirect(&app.place_reviewed(reviewed).await, &first);
    assert_eq!(app.order_count().await, 1, "still one order");
}

on_both_backends!(
    place_order_clicked_again_after_the_order_was_placed_shows_it,
    a_guest_buys_from_start_to_success,
    a_logged_in_shopper_skips_start_and_gets_the_last_order_prefilled,
    cash_in_advance_puts_the_order_on_hold_with_instructions,
    a_full_voucher_skips_payment_and_places_the_order,
    a_percentage_voucher_lowers_the_total,
    the_success_page_works_without_a_session_and_only_with_the_token,
    the_expired_page_explains_that_nothing_was_charged,
);
