//! Catalogue and cart.

use crate::helpers::*;
use kassa::store::catalogue::ProductChange;
use reqwest::StatusCode;

async fn the_catalogue_shows_the_demo_products(backend: Backend) {
    let app = spawn_app(backend).await;
    let page = app.get_html("/").await;
    assert!(page.matches("class=\"product-card\"").count() >= 8);
    let product = app.get("/products/hand-grinder").await;
    assert_eq!(product.status(), StatusCode::OK);
    assert!(product.text().await.unwrap().contains("89.00 EUR"));
    assert_eq!(
        app.get("/products/nope").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/no/such/page").await.status(),
        StatusCode::NOT_FOUND
    );
}

async fn add_change_and_remove_lines(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_to_cart("espresso-cup", 2).await;
    app.add_to_cart("espresso-cup", 1).await;
    let page = app.get_html("/cart").await;
    assert!(
        page.contains("value=\"3\" class=\"qty\""),
        "quantities add up"
    );
    assert!(page.contains("38.70 EUR"));

    let updated = app
        .post(
            "/cart/update",
            &[
                ("product_id", "espresso-cup".into()),
                ("quantity", "5".into()),
            ],
        )
        .await;
    assert_redirect(&updated, "/cart");
    assert!(
        app.get_html("/cart")
            .await
            .contains("data-testid=\"cart-count\">5<")
    );

    app.post("/cart/remove", &[("product_id", "espresso-cup".into())])
        .await;
    let page = app.get_html("/cart").await;
    assert!(page.contains("Your cart is empty"));
}

async fn stock_limits_what_fits_in_the_cart(backend: Backend) {
    let app = spawn_app(backend).await;
    // The demo has 3 travel mugs.
    app.add_to_cart("travel-mug", 3).await;
    app.add_to_cart("travel-mug", 1).await;
    let page = app.get_html("/cart").await;
    assert!(
        page.contains("Only 3 of Travel mug are in stock."),
        "{page}"
    );
    assert!(page.contains("data-testid=\"cart-count\">3<"));

    let bad = app.add_to_cart("espresso-cup", 0).await;
    assert_redirect(&bad, "/cart");
    assert!(
        app.get_html("/cart")
            .await
            .contains("Please choose a quantity from 1 to 99.")
    );
}

/// The espresso cup costs 14.90 EUR from now on (12.90 in the demo).
async fn reprice_espresso_cup(app: &TestApp) {
    let change = ProductChange {
        price_minor: Some(1490),
        ..Default::default()
    };
    app.shop
        .store()
        .change_product("espresso-cup", change)
        .await
        .unwrap();
}

async fn a_repriced_product_is_shown_and_accepted_by_updating_the_line(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_to_cart("espresso-cup", 1).await;
    reprice_espresso_cup(&app).await;
    let page = app.get_html("/cart").await;
    assert!(page.contains("The price of Espresso cup changed from 12.90 EUR to 14.90 EUR"));
    app.post(
        "/cart/update",
        &[
            ("product_id", "espresso-cup".into()),
            ("quantity", "1".into()),
        ],
    )
    .await;
    let page = app.get_html("/cart").await;
    assert!(!page.contains("data-testid=\"cart-problems\""), "{page}");
    assert!(page.contains("14.90 EUR"));
}

/// On SQLite a cart is served from memory while unchanged: a change to its
/// products, written by anyone, must still show on the next page.
async fn a_cart_already_shown_shows_a_later_price_change(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_to_cart("espresso-cup", 1).await;
    for _ in 0..2 {
        let page = app.get_html("/cart").await;
        assert!(!page.contains("data-testid=\"cart-problems\""), "{page}");
    }
    reprice_espresso_cup(&app).await;
    let page = app.get_html("/cart").await;
    assert!(
        page.contains("The price of Espresso cup changed from 12.90 EUR to 14.90 EUR"),
        "{page}"
    );
}

async fn demo_stock_seeds_every_product_with_it(backend: Backend) {
    let listed = spawn_app(backend).await;
    assert_eq!(
        listed.stock_of("travel-mug").await,
        3,
        "as the catalogue lists"
    );
    let app = spawn_app_with(backend, |s| s.shop.demo_stock = Some(500)).await;
    for product in ["travel-mug", "hand-grinder", "filter-papers"] {
        assert_eq!(app.stock_of(product).await, 500, "{product}");
    }
    // Ten travel mugs fit in the cart now; the listed stock has three.
    app.add_to_cart("travel-mug", 10).await;
    assert!(
        app.get_html("/cart")
            .await
            .contains("data-testid=\"cart-count\">10<")
    );
}

on_both_backends!(
    a_cart_already_shown_shows_a_later_price_change,
    demo_stock_seeds_every_product_with_it,
    the_catalogue_shows_the_demo_products,
    add_change_and_remove_lines,
    stock_limits_what_fits_in_the_cart,
    a_repriced_product_is_shown_and_accepted_by_updating_the_line,
);
