//! Placing an order happens once per cart, whatever the shopper clicks.

use crate::helpers::*;
use kassa::store::catalogue::ProductChange;
use reqwest::StatusCode;

/// Fills a cart and places it (cash on delivery: at once).
async fn confirmed_cart(app: &TestApp) {
    app.add_to_cart("hand-grinder", 1).await;
    assert_redirect(
        &app.submit_checkout(&checkout_form()).await,
        "/checkout/review",
    );
    assert_placed(&app.confirm_review().await);
}

async fn twenty_concurrent_place_order_requests_give_one_order(backend: Backend) {
    let app = spawn_app(backend).await;
    confirmed_cart(&app).await;

    let requests = (0..20).map(|_| app.client.get(app.url("/checkout/placeorder")).send());
    let responses = futures::future::join_all(requests).await;
    let mut targets: Vec<String> = responses
        .iter()
        .map(|r| {
            let r = r.as_ref().expect("request");
            assert_eq!(r.status(), StatusCode::SEE_OTHER);
            location(r)
        })
        .collect();
    targets.dedup();
    assert_eq!(
        targets.len(),
        1,
        "every request lands on the same success page: {targets:?}"
    );
    assert!(targets[0].starts_with("/checkout/success?order=K-000001"));
    assert_eq!(app.order_count().await, 1);
    assert_eq!(app.stock_of("hand-grinder").await, 7, "stock taken once");
}

async fn refresh_and_back_and_resubmit_land_on_the_same_order(backend: Backend) {
    let app = spawn_app(backend).await;
    confirmed_cart(&app).await;
    let first = app.get("/checkout/placeorder").await;
    let success = location(&first);

    // Refresh of the place-order step.
    assert_redirect(&app.get("/checkout/placeorder").await, &success);
    // Back to the review and "Place order" again.
    assert_redirect(&app.confirm_review().await, &success);
    // Back to the payment step.
    assert_redirect(&app.get("/checkout/payment").await, &success);
    // Back to the form and send it again.
    assert_redirect(&app.submit_checkout(&checkout_form()).await, &success);
    assert_eq!(app.order_count().await, 1);
}

async fn place_order_without_confirmation_does_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_to_cart("hand-grinder", 1).await;
    assert_redirect(
        &app.submit_checkout(&checkout_form()).await,
        "/checkout/review",
    );
    // Skipping the review's "Place order" button.
    assert_redirect(&app.get("/checkout/placeorder").await, "/checkout");
    assert_redirect(&app.get("/checkout/payment").await, "/checkout");
    assert_eq!(app.order_count().await, 0);
}

async fn stock_sold_out_between_review_and_placing_stops_the_order(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_to_cart("hand-grinder", 1).await;
    assert_redirect(
        &app.submit_checkout(&checkout_form()).await,
        "/checkout/review",
    );
    let reviewed = app.reviewed_version().await;
    assert!(reviewed.is_some(), "the review is shown");
    let change = ProductChange {
        stock: Some(0),
        ..Default::default()
    };
    assert!(
        app.shop
            .store()
            .change_product("hand-grinder", change)
            .await
            .unwrap()
    );
    // "Place order" on the review page left open.
    assert_redirect(&app.place_reviewed(reviewed).await, "/checkout");
    assert_redirect(&app.get("/checkout/placeorder").await, "/checkout");
    assert_eq!(app.order_count().await, 0);
    let page = app.get_html("/checkout").await;
    assert!(
        page.contains("Hand grinder is out of stock"),
        "the reason is shown"
    );
    assert!(
        page.contains("data-testid=\"cart-count\">1<"),
        "the cart is intact"
    );
}

async fn a_post_without_the_csrf_token_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_to_cart("hand-grinder", 1).await;
    let form = checkout_form();
    let forged = app
        .client
        .post(app.url("/checkout"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let wrong = with(form, "csrf_token", "not-the-token");
    let forged = app
        .client
        .post(app.url("/checkout"))
        .form(&wrong)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    // Nothing was stored: the review has nothing to show.
    assert_redirect(&app.get("/checkout/review").await, "/checkout");
    let other = client();
    let cross_site = other
        .post(app.url("/cart/add"))
        .form(&[("product_id", "espresso-cup"), ("quantity", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), StatusCode::FORBIDDEN);
}

/// Each way a cart goes bad after it was filled: shown on the checkout page,
/// refused on submit, never placed.
async fn an_invalid_cart_is_shown_and_never_placed(backend: Backend) {
    let kinds: [(&str, ProductChange, &str); 3] = [
        (
            "out of stock",
            ProductChange {
                stock: Some(0),
                ..Default::default()
            },
            "Hand grinder is out of stock",
        ),
        (
            "removed",
            ProductChange {
                active: Some(false),
                ..Default::default()
            },
            "Hand grinder is no longer available",
        ),
        (
            "repriced",
            ProductChange {
                price_minor: Some(9900),
                ..Default::default()
            },
            "The price of Hand grinder changed from 89.00 EUR to 99.00 EUR",
        ),
    ];
    for (kind, change, reason) in kinds {
        let app = spawn_app(backend).await;
        app.add_to_cart("hand-grinder", 1).await;
        app.submit_checkout(&checkout_form()).await;
        let reviewed = app.reviewed_version().await;
        app.shop
            .store()
            .change_product("hand-grinder", change)
            .await
            .unwrap();

        let page = app.get_html("/checkout").await;
        assert!(
            page.contains(reason),
            "{kind}: reason shown on the checkout page"
        );
        let submitted = app.submit_checkout(&checkout_form()).await;
        assert_eq!(
            submitted.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{kind}"
        );
        assert_redirect(&app.get("/checkout/review").await, "/checkout");
        // Placing it anyway (a review page left open) fails the attempt.
        assert_redirect(&app.place_reviewed(reviewed).await, "/checkout");
        assert_redirect(&app.get("/checkout/placeorder").await, "/checkout");
        assert_eq!(app.order_count().await, 0, "{kind}: nothing placed");
        assert!(
            app.get_html("/cart").await.contains(reason),
            "{kind}: reason shown on the cart page"
        );
    }
}

async fn only_the_reviewed_cart_is_ordered(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_to_cart("hand-grinder", 1).await;
    assert_redirect(
        &app.submit_checkout(&checkout_form()).await,
        "/checkout/review",
    );
    let review = app.get_html("/checkout/review").await;
    let marker = "name=\"cart_version\" value=\"";
    let start = review
        .find(marker)
        .expect("the review names its cart version")
        + marker.len();
    let version = review[start..].split('"').next().unwrap().to_owned();
    // Another tab adds an item after the review was shown.
    app.add_to_cart("espresso-cup", 1).await;
    let placed = app
        .post("/checkout/review", &[("cart_version", version)])
        .await;
    assert_redirect(&placed, "/checkout/review");
    assert_eq!(app.order_count().await, 0);
    let page = app.get_html("/checkout/review").await;
    assert!(page.contains("Your cart changed since you reviewed it"));
    assert!(
        page.contains("Espresso cup"),
        "the review shows the cart as it is now"
    );
}

on_both_backends!(
    only_the_reviewed_cart_is_ordered,
    twenty_concurrent_place_order_requests_give_one_order,
    refresh_and_back_and_resubmit_land_on_the_same_order,
    place_order_without_confirmation_does_nothing,
    stock_sold_out_between_review_and_placing_stops_the_order,
    a_post_without_the_csrf_token_is_refused,
    an_invalid_cart_is_shown_and_never_placed,
);
