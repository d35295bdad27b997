//! Each payment attempt owns what it started: its registration, its
//! payment, its cart version. Nothing of an old attempt reaches a newer one.

use crate::helpers::*;
use kassa::config::Settings;
use kassa::domain::order::OrderStatus;
use kassa::store::registrations::RegistrationStatus;
use reqwest::StatusCode;
use std::time::Duration;

/// The hosted provider and the registration API on a sandbox of its own,
/// with fast background workers.
async fn shop(backend: Backend, adjust: impl FnOnce(&mut Settings)) -> TestApp {
    let secret = Settings::default().webhook_secret();
    let (port, server) = kassa::sandbox::Sandbox::new(secret.clone(), 3)
        .serve("127.0.0.1:0")
        .unwrap();
    tokio::spawn(server);
    let sandbox = format!("http://127.0.0.1:{port}");
    let mut app = spawn_app_with(backend, |s| {
        s.registration.enabled = true;
        s.registration.attempts = 1;
        s.registration.url = sandbox.clone();
        s.payment.hosted.enabled = true;
        s.payment.hosted.api_url = sandbox.clone();
        s.payment.hosted.webhook_secret = Some(secret.into());
        s.payment.hosted.timeout_ms = 1_000;
        s.outbox.poll_ms = 50;
        s.outbox.retry_base_ms = 50;
        s.outbox.retry_max_ms = 200;
        s.placeorder.sweep_interval_ms = 100;
        adjust(s);
    })
    .await;
    app.sandbox = Some(sandbox);
    app
}

fn card_form() -> Vec<(&'static str, String)> {
    with(checkout_form(), "payment_method", "hosted:card")
}

async fn sandbox_post(app: &TestApp, path: &str, body: serde_json::Value) {
    let url = format!("{}{path}", app.sandbox.as_ref().unwrap());
    let response = app.client.post(url).json(&body).send().await.unwrap();
    assert!(response.status().is_success(), "{path}");
}

async fn sandbox_get(app: &TestApp, path: &str) -> reqwest::Response {
    let url = format!("{}{path}", app.sandbox.as_ref().unwrap());
    app.client.get(url).send().await.unwrap()
}

/// The provider's page the payment step sends the shopper to.
async fn provider_page(app: &TestApp) -> String {
    let redirect = app.get("/checkout/payment").await;
    assert_eq!(redirect.status(), StatusCode::SEE_OTHER);
    let pay_url = location(&redirect);
    assert!(pay_url.contains("/pay/ps_"), "{pay_url}");
    pay_url
}

/// Pays by card at the provider and comes back: the success URL.
async fn pay_by_card(app: &TestApp, pay_url: &str) -> String {
    let back = app
        .client
        .post(format!("{pay_url}/card"))
        .send()
        .await
        .unwrap();
    let returned = app.client.get(location(&back)).send().await.unwrap();
    let success = location(&returned);
    assert!(success.starts_with("/checkout/success?order="), "{success}");
    success
}

async fn outbox_drained(app: &TestApp) {
    for _ in 0..200 {
        if app.shop.store.count_pending_outbox().await.unwrap() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the outbox did not drain");
}

async fn registration_at_sandbox(app: &TestApp, id: &str) -> serde_json::Value {
    let response = sandbox_get(app, &format!("/registrations/{id}")).await;
    assert_eq!(response.status(), StatusCode::OK, "registration {id}");
    response.json().await.unwrap()
}

async fn cart_id(app: &TestApp) -> String {
    app.shop
        .store
        .latest_process()
        .await
        .unwrap()
        .expect("a process")
        .cart_id
}

/// Seed 000's worst case: the cancel of an attempt could not void its
/// payment, the shopper places the order again, and the old attempt's
/// rollback finishes then. It must not delete the registration of the new
/// attempt, which the shopper pays for.
async fn a_late_rollback_never_deletes_the_next_attempts_registration(backend: Backend) {
    let app = shop(backend, |_| {}).await;
    app.add_to_cart("hand-grinder", 1).await;
    assert_redirect(&app.submit_checkout(&card_form()).await, "/checkout/review");
    assert_redirect(&app.confirm_review().await, "/checkout/payment");
    let first_pay_url = provider_page(&app).await;
    let cart = cart_id(&app).await;
    let first = app
        .shop
        .store
        .registration_of_cart(&cart)
        .await
        .unwrap()
        .unwrap();

    sandbox_post(&app, "/v1/test/knobs", serde_json::json!({ "down": true })).await;
    let cancelled = app.post("/checkout/payment/cancel", &[]).await;
    assert_eq!(cancelled.status(), StatusCode::SERVICE_UNAVAILABLE);
    // The attempt being undone is never offered for payment again.
    let payment = app.get("/checkout/payment").await;
    assert_eq!(payment.status(), StatusCode::OK);
    let page = payment.text().await.unwrap();
    assert!(page.contains("data-testid=\"cancelling\""), "{page}");
    assert!(!page.contains(&first_pay_url));
    sandbox_post(&app, "/v1/test/knobs", serde_json::json!({})).await;

    assert_redirect(&app.confirm_review().await, "/checkout/payment");
    let second_pay_url = provider_page(&app).await;
    assert_ne!(second_pay_url, first_pay_url);
    let second = app
        .shop
        .store
        .registration_of_cart(&cart)
        .await
        .unwrap()
        .unwrap();
    assert_ne!(second.registration_id, first.registration_id);

    let success = pay_by_card(&app, &second_pay_url).await;
    assert_eq!(
        app.order(&order_number(&success)).await.status,
        OrderStatus::Placed
    );
    outbox_drained(&app).await;
    let confirmed = registration_at_sandbox(&app, &second.registration_id).await;
    assert_eq!(confirmed["status"], "confirmed", "{confirmed}");
    let deleted = sandbox_get(&app, &format!("/registrations/{}", first.registration_id)).await;
    assert!(
        deleted.status() == StatusCode::NOT_FOUND
            || deleted.json::<serde_json::Value>().await.unwrap()["status"] == "deleted",
        "the first attempt's registration is gone"
    );
    let stored = app
        .shop
        .store
        .registration_of_cart(&cart)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, RegistrationStatus::Confirmed);
    assert_eq!(
        app.shop.store.failed_outbox_events(10).await.unwrap(),
        vec![]
    );
}

/// Another tab changes the cart while "Place order" waits for the
/// registration API: the reviewed version is the one frozen, or none.
async fn a_cart_changed_during_place_order_is_never_ordered_unreviewed(backend: Backend) {
    let app = shop(backend, |s| s.registration.timeout_ms = 5_000).await;
    app.add_to_cart("hand-grinder", 1).await;
    assert_redirect(&app.submit_checkout(&card_form()).await, "/checkout/review");
    assert_redirect(&app.confirm_review().await, "/checkout/payment");
    // A declined card gives the cart back; its registration is deleted, so
    // the next "Place order" has to call the registration API again.
    let pay_url = provider_page(&app).await;
    let back = app
        .client
        .post(format!("{pay_url}/decline"))
        .send()
        .await
        .unwrap();
    app.client.get(location(&back)).send().await.unwrap();
    assert_redirect(&app.get("/checkout/payment").await, "/checkout");
    let reviewed = app.reviewed_version().await;
    assert!(reviewed.is_some());

    sandbox_post(
        &app,
        "/v1/test/registration-knobs",
        serde_json::json!({ "latency_ms": 1500 }),
    )
    .await;
    let place = app.place_reviewed(reviewed);
    let other_tab = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        app.post(
            "/cart/update",
            &[
                ("product_id", "hand-grinder".into()),
                ("quantity", "3".into()),
            ],
        )
        .await
    };
    let (placed, changed) = tokio::join!(place, other_tab);
    assert_eq!(changed.status(), StatusCode::SEE_OTHER);
    assert_redirect(&placed, "/checkout/review");
    let page = app.get_html("/checkout/review").await;
    assert!(
        page.contains("Your cart changed since you reviewed it"),
        "{page}"
    );
    let latest = app.shop.store.latest_process().await.unwrap().unwrap();
    assert!(
        latest.state.is_final(),
        "no attempt runs for the changed cart: {:?}",
        latest.state
    );
    assert_eq!(app.order_count().await, 0);
}

on_both_backends!(
    a_late_rollback_never_deletes_the_next_attempts_registration,
    a_cart_changed_during_place_order_is_never_ordered_unreviewed,
);
