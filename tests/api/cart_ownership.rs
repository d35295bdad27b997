//! A cart belongs to one guest session or one account: a copied session
//! cookie, a login or an order link never hands it to someone else.

use crate::helpers::*;
use crate::hosted::{choose, hosted_shop, to_the_provider, wait_for};
use kassa::domain::order::OrderStatus;
use reqwest::cookie::{CookieStore, Jar};
use std::sync::Arc;

/// A browser whose cookies the test can read and plant.
fn browser(jar: &Arc<Jar>) -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .expect("client")
}

/// Copies the cookies `from` sends to the shop into `to`.
fn copy_cookies(app: &TestApp, from: &Jar, to: &Jar) {
    let url: reqwest::Url = app.url("/").parse().unwrap();
    let header = from.cookies(&url).expect("the first browser has a session");
    for cookie in header.to_str().unwrap().split("; ") {
        to.add_cookie_str(cookie, &url);
    }
}

fn credentials(email: &str) -> Vec<(&'static str, String)> {
    vec![
        ("email", email.into()),
        ("password", "a long password".into()),
    ]
}

/// Registers `email` in a browser of its own and logs it out again.
async fn register(app: &TestApp, email: &str) {
    let other = app.with_client(&client());
    let mut form = credentials(email);
    form.push(("password_confirmation", "a long password".into()));
    assert_redirect(&other.post("/account/register", &form).await, "/");
    assert_redirect(&other.post("/account/logout", &[]).await, "/");
}

async fn log_in(app: &TestApp, email: &str) {
    assert_redirect(&app.post("/account/login", &credentials(email)).await, "/");
}

/// The quantity of `product` on the cart page, 0 when it has no line.
fn quantity_on(cart_page: &str, product: &str) -> i64 {
    let marker = format!("id=\"qty-{product}\"");
    let Some(start) = cart_page.find(&marker) else {
        return 0;
    };
    let rest = &cart_page[start..];
    let value = rest.find("value=\"").expect("a quantity value") + "value=\"".len();
    rest[value..].split('"').next().unwrap().parse().unwrap()
}

fn someone(first_name: &str, street: &str, email: &str) -> Vec<(&'static str, String)> {
    let form = with(checkout_form(), "billing_first_name", first_name);
    let form = with(form, "billing_street", street);
    with(form, "email", email)
}

async fn a_copied_session_cookie_does_not_reach_the_cart_after_login(backend: Backend) {
    let app = spawn_app(backend).await;
    register(&app, "vic@example.com").await;

    // The attacker fills a cart and the form in his session...
    let attacker_jar = Arc::new(Jar::default());
    let attacker = app.with_client(&browser(&attacker_jar));
    attacker.add_to_cart("espresso-cup", 1).await;
    assert_redirect(
        &attacker
            .submit_checkout(&someone("Mallory", "Malloryweg", "mallory@example.com"))
            .await,
        "/checkout/review",
    );
    // ...and plants its cookie in the victim's browser.
    let victim_jar = Arc::new(Jar::default());
    copy_cookies(&app, &attacker_jar, &victim_jar);
    let victim = app.with_client(&browser(&victim_jar));
    log_in(&victim, "vic@example.com").await;
    let victims_form = victim.get_html("/checkout").await;
    assert_redirect(
        &victim
            .submit_checkout(&someone("Victoria", "Victoriaweg", "vic@example.com"))
            .await,
        "/checkout/review",
    );

    // The attacker's old cookie still decodes, but reaches no cart.
    let checkout = attacker.get("/checkout").await;
    let leaving_for = location(&checkout);
    let page = checkout.text().await.unwrap();
    assert!(
        !page.contains("Victoriaweg") && !page.contains("vic@example.com"),
        "the old cookie shows the victim's checkout: {page}"
    );
    assert_eq!(
        leaving_for, "/cart",
        "the old cookie has no cart to check out"
    );
    let review = attacker.get("/checkout/review").await;
    assert_redirect(&review, "/cart");
    let cart = attacker.get_html("/cart").await;
    assert!(cart.contains("Your cart is empty"), "{cart}");
    assert!(cart.contains("data-testid=\"cart-count\">0<"));
    let changed = attacker
        .post(
            "/cart/update",
            &[
                ("product_id", "espresso-cup".into()),
                ("quantity", "7".into()),
            ],
        )
        .await;
    assert_redirect(&changed, "/cart");

    // The victim's cart is the victim's: the planted line, untouched by the
    // attacker, and none of the attacker's details in the form.
    assert_eq!(
        quantity_on(&victim.get_html("/cart").await, "espresso-cup"),
        1
    );
    assert!(
        !victims_form.contains("Mallory") && !victims_form.contains("mallory@example.com"),
        "the planted cart's details prefill the victim's form: {victims_form}"
    );
}

async fn logging_in_merges_the_guest_cart_into_the_accounts_cart(backend: Backend) {
    let app = spawn_app(backend).await;
    register(&app, "gus@example.com").await;
    log_in(&app, "gus@example.com").await;
    app.add_to_cart("espresso-cup", 1).await;
    app.add_to_cart("travel-mug", 2).await;
    assert_redirect(&app.post("/account/logout", &[]).await, "/");

    // As a guest: more of the same, and something new. The demo has 3
    // travel mugs.
    app.add_to_cart("espresso-cup", 2).await;
    app.add_to_cart("travel-mug", 2).await;
    app.add_to_cart("pour-over-kettle", 1).await;
    assert_redirect(
        &app.submit_checkout(&someone("Guest", "Gaststraße", "guest@example.com"))
            .await,
        "/checkout/review",
    );
    log_in(&app, "gus@example.com").await;

    let cart = app.get_html("/cart").await;
    assert_eq!(quantity_on(&cart, "espresso-cup"), 3, "quantities add up");
    assert_eq!(quantity_on(&cart, "travel-mug"), 3, "capped by the stock");
    assert_eq!(quantity_on(&cart, "pour-over-kettle"), 1);
    assert!(cart.contains("data-testid=\"cart-count\">7<"), "{cart}");
    let form = app.get_html("/checkout").await;
    assert!(
        !form.contains("Gaststraße") && !form.contains("guest@example.com"),
        "the guest's details are not carried into the account's cart"
    );

    // The account keeps the merged cart for its next login elsewhere.
    let elsewhere = app.with_client(&client());
    log_in(&elsewhere, "gus@example.com").await;
    assert_eq!(
        quantity_on(&elsewhere.get_html("/cart").await, "espresso-cup"),
        3
    );
}

/// A convenience-store order by `shopper` whose money never came: returns
/// its confirmation link.
async fn cancelled_store_order(shopper: &TestApp) -> String {
    let pay_url = to_the_provider(shopper, "convenience_store").await;
    let session_id = pay_url.rsplit('/').next().unwrap().to_owned();
    let back = choose(shopper, &pay_url, "convenience_store").await;
    let success = location(&shopper.client.get(location(&back)).send().await.unwrap());
    assert!(success.starts_with("/checkout/success"), "{success}");
    let number = order_number(&success);
    let expire = format!(
        "{}/console/{session_id}/expire",
        shopper.sandbox.as_ref().unwrap()
    );
    let expired = shopper.client.post(expire).send().await.unwrap();
    assert!(expired.status().is_redirection());
    wait_for("the cancellation", async || {
        shopper.order(&number).await.status == OrderStatus::Cancelled
    })
    .await;
    success
}

fn restore_form(success: &str) -> Vec<(&'static str, String)> {
    let number = order_number(success);
    let token = success.split("token=").nth(1).unwrap().to_owned();
    vec![("order", number), ("token", token)]
}

fn login_with_next(success: &str) -> String {
    format!(
        "/account/login?{}",
        serde_urlencoded::to_string([("next", success)]).unwrap()
    )
}

async fn only_the_owning_session_gets_a_guest_cart_back(backend: Backend) {
    let app = hosted_shop(backend, |_| {}).await;
    let success = cancelled_store_order(&app).await;

    // Someone else with the order link.
    let stranger = app.with_client(&client());
    let restored = stranger
        .post("/checkout/restore", &restore_form(&success))
        .await;
    assert_redirect(&restored, &login_with_next(&success));
    let login = stranger.get_html(&login_with_next(&success)).await;
    assert!(
        login.contains("Please log in to get your cart back."),
        "{login}"
    );
    let cart = stranger.get_html("/cart").await;
    assert!(!cart.contains("Hand grinder"), "{cart}");
    assert!(cart.contains("data-testid=\"cart-count\">0<"));
    let checkout = stranger.get("/checkout").await;
    assert_redirect(&checkout, "/cart");

    // The session that placed the order.
    let restored = app.post("/checkout/restore", &restore_form(&success)).await;
    assert_redirect(&restored, "/cart");
    let cart = app.get_html("/cart").await;
    assert!(
        cart.contains("Your cart is back") && cart.contains("Hand grinder"),
        "{cart}"
    );
}

async fn the_account_gets_its_cart_back_after_logging_in_elsewhere(backend: Backend) {
    let app = hosted_shop(backend, |_| {}).await;
    register(&app, "ola@example.com").await;
    log_in(&app, "ola@example.com").await;
    let success = cancelled_store_order(&app).await;

    let elsewhere = app.with_client(&client());
    let refused = elsewhere
        .post("/checkout/restore", &restore_form(&success))
        .await;
    assert_redirect(&refused, &login_with_next(&success));
    assert!(!elsewhere.get_html("/cart").await.contains("Hand grinder"));
    let login = elsewhere
        .post("/account/login", &{
            let mut form = credentials("ola@example.com");
            form.push(("next", success.clone()));
            form
        })
        .await;
    assert_redirect(&login, &success);
    let restored = elsewhere
        .post("/checkout/restore", &restore_form(&success))
        .await;
    assert_redirect(&restored, "/cart");
    let cart = elsewhere.get_html("/cart").await;
    assert!(
        cart.contains("Your cart is back") && cart.contains("Hand grinder"),
        "{cart}"
    );
}

on_both_backends!(
    a_copied_session_cookie_does_not_reach_the_cart_after_login,
    logging_in_merges_the_guest_cart_into_the_accounts_cart,
    only_the_owning_session_gets_a_guest_cart_back,
    the_account_gets_its_cart_back_after_logging_in_elsewhere,
);
