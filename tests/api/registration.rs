//! The external customer registration: checked when the form is sent,
//! confirmed or deleted through the outbox when the payment is decided.

use crate::helpers::*;
use kassa::config::Settings;
use reqwest::StatusCode;
use std::time::Duration;

/// The shop with registration and the hosted provider on a sandbox of its
/// own, which outlives the shop's restarts as a real outside service does.
fn with_registration(settings: &mut Settings, sandbox: &str) {
    settings.registration.enabled = true;
    settings.registration.attempts = 1;
    settings.registration.url = sandbox.to_owned();
    settings.payment.hosted.enabled = true;
    settings.payment.hosted.api_url = sandbox.to_owned();
    settings.payment.hosted.webhook_secret = Some(Settings::default().webhook_secret().into());
    settings.outbox.poll_ms = 50;
    settings.outbox.retry_base_ms = 50;
    settings.outbox.retry_max_ms = 200;
    settings.placeorder.sweep_interval_ms = 100;
}

async fn shop(backend: Backend, adjust: impl FnOnce(&mut Settings)) -> TestApp {
    let secret = Settings::default().webhook_secret();
    let (port, server) = kassa::sandbox::Sandbox::new(secret, 3)
        .serve("127.0.0.1:0")
        .unwrap();
    tokio::spawn(server);
    let sandbox = format!("http://127.0.0.1:{port}");
    let mut app = spawn_app_with(backend, |s| {
        with_registration(s, &sandbox);
        adjust(s);
    })
    .await;
    app.sandbox = Some(sandbox);
    app
}

async fn registration_knobs(app: &TestApp, knobs: serde_json::Value) {
    let url = format!(
        "{}/v1/test/registration-knobs",
        app.sandbox.as_ref().unwrap()
    );
    assert!(
        app.client
            .post(url)
            .json(&knobs)
            .send()
            .await
            .unwrap()
            .status()
            .is_success()
    );
}

/// The registration API's state changes (`created`, `confirmed`,
/// `deleted`) and every call it received.
async fn stats(app: &TestApp) -> serde_json::Value {
    fetch_stats(app, "/v1/test/registration-stats").await
}

pub(crate) async fn wait_for_stat(app: &TestApp, name: &str, value: u64) {
    for _ in 0..100 {
        if stats(app).await[name].as_u64() == Some(value) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{name} never reached {value}: {}", stats(app).await);
}

/// The outbox drains, and stays drained for a moment (no duplicates).
async fn settled(app: &TestApp) {
    for _ in 0..100 {
        if app.shop.store().count_pending_outbox().await.unwrap() == 0 {
            tokio::time::sleep(Duration::from_millis(300)).await;
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the outbox did not drain");
}

async fn a_refusal_shows_at_the_email_field_with_values_kept(backend: Backend) {
    let app = shop(backend, |_| {}).await;
    app.add_to_cart("espresso-cup", 1).await;
    let response = app
        .submit_checkout(&with(checkout_form(), "email", "kim@blocked.example"))
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = response.text().await.unwrap();
    assert!(page.contains("id=\"email-error\""));
    assert!(page.contains("This email address cannot be registered"));
    assert!(
        page.contains("value=\"kim@blocked.example\"")
            && page.contains("value=\"Invalidenstraße\"")
    );
    assert_eq!(app.order_count().await, 0);
}

async fn no_answer_asks_to_try_again_and_a_resubmit_registers_once(backend: Backend) {
    let app = shop(backend, |s| s.registration.timeout_ms = 300).await;
    app.add_to_cart("espresso-cup", 1).await;
    registration_knobs(&app, serde_json::json!({ "latency_ms": 1500 })).await;
    let response = app.submit_checkout(&checkout_form()).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = response.text().await.unwrap();
    assert!(page.contains("We could not check your registration, please try again."));
    assert!(
        page.contains("data-testid=\"cart-count\">1<"),
        "the cart is intact"
    );

    registration_knobs(&app, serde_json::json!({})).await;
    assert_redirect(
        &app.submit_checkout(&checkout_form()).await,
        "/checkout/review",
    );
    assert_redirect(
        &app.submit_checkout(&checkout_form()).await,
        "/checkout/review",
    );
    // The slow first call finished at the API too, under the same key.
    let stats = stats(&app).await;
    assert_eq!(stats["created"], 1, "one registration for the cart");
    assert_eq!(
        call_counts(&stats, "create"),
        [2],
        "the call that timed out and its retry, under one key; \
         the resubmit after that calls nobody: {stats}"
    );
}

async fn a_payment_by_webhook_alone_confirms_the_registration(backend: Backend) {
    let app = shop(backend, |_| {}).await;
    let sandbox = app.sandbox.clone().unwrap();
    app.client
        .post(format!("{sandbox}/v1/test/knobs"))
        .json(&serde_json::json!({ "shopper_never_returns": true }))
        .send()
        .await
        .unwrap();
    app.add_to_cart("espresso-cup", 1).await;
    let form = with(checkout_form(), "payment_method", "hosted:card");
    assert_redirect(&app.submit_checkout(&form).await, "/checkout/review");
    assert_redirect(&app.confirm_review().await, "/checkout/payment");
    let pay_url = location(&app.get("/checkout/payment").await);
    app.client
        .post(format!("{pay_url}/card"))
        .send()
        .await
        .unwrap();
    wait_for_stat(&app, "confirmed", 1).await;
    settled(&app).await;
    let stats = stats(&app).await;
    assert_eq!(
        call_counts(&stats, "confirm"),
        [1],
        "one registration, confirmed by one call"
    );
    assert_eq!(total_calls(&stats, "delete"), 0);
}

async fn an_expired_store_payment_deletes_the_registration(backend: Backend) {
    let app = shop(backend, |_| {}).await;
    let sandbox = app.sandbox.clone().unwrap();
    app.add_to_cart("espresso-cup", 1).await;
    let form = with(
        checkout_form(),
        "payment_method",
        "hosted:convenience_store",
    );
    assert_redirect(&app.submit_checkout(&form).await, "/checkout/review");
    assert_redirect(&app.confirm_review().await, "/checkout/payment");
    let pay_url = location(&app.get("/checkout/payment").await);
    let session_id = pay_url.rsplit('/').next().unwrap().to_owned();
    let back = app
        .client
        .post(format!("{pay_url}/convenience_store"))
        .send()
        .await
        .unwrap();
    app.client.get(location(&back)).send().await.unwrap();
    app.client
        .post(format!("{sandbox}/console/{session_id}/expire"))
        .send()
        .await
        .unwrap();
    wait_for_stat(&app, "deleted", 1).await;
    settled(&app).await;
    let stats = stats(&app).await;
    // Two events ask for the deletion, the payment's expiry and the
    // order's cancellation; the registration known deleted is not deleted
    // again.
    assert_eq!(
        call_counts(&stats, "delete"),
        [1],
        "one registration, one delete call"
    );
    assert_eq!(total_calls(&stats, "confirm"), 0);
}

async fn an_abandoned_checkout_is_cleaned_up(backend: Backend) {
    let app = shop(backend, |s| s.registration.abandon_after_ms = 300).await;
    app.add_to_cart("espresso-cup", 1).await;
    assert_redirect(
        &app.submit_checkout(&checkout_form()).await,
        "/checkout/review",
    );
    wait_for_stat(&app, "deleted", 1).await;
    settled(&app).await;
    let stats = stats(&app).await;
    assert_eq!(call_counts(&stats, "delete"), [1], "deleted by one call");
    assert_eq!(total_calls(&stats, "confirm"), 0);
}

async fn a_down_registration_api_is_retried_until_it_is_back(backend: Backend) {
    let app = shop(backend, |_| {}).await;
    app.add_to_cart("espresso-cup", 1).await;
    assert_redirect(
        &app.submit_checkout(&checkout_form()).await,
        "/checkout/review",
    );
    registration_knobs(&app, serde_json::json!({ "down": true })).await;
    // Cash on delivery: the order is placed, the confirmation must wait.
    assert_placed(&app.confirm_review().await);
    assert_eq!(app.order_count().await, 1);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        app.shop.store().count_pending_outbox().await.unwrap() > 0,
        "still waiting"
    );
    assert!(
        total_calls(&stats(&app).await, "confirm") >= 3,
        "and trying"
    );
    registration_knobs(&app, serde_json::json!({})).await;
    wait_for_stat(&app, "confirmed", 1).await;
    settled(&app).await;
    let stats = stats(&app).await;
    let [(registration, confirms)] = &calls(&stats, "confirm")[..] else {
        panic!("one registration: {stats}");
    };
    let refused = stats["unavailable"]["confirm"][registration]
        .as_u64()
        .unwrap();
    assert_eq!(
        confirms - refused,
        1,
        "once back, confirmed by one call: {stats}"
    );
}

async fn a_crash_between_commit_and_call_confirms_once_after_restart(backend: Backend) {
    let app = shop(backend, |s| s.outbox.lock_ms = 400).await;
    app.add_to_cart("espresso-cup", 1).await;
    assert_redirect(
        &app.submit_checkout(&checkout_form()).await,
        "/checkout/review",
    );
    // The API answers slowly: the worker is mid-call when the node dies.
    registration_knobs(&app, serde_json::json!({ "latency_ms": 1500 })).await;
    assert_placed(&app.confirm_review().await);
    for _ in 0..100 {
        if total_calls(&stats(&app).await, "confirm") == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(total_calls(&stats(&app).await, "confirm"), 1, "mid-call");
    assert_eq!(
        app.shop.store().count_pending_outbox().await.unwrap(),
        1,
        "committed, not delivered"
    );
    let sandbox = app.sandbox.clone();
    let mut app = app.crash_and_restart().await;
    app.sandbox = sandbox;
    registration_knobs(&app, serde_json::json!({})).await;
    wait_for_stat(&app, "confirmed", 1).await;
    settled(&app).await;
    let stats = stats(&app).await;
    assert_eq!(
        call_counts(&stats, "confirm"),
        [2],
        "the call cut off by the crash, then exactly one after the restart"
    );
    assert_eq!(total_calls(&stats, "delete"), 0);
}

on_both_backends!(
    a_refusal_shows_at_the_email_field_with_values_kept,
    no_answer_asks_to_try_again_and_a_resubmit_registers_once,
    a_payment_by_webhook_alone_confirms_the_registration,
    an_expired_store_payment_deletes_the_registration,
    an_abandoned_checkout_is_cleaned_up,
    a_down_registration_api_is_retried_until_it_is_back,
    a_crash_between_commit_and_call_confirms_once_after_restart,
    the_customer_system_hears_of_shipping_delivery_and_refund,
    a_checkout_form_lands_with_its_new_registration_in_one_commit,
    a_batch_of_confirmations_is_marked_done_in_one_commit,
);

/// The events a worker delivers in one batch are safe to deliver again,
/// so they are marked done together: one commit for the batch's claim and
/// one for its "done", not one per event.
async fn a_batch_of_confirmations_is_marked_done_in_one_commit(backend: Backend) {
    let app = shop(backend, |s| {
        s.jobs.run = false;
        s.outbox.poll_ms = 3_600_000;
    })
    .await;
    for _ in 0..3 {
        app.add_to_cart("espresso-cup", 1).await;
        app.buy(&checkout_form()).await;
    }
    assert_eq!(app.order_count().await, 3);
    let store = app.shop.store();
    let (_, light_before) = store.commits().get();
    // Its first poll is at once; the next would be in an hour.
    let worker = tokio::spawn(kassa::application::outbox::run(app.shop.clone()));
    settled(&app).await;
    worker.abort();
    wait_for_stat(&app, "confirmed", 3).await;
    let (_, light) = store.commits().get();
    assert_eq!(
        light - light_before,
        2,
        "the batch's claim and its \"done\", with the registrations' new status"
    );
    assert_eq!(store.count_pending_outbox().await.unwrap(), 0);
}

async fn the_customer_system_hears_of_shipping_delivery_and_refund(backend: Backend) {
    use kassa::application::fulfilment::{Command, Outcome, act, order_sheet};
    use kassa::domain::fulfilment::DeliveryStatus;
    let app = shop(backend, |_| {}).await;
    app.add_to_cart("espresso-cup", 1).await;
    let number = order_number(&app.buy(&checkout_form()).await);
    settled(&app).await;
    let staff = "admin@kassa.example";
    let run = |command: Command| {
        let (app, number) = (&app, number.clone());
        async move {
            let outcome = act(&app.shop, &number, None, &command, staff)
                .await
                .unwrap();
            assert_eq!(outcome, Some(Outcome::Done), "{command:?}");
        }
    };
    run(Command::CreateDelivery {
        lines: vec![(0, 1)],
        carrier: None,
        tracking_number: None,
    })
    .await;
    let sheet = order_sheet(&app.shop, &number).await.unwrap().unwrap();
    let delivery = sheet.stored.deliveries[0].id.clone();
    for to in [DeliveryStatus::Shipped, DeliveryStatus::Delivered] {
        run(Command::MoveDelivery {
            delivery_id: delivery.clone(),
            to,
        })
        .await;
    }
    run(Command::MarkCollected).await;
    let total = app.order(&number).await.totals.total.minor;
    run(Command::Refund {
        amount_minor: total,
    })
    .await;
    settled(&app).await;
    let cart_id = app.order(&number).await.cart_id;
    let registration = app
        .shop
        .store()
        .registration_of_cart(&cart_id)
        .await
        .unwrap()
        .expect("a registration");
    let url = format!(
        "{}/registrations/{}/order-states",
        app.sandbox.as_ref().unwrap(),
        registration.registration_id
    );
    let heard: serde_json::Value = app
        .client
        .get(url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let states: Vec<(&str, &str)> = heard
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["order"].as_str().unwrap(), s["state"].as_str().unwrap()))
        .collect();
    assert_eq!(
        states,
        [
            (number.as_str(), "shipped"),
            (number.as_str(), "delivered"),
            (number.as_str(), "refunded")
        ],
        "{heard}"
    );
}

/// The registration the form's check makes at the customer API is
/// recorded in the form's own commit, and is the one the order keeps.
async fn a_checkout_form_lands_with_its_new_registration_in_one_commit(backend: Backend) {
    let app = shop(backend, |_| {}).await;
    let store = app.shop.store();
    app.add_to_cart("hand-grinder", 1).await;
    let before = store.commits().get();
    assert_redirect(
        &app.submit_checkout(&checkout_form()).await,
        "/checkout/review",
    );
    let after = store.commits().get();
    assert_eq!(
        (after.0 - before.0, after.1 - before.1),
        (0, 1),
        "(durable, light) commits of the form with a new registration"
    );
    // Recorded with the form: "Place order" does not ask the API again.
    registration_knobs(&app, serde_json::json!({ "down": true })).await;
    let placed = app.confirm_review().await;
    assert_placed(&placed);
    let number = order_number(&location(&placed));
    let order = app.order(&number).await;
    let registration = store
        .registration_of_cart(&order.cart_id)
        .await
        .unwrap()
        .expect("the form's registration is recorded");
    assert_eq!(registration.email, "ann@example.com");
}
