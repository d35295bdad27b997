//! The hosted provider (the sandbox, over HTTP): the shopper's return and
//! the signed webhooks, in any order, duplicated, late or alone.

use crate::helpers::*;
use kassa::config::{CaptureMode, Settings};
use kassa::domain::order::OrderStatus;
use kassa::domain::payment::PaymentStatus;
use kassa::domain::placeorder::State;
use kassa::payment::signature;
use reqwest::StatusCode;
use std::time::Duration;

fn hosted(settings: &mut Settings) {
    settings.payment.hosted.enabled = true;
    settings.sandbox.serve_beside_shop = true;
    settings.sandbox.bind = "127.0.0.1:0".into();
    settings.placeorder.sweep_interval_ms = 100;
}

pub(crate) async fn hosted_shop(backend: Backend, adjust: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_with(backend, |s| {
        hosted(s);
        adjust(s);
    })
    .await
}

fn form(method: &str) -> Vec<(&'static str, String)> {
    with(
        checkout_form(),
        "payment_method",
        &format!("hosted:{method}"),
    )
}

pub(crate) async fn knobs(app: &TestApp, knobs: serde_json::Value) {
    let url = format!("{}/v1/test/knobs", app.sandbox.as_ref().unwrap());
    let response = app.client.post(url).json(&knobs).send().await.unwrap();
    assert!(response.status().is_success());
}

async fn sandbox_stats(app: &TestApp) -> serde_json::Value {
    fetch_stats(app, "/v1/test/stats").await
}

/// Cart, form, "Place order": returns the provider's payment page URL.
/// The sandbox refuses the next capture with `reason`.
pub(crate) async fn fail_next_capture(app: &TestApp, reason: &str) {
    let knob = format!(
        "{}/v1/test/fail-next-capture",
        app.sandbox.as_ref().expect("a sandbox")
    );
    let set = app
        .client
        .post(knob)
        .json(&serde_json::json!({ "reason": reason }))
        .send()
        .await
        .unwrap();
    assert!(set.status().is_success(), "{}", set.status());
}

pub(crate) async fn to_the_provider(app: &TestApp, method: &str) -> String {
    app.add_to_cart("hand-grinder", 1).await;
    assert_redirect(
        &app.submit_checkout(&form(method)).await,
        "/checkout/review",
    );
    assert_redirect(&app.confirm_review().await, "/checkout/payment");
    let redirect = app.get("/checkout/payment").await;
    assert_eq!(redirect.status(), StatusCode::SEE_OTHER);
    let pay_url = location(&redirect);
    assert!(pay_url.contains("/pay/ps_"), "{pay_url}");
    pay_url
}

/// The shopper's choice on the provider's page; returns where it sends them.
pub(crate) async fn choose(app: &TestApp, pay_url: &str, choice: &str) -> reqwest::Response {
    app.client
        .post(format!("{pay_url}/{choice}"))
        .send()
        .await
        .unwrap()
}

/// A webhook as the provider sends it, signed with the shop's secret.
pub(crate) fn send_event(
    node: &TestApp,
    id: &str,
    kind: &str,
    session_id: &str,
) -> impl std::future::Future<Output = reqwest::Result<reqwest::Response>> + use<> {
    let body = serde_json::json!({ "id": id, "type": kind, "session_id": session_id }).to_string();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let header = signature::sign(&node.settings.webhook_secret(), now, body.as_bytes());
    node.client
        .post(node.url("/webhooks/hosted"))
        .header(signature::HEADER, header)
        .body(body)
        .send()
}

async fn process_state(app: &TestApp) -> State {
    app.shop
        .store()
        .latest_process()
        .await
        .unwrap()
        .unwrap()
        .state
}

pub(crate) async fn wait_for(what: &str, mut check: impl AsyncFnMut() -> bool) {
    for _ in 0..100 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn every_order_of_return_and_webhooks_gives_one_order(backend: Backend) {
    // (webhook delay, duplicate, reorder, return before the webhooks)
    let orderings = [
        (400, true, false, true),
        (0, true, false, false),
        (0, false, false, false),
        (300, true, true, true),
        (0, true, true, false),
    ];
    for (delay_ms, duplicate, reorder, return_first) in orderings {
        let app = hosted_shop(backend, |_| {}).await;
        knobs(
            &app,
            serde_json::json!({ "delay_ms": delay_ms, "duplicate": duplicate, "reorder": reorder }),
        )
        .await;
        let pay_url = to_the_provider(&app, "card").await;
        let back = choose(&app, &pay_url, "card").await;
        assert_eq!(back.status(), StatusCode::SEE_OTHER);
        let return_url = location(&back);
        assert!(return_url.contains("/checkout/return?process="));
        if !return_first {
            wait_for("the webhook", async || {
                process_state(&app).await == State::Success
            })
            .await;
        }
        let returned = app.client.get(&return_url).send().await.unwrap();
        let success = location(&returned);
        assert!(
            success.starts_with("/checkout/success?order=K-"),
            "{success}"
        );
        assert!(
            app.get_html(&success)
                .await
                .contains("data-testid=\"cart-count\">0<"),
            "session kept"
        );
        let expected = if duplicate { 2 } else { 1 };
        wait_for("all webhooks", async || {
            sandbox_stats(&app).await["webhooks_sent"].as_u64() >= Some(expected)
        })
        .await;
        assert_eq!(
            app.order_count().await,
            1,
            "{delay_ms} {duplicate} {reorder} {return_first}"
        );
        let order = app.order(&order_number(&success)).await;
        assert_eq!(order.status, OrderStatus::Placed);
        assert_eq!(order.payment.unwrap().status, PaymentStatus::Captured);
        let stats = sandbox_stats(&app).await;
        assert_eq!(stats["captured_sessions"], 1, "the money was taken");
        assert_eq!(
            total_calls(&stats, "capture"),
            0,
            "automatic capture: the shop makes no capture call"
        );
        assert_eq!(app.shop.store().count_orphaned_payments().await.unwrap(), 0);
    }
}

async fn a_webhook_alone_places_the_order(backend: Backend) {
    let app = hosted_shop(backend, |_| {}).await;
    knobs(&app, serde_json::json!({ "shopper_never_returns": true })).await;
    let pay_url = to_the_provider(&app, "card").await;
    let closed = choose(&app, &pay_url, "card").await;
    assert_eq!(
        closed.status(),
        StatusCode::OK,
        "the shopper stays at the provider"
    );
    wait_for("the webhook", async || {
        process_state(&app).await == State::Success
    })
    .await;
    let order = app
        .shop
        .store()
        .latest_process()
        .await
        .unwrap()
        .unwrap()
        .context
        .order
        .unwrap();
    let link = format!(
        "/checkout/success?order={}&token={}",
        order.number, order.token
    );
    let page = client().get(app.url(&link)).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains(&order.number));
    assert_eq!(app.order_count().await, 1);
}

async fn forged_and_stale_webhooks_are_refused(backend: Backend) {
    let app = hosted_shop(backend, |_| {}).await;
    let pay_url = to_the_provider(&app, "card").await;
    let session_id = pay_url.rsplit('/').next().unwrap().to_owned();
    let body = serde_json::json!({ "id": "evt_forged", "type": "payment.captured", "session_id": session_id }).to_string();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let secret = app.settings.webhook_secret();
    for header in [
        signature::sign("not the secret", now, body.as_bytes()),
        signature::sign(&secret, now - 301, body.as_bytes()),
        "t=1,v1=00".to_owned(),
        String::new(),
    ] {
        let response = app
            .client
            .post(app.url("/webhooks/hosted"))
            .header(signature::HEADER, header)
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        process_state(&app).await,
        State::Redirect,
        "nothing changed"
    );
    assert_eq!(app.order_count().await, 1, "the early order still waits");
    let order = app
        .shop
        .store()
        .latest_process()
        .await
        .unwrap()
        .unwrap()
        .context
        .order
        .unwrap();
    let stored = app.order(&order.number).await;
    assert_eq!(stored.status, OrderStatus::PendingPayment);
}

async fn an_event_for_an_old_attempt_does_not_cancel_the_new_one(backend: Backend) {
    let app = hosted_shop(backend, |_| {}).await;
    knobs(&app, serde_json::json!({ "drop": true })).await;
    let old_pay_url = to_the_provider(&app, "card").await;
    let old_session = old_pay_url.rsplit('/').next().unwrap().to_owned();
    // The shopper cancels, then places the order again.
    assert_redirect(
        &app.post("/checkout/payment/cancel", &[]).await,
        "/checkout",
    );
    assert_redirect(&app.confirm_review().await, "/checkout/payment");
    let new_pay_url = location(&app.get("/checkout/payment").await);
    assert_ne!(new_pay_url, old_pay_url);

    let response = send_event(&app, "evt_old", "payment.cancelled", &old_session)
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        process_state(&app).await,
        State::Redirect,
        "the new attempt goes on"
    );
    let back = choose(&app, &new_pay_url, "card").await;
    let success = location(&app.client.get(location(&back)).send().await.unwrap());
    assert!(success.starts_with("/checkout/success"), "{success}");
    assert_eq!(app.order_count().await, 1);
}

async fn convenience_store_holds_then_places_or_cancels(backend: Backend) {
    for paid in [true, false] {
        let app = hosted_shop(backend, |_| {}).await;
        let pay_url = to_the_provider(&app, "convenience_store").await;
        let session_id = pay_url.rsplit('/').next().unwrap().to_owned();
        let back = choose(&app, &pay_url, "convenience_store").await;
        let success = location(&app.client.get(location(&back)).send().await.unwrap());
        let page = app.get_html(&success).await;
        assert!(
            page.contains("data-testid=\"pay-in-store\""),
            "how and by when to pay"
        );
        let number = order_number(&success);
        let order = app.order(&number).await;
        assert_eq!(order.status, OrderStatus::OnHold);
        assert_eq!(app.stock_of("hand-grinder").await, 7);

        let console = format!(
            "{}/console/{session_id}/{}",
            app.sandbox.as_ref().unwrap(),
            if paid { "paid" } else { "expire" }
        );
        assert!(
            app.client
                .post(console)
                .send()
                .await
                .unwrap()
                .status()
                .is_redirection()
        );
        let want = if paid {
            OrderStatus::Placed
        } else {
            OrderStatus::Cancelled
        };
        wait_for("the late webhook", async || {
            app.order(&number).await.status == want
        })
        .await;
        if paid {
            let order = app.order(&number).await;
            assert_eq!(order.payment.unwrap().status, PaymentStatus::Captured);
            assert_eq!(app.stock_of("hand-grinder").await, 7);
        } else {
            assert_eq!(app.stock_of("hand-grinder").await, 8, "stock back");
            assert_eq!(app.order_count().await, 0);
            // The payment is voided last, after the order and the cart.
            wait_for("the payment voided", async || {
                app.shop.store().count_orphaned_payments().await.unwrap() == 0
            })
            .await;
            // The confirmation link says so and gives the cart back.
            let page = app.get_html(&success).await;
            assert!(page.contains("data-testid=\"order-cancelled\""));
            let token = success.split("token=").nth(1).unwrap().to_owned();
            let restored = app
                .post(
                    "/checkout/restore",
                    &[("order", number.clone()), ("token", token)],
                )
                .await;
            assert_redirect(&restored, "/cart");
            let cart = app.get_html("/cart").await;
            assert!(
                cart.contains("Your cart is back") && cart.contains("Hand grinder"),
                "{cart}"
            );
            // And it can be ordered again, by card this time.
            assert_redirect(
                &app.submit_checkout(&form("card")).await,
                "/checkout/review",
            );
            assert_redirect(&app.confirm_review().await, "/checkout/payment");
            let pay_url = location(&app.get("/checkout/payment").await);
            assert!(pay_url.contains("/pay/"), "{pay_url}");
            let back = choose(&app, &pay_url, "card").await;
            let success = location(&app.client.get(location(&back)).send().await.unwrap());
            assert!(success.starts_with("/checkout/success"), "{success}");
            assert_eq!(app.order_count().await, 1);
        }
    }
}

/// Cart to the convenience-store choice at the provider: returns the
/// provider's session id and the success URL.
async fn pay_in_store(app: &TestApp) -> (String, String) {
    let pay_url = to_the_provider(app, "convenience_store").await;
    let back = choose(app, &pay_url, "convenience_store").await;
    let success = location(&app.client.get(location(&back)).send().await.unwrap());
    let session_id = pay_url.rsplit('/').next().unwrap().to_owned();
    (session_id, success)
}

/// The success page tells a convenience-store buyer how many days the
/// provider gives them, as long as the money has not come: with the
/// sandbox beside the shop, the sandbox's days; with a provider of its own,
/// the days the shop is told for it (`payment.hosted`), never the days of a
/// sandbox that is not the provider.
async fn pay_in_store_instructions_give_the_providers_days(backend: Backend) {
    let app = hosted_shop(backend, |s| s.sandbox.convenience_store_days = 5).await;
    let (session_id, success) = pay_in_store(&app).await;
    let page = app.get_html(&success).await;
    assert!(page.contains("data-testid=\"pay-in-store\""), "{page}");
    assert!(page.contains("within 5 days"), "{page}");
    let number = order_number(&success);
    let paid = format!(
        "{}/console/{session_id}/paid",
        app.sandbox.as_ref().unwrap()
    );
    assert!(
        app.client
            .post(paid)
            .send()
            .await
            .unwrap()
            .status()
            .is_redirection()
    );
    wait_for("the payment", async || {
        app.order(&number).await.status == OrderStatus::Placed
    })
    .await;
    let page = app.get_html(&success).await;
    assert!(!page.contains("pay-in-store"), "paid: nothing to do");

    let secret = Settings::default().webhook_secret();
    let (port, server) = kassa::sandbox::Sandbox::new(secret.clone(), 4)
        .serve("127.0.0.1:0")
        .unwrap();
    tokio::spawn(server);
    let provider = format!("http://127.0.0.1:{port}");
    let app = spawn_app_with(backend, |s| {
        s.payment.hosted.enabled = true;
        s.payment.hosted.api_url = provider.clone();
        s.payment.hosted.webhook_secret = Some(secret.into());
        s.payment.hosted.convenience_store_days = 4;
        s.sandbox.convenience_store_days = 9;
    })
    .await;
    let (_, success) = pay_in_store(&app).await;
    let page = app.get_html(&success).await;
    assert!(page.contains("within 4 days"), "{page}");
}

async fn a_provider_that_is_down_leaves_the_cart_intact(backend: Backend) {
    let app = hosted_shop(backend, |s| s.payment.hosted.timeout_ms = 500).await;
    knobs(&app, serde_json::json!({ "down": true })).await;
    app.add_to_cart("hand-grinder", 1).await;
    assert_redirect(
        &app.submit_checkout(&form("card")).await,
        "/checkout/review",
    );
    assert_redirect(&app.confirm_review().await, "/checkout");
    let page = app.get_html("/checkout").await;
    assert!(page.contains("The payment provider cannot be reached right now"));
    assert!(page.contains("data-testid=\"cart-count\">1<"));
    assert_eq!(app.order_count().await, 0);
}

async fn reconciliation_places_an_order_nobody_reported(backend: Backend) {
    let app = hosted_shop(backend, |s| s.payment.hosted.reconcile_after_ms = 300).await;
    knobs(
        &app,
        serde_json::json!({ "drop": true, "shopper_never_returns": true }),
    )
    .await;
    let pay_url = to_the_provider(&app, "card").await;
    choose(&app, &pay_url, "card").await;
    wait_for("reconciliation", async || {
        process_state(&app).await == State::Success
    })
    .await;
    assert_eq!(app.order_count().await, 1);
    assert_eq!(
        sandbox_stats(&app).await["webhooks_sent"],
        0,
        "no webhook helped"
    );
}

async fn manual_capture_keeps_the_money_reserved(backend: Backend) {
    let app = hosted_shop(backend, |s| s.payment.hosted.capture = CaptureMode::Manual).await;
    let pay_url = to_the_provider(&app, "card").await;
    let back = choose(&app, &pay_url, "card").await;
    let success = location(&app.client.get(location(&back)).send().await.unwrap());
    let order = app.order(&order_number(&success)).await;
    assert_eq!(order.status, OrderStatus::Placed);
    assert_eq!(order.payment.unwrap().status, PaymentStatus::Authorized);
    let stats = sandbox_stats(&app).await;
    assert_eq!(stats["captured_sessions"], 0);
    assert_eq!(
        total_calls(&stats, "capture"),
        0,
        "no capture call until delivery"
    );
}

async fn a_declined_card_returns_to_the_form_with_a_fresh_attempt(backend: Backend) {
    let app = hosted_shop(backend, |_| {}).await;
    let pay_url = to_the_provider(&app, "card").await;
    let back = choose(&app, &pay_url, "decline").await;
    // The return link cannot be turned into a cancel link.
    let forged = format!("{}&cancelled=1", location(&back));
    let refused = app.client.get(&forged).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::NOT_FOUND);
    let returned = app.client.get(location(&back)).send().await.unwrap();
    assert_redirect(&returned, "/checkout/payment");
    assert_redirect(&app.get("/checkout/payment").await, "/checkout");
    let page = app.get_html("/checkout").await;
    assert!(page.contains("Your card was declined"));
    assert_eq!(app.order_count().await, 0, "the early order was cancelled");
    assert_eq!(app.stock_of("hand-grinder").await, 8);
    // A new attempt gets a new payment session.
    assert_redirect(&app.confirm_review().await, "/checkout/payment");
    assert_ne!(location(&app.get("/checkout/payment").await), pay_url);
}

/// The provider's own promises: idempotent session creation, partial
/// capture counted once.
#[tokio::test]
async fn the_sandbox_api_keeps_its_promises() {
    let app = hosted_shop(Backend::Sqlite, |_| {}).await;
    let sandbox = app.sandbox.clone().unwrap();
    let body = serde_json::json!({
        "amount_minor": 1000, "currency": "EUR", "reference": "r1", "method": "card",
        "capture": "manual", "return_url": "http://localhost/r", "cancel_url": "http://localhost/c",
        "webhook_url": "http://127.0.0.1:9/none"
    });
    let create = |body: serde_json::Value| {
        app.client
            .post(format!("{sandbox}/v1/sessions"))
            .header("Idempotency-Key", "key-1")
            .json(&body)
            .send()
    };
    let first: serde_json::Value = create(body.clone()).await.unwrap().json().await.unwrap();
    let again: serde_json::Value = create(body.clone()).await.unwrap().json().await.unwrap();
    assert_eq!(
        first["id"], again["id"],
        "same key, same body: same session"
    );
    let mut other = body.clone();
    other["amount_minor"] = 2000.into();
    assert_eq!(create(other).await.unwrap().status(), StatusCode::CONFLICT);
    let missing = app
        .client
        .post(format!("{sandbox}/v1/sessions"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(
        missing.status(),
        StatusCode::BAD_REQUEST,
        "an Idempotency-Key is required"
    );

    let id = first["id"].as_str().unwrap();
    app.client
        .post(format!("{sandbox}/pay/{id}/card"))
        .send()
        .await
        .unwrap();
    let capture = |amount: i64| {
        app.client
            .post(format!("{sandbox}/v1/sessions/{id}/capture"))
            .json(&serde_json::json!({ "amount_minor": amount }))
            .send()
    };
    let captured: serde_json::Value = capture(600).await.unwrap().json().await.unwrap();
    assert_eq!(captured["status"], "captured");
    assert_eq!(captured["captured_minor"], 600, "a partial capture");
    assert!(
        capture(600).await.unwrap().status().is_success(),
        "a repeat is fine"
    );
    assert_eq!(capture(5000).await.unwrap().status(), StatusCode::OK);
    let stats = sandbox_stats(&app).await;
    assert_eq!(stats["captured_sessions"], 1, "the money is taken once");
    // Every call is counted, repeats and refusals included.
    assert_eq!(calls(&stats, "capture"), [(id.to_owned(), 3)]);
    assert_eq!(
        calls(&stats, "create_session"),
        [(String::new(), 1), ("key-1".to_owned(), 3)]
    );
}

on_both_backends!(
    a_holder_that_lost_the_lease_changes_nothing_in_the_store,
    every_order_of_return_and_webhooks_gives_one_order,
    a_webhook_alone_places_the_order,
    forged_and_stale_webhooks_are_refused,
    an_event_for_an_old_attempt_does_not_cancel_the_new_one,
    convenience_store_holds_then_places_or_cancels,
    pay_in_store_instructions_give_the_providers_days,
    a_provider_that_is_down_leaves_the_cart_intact,
    reconciliation_places_an_order_nobody_reported,
    manual_capture_keeps_the_money_reserved,
    a_declined_card_returns_to_the_form_with_a_fresh_attempt,
);

/// 50 carts, two nodes on one PostgreSQL, 200 webhook deliveries racing the
/// shoppers' returns, which the load balancer sends to the other node: the
/// provider sends each cart's one event twice, held back (`reorder` delays
/// a session's first event), and the test replays it twice more.
#[tokio::test]
#[ignore = "needs PostgreSQL (KASSA_TEST_DATABASE_URL); run with --include-ignored"]
async fn fifty_carts_on_two_nodes_with_two_hundred_webhooks() {
    let resources = std::sync::Arc::new(fresh_resources(Backend::Postgres).await);
    let mut settings = node_settings(&resources);
    hosted(&mut settings);
    settings.session.key = Some("7e".repeat(64).into());
    settings.payment.hosted.webhook_secret = Some("whsec_two_nodes".into());
    let a = start_node(settings.clone(), resources.clone()).await;
    // Node B uses node A's sandbox as its provider.
    let mut b_settings = settings;
    b_settings.sandbox.serve_beside_shop = false;
    b_settings.payment.hosted.api_url = a.sandbox.clone().unwrap();
    let mut b = start_node(b_settings, resources).await;
    b.sandbox = a.sandbox.clone();
    knobs(
        &a,
        serde_json::json!({ "duplicate": true, "reorder": true, "delay_ms": 50 }),
    )
    .await;

    let shoppers: Vec<reqwest::Client> = (0..50).map(|_| client()).collect();
    let outcomes = futures::future::join_all(shoppers.iter().enumerate().map(|(i, shopper)| {
        let (home, other) = if i % 2 == 0 { (&a, &b) } else { (&b, &a) };
        let home = home.with_client(shopper);
        let other = other.with_client(shopper);
        async move {
            home.add_to_cart("filter-papers", 1).await;
            assert_redirect(
                &home.submit_checkout(&form("card")).await,
                "/checkout/review",
            );
            assert_redirect(&home.confirm_review().await, "/checkout/payment");
            let pay_url = location(&home.get("/checkout/payment").await);
            let session_id = pay_url.rsplit('/').next().unwrap().to_owned();
            let back = choose(&home, &pay_url, "card").await;
            // The return goes to the other node, with two replayed webhooks.
            let return_path = location(&back)
                .split_once("/checkout/")
                .map(|(_, p)| format!("/checkout/{p}"))
                .unwrap();
            let replays = (0..2).map(|n| {
                let node = if n == 0 { &home } else { &other };
                send_event(
                    node,
                    &format!("evt_replay_{session_id}_{n}"),
                    "payment.captured",
                    &session_id,
                )
            });
            let (returned, replayed) =
                tokio::join!(other.get(&return_path), futures::future::join_all(replays));
            for r in replayed {
                assert!(r.unwrap().status().is_success());
            }
            location(&returned)
        }
    }))
    .await;
    for success in &outcomes {
        assert!(
            success.starts_with("/checkout/success?order=K-"),
            "{success}"
        );
    }
    wait_for("all provider webhooks", async || {
        sandbox_stats(&a).await["webhooks_sent"].as_u64() >= Some(100)
    })
    .await;
    assert_eq!(a.order_count().await, 50);
    let stats = sandbox_stats(&a).await;
    assert_eq!(stats["captured_sessions"], 50, "every cart's money taken");
    assert_eq!(
        total_calls(&stats, "capture"),
        0,
        "no capture call at all (automatic capture), so none twice"
    );
    assert_eq!(a.shop.store().count_orphaned_payments().await.unwrap(), 0);
    assert_eq!(a.stock_of("filter-papers").await, 150);
}

/// A node paused past its lease wakes after another took the attempt over:
/// what its step would change in the store is refused (the fence), while
/// the lease's holder changes it.
async fn a_holder_that_lost_the_lease_changes_nothing_in_the_store(backend: Backend) {
    use kassa::domain::cart::CartStatus;
    use kassa::store::StoreError;
    use kassa::store::processes::{Fence, StepSave};
    let app = hosted_shop(backend, |_| {}).await;
    to_the_provider(&app, "card").await;
    let process = app.latest_process().await;
    let store = app.shop.store();
    let cart_status = async || store.cart(&process.cart_id).await.unwrap().unwrap().status;
    assert_eq!(cart_status().await, CartStatus::Frozen);
    assert!(
        store
            .take_process_lease(&process.id, "node-b", Duration::from_secs(30))
            .await
            .unwrap()
    );
    let paused = Fence {
        process_id: &process.id,
        holder: "node-a",
        carries: None,
        records: None,
    };
    let refused = store.reopen_cart(&process.cart_id, &paused).await;
    assert!(
        matches!(refused, Err(StoreError::Conflict(_))),
        "{refused:?}"
    );
    assert_eq!(cart_status().await, CartStatus::Frozen, "nothing changed");
    let version = store.cart(&process.cart_id).await.unwrap().unwrap().version;
    let refused = store.freeze_cart(&process.cart_id, version, &paused).await;
    assert!(
        matches!(refused, Err(StoreError::Conflict(_))),
        "{refused:?}"
    );

    let holder = Fence {
        process_id: &process.id,
        holder: "node-b",
        carries: None,
        records: None,
    };
    store.reopen_cart(&process.cart_id, &holder).await.unwrap();
    assert_eq!(cart_status().await, CartStatus::Open);

    // Settling is fenced as well.
    let refused = store
        .settle_order(
            "any-order",
            None,
            kassa::domain::payment::Settlement {
                payment_status: PaymentStatus::Captured,
                order_status: OrderStatus::Paid,
            },
            Some(&paused),
        )
        .await;
    assert!(
        matches!(refused, Err(StoreError::Conflict(_))),
        "{refused:?}"
    );

    // A save the fence carries lands with the change, and only over the
    // version it was taken at: the second time, neither lands.
    let stored = store.process(&process.id).await.unwrap().unwrap();
    let save = StepSave::of(&stored, Duration::from_secs(30)).unwrap();
    let carrying = Fence {
        carries: Some(&save),
        ..holder
    };
    let version = store.cart(&process.cart_id).await.unwrap().unwrap().version;
    assert!(
        store
            .freeze_cart(&process.cart_id, version, &carrying)
            .await
            .unwrap()
    );
    assert_eq!(cart_status().await, CartStatus::Frozen);
    let saved = store.process(&process.id).await.unwrap().unwrap();
    assert_eq!(saved.version, stored.version + 1, "saved with the freeze");
    let refused = store.reopen_cart(&process.cart_id, &carrying).await;
    assert!(
        matches!(refused, Err(StoreError::Conflict(_))),
        "{refused:?}"
    );
    assert_eq!(cart_status().await, CartStatus::Frozen, "nothing changed");
    let after = store.process(&process.id).await.unwrap().unwrap();
    assert_eq!(after.version, saved.version, "nor saved");

    // A payment only the shop knows of (cash) is recorded under the lease,
    // with the change the fence goes with and the save it carries.
    use kassa::store::payments::StartedPayment;
    let cash = kassa::domain::payment::PaymentRequest {
        gateway: "offline".into(),
        method: "cash_on_delivery".into(),
        idempotency_key: kassa::ids::new_idempotency_key(),
        ..process
            .context
            .payment
            .clone()
            .expect("the card attempt's payment")
    };
    let started = StartedPayment::new(&process.cart_id, &cash, None, None);
    let payments = async || store.count_orphaned_payments().await.unwrap();
    let before = payments().await;
    refused_for_the_lease(
        store
            .land(&Fence {
                records: Some(&started),
                ..paused
            })
            .await,
    );
    assert_eq!(payments().await, before, "not recorded without the lease");
    let save = StepSave::of(&after, Duration::from_secs(30)).unwrap();
    let recording = Fence {
        carries: Some(&save),
        records: Some(&started),
        ..holder
    };
    store.land(&recording).await.unwrap();
    assert_eq!(payments().await, before + 1, "recorded");
    let recorded = store.process(&process.id).await.unwrap().unwrap();
    assert_eq!(recorded.version, after.version + 1, "saved with the record");

    // With a change: the cart's freeze records it in its transaction, and
    // a refused freeze (the lease moved on) records nothing.
    let another = kassa::domain::payment::PaymentRequest {
        idempotency_key: kassa::ids::new_idempotency_key(),
        ..cash
    };
    let started = StartedPayment::new(&process.cart_id, &another, None, None);
    store.reopen_cart(&process.cart_id, &holder).await.unwrap();
    let version = store.cart(&process.cart_id).await.unwrap().unwrap().version;
    refused_for_the_lease(
        store
            .freeze_cart(
                &process.cart_id,
                version,
                &Fence {
                    records: Some(&started),
                    ..paused
                },
            )
            .await,
    );
    assert_eq!(
        payments().await,
        before + 1,
        "not recorded by a refused change"
    );
    let freezing = Fence {
        records: Some(&started),
        ..holder
    };
    assert!(
        store
            .freeze_cart(&process.cart_id, version, &freezing)
            .await
            .unwrap()
    );
    assert_eq!(payments().await, before + 2, "recorded with the freeze");
}

/// A change refused because its fence's holder lost the lease.
fn refused_for_the_lease<T: std::fmt::Debug>(result: Result<T, kassa::store::StoreError>) {
    assert!(
        matches!(result, Err(kassa::store::StoreError::Conflict(_))),
        "{result:?}"
    );
}
