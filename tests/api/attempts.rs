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

/// Cart, form and "Place order" with `form`: the provider's page.
async fn to_the_provider(app: &TestApp, form: &[(&str, String)]) -> String {
    app.add_to_cart("hand-grinder", 1).await;
    assert_redirect(&app.submit_checkout(form).await, "/checkout/review");
    assert_redirect(&app.confirm_review().await, "/checkout/payment");
    provider_page(app).await
}

/// The shopper's `choice` at the provider and their return to the shop:
/// where the shop sends them next.
async fn choose(app: &TestApp, pay_url: &str, choice: &str) -> String {
    let back = app
        .client
        .post(format!("{pay_url}/{choice}"))
        .send()
        .await
        .unwrap();
    location(&app.client.get(location(&back)).send().await.unwrap())
}

/// Pays by card at the provider and comes back: the success URL.
async fn pay_by_card(app: &TestApp, pay_url: &str) -> String {
    let success = choose(app, pay_url, "card").await;
    assert!(success.starts_with("/checkout/success?order="), "{success}");
    success
}

async fn outbox_drained(app: &TestApp) {
    for _ in 0..200 {
        if app.shop.store().count_pending_outbox().await.unwrap() == 0 {
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
    app.latest_process().await.cart_id
}

/// Seed 000's worst case: the cancel of an attempt could not void its
/// payment, the shopper places the order again, and the old attempt's
/// rollback finishes then. It must not delete the registration of the new
/// attempt, which the shopper pays for.
async fn a_late_rollback_never_deletes_the_next_attempts_registration(backend: Backend) {
    let app = shop(backend, |_| {}).await;
    let first_pay_url = to_the_provider(&app, &card_form()).await;
    let cart = cart_id(&app).await;
    let first = app
        .shop
        .store()
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
        .store()
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
        .store()
        .registration_of_cart(&cart)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, RegistrationStatus::Confirmed);
    assert_eq!(
        app.shop.store().failed_outbox_events(10).await.unwrap(),
        vec![]
    );
}

/// Another tab changes the cart while "Place order" waits for the
/// registration API: the reviewed version is the one frozen, or none.
async fn a_cart_changed_during_place_order_is_never_ordered_unreviewed(backend: Backend) {
    let app = shop(backend, |s| s.registration.timeout_ms = 5_000).await;
    // A declined card gives the cart back; its registration is deleted, so
    // the next "Place order" has to call the registration API again.
    let pay_url = to_the_provider(&app, &card_form()).await;
    choose(&app, &pay_url, "decline").await;
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
    let latest = app.shop.store().latest_process().await.unwrap().unwrap();
    assert!(
        latest.state.is_final(),
        "no attempt runs for the changed cart: {:?}",
        latest.state
    );
    assert_eq!(app.order_count().await, 0);
}

/// One convenience-store order by a shopper of their own: the provider's
/// session id and the success URL.
async fn store_order(app: &TestApp) -> (String, String) {
    let shopper = app.with_client(&client());
    let form = with(
        checkout_form(),
        "payment_method",
        "hosted:convenience_store",
    );
    let pay_url = to_the_provider(&shopper, &form).await;
    let success = choose(&shopper, &pay_url, "convenience_store").await;
    assert!(success.starts_with("/checkout/success?order="), "{success}");
    let session = pay_url.rsplit('/').next().unwrap().to_owned();
    (session, success)
}

/// More payments wait than one reconciliation pass takes: the last one,
/// paid at the provider without a webhook, is still found and placed.
async fn reconciliation_reaches_every_waiting_payment(backend: Backend) {
    let app = shop(backend, |s| {
        s.registration.enabled = false;
        s.payment.hosted.reconcile_after_ms = 300;
    })
    .await;
    let change = kassa::store::catalogue::ProductChange {
        stock: Some(1_000),
        ..Default::default()
    };
    app.shop
        .store()
        .change_product("hand-grinder", change)
        .await
        .unwrap();
    sandbox_post(&app, "/v1/test/knobs", serde_json::json!({ "drop": true })).await;
    let mut orders = Vec::new();
    for _ in 0..60 {
        orders.push(store_order(&app).await);
    }
    let (session, success) = orders.last().unwrap().clone();
    let console = format!("{}/console/{session}/paid", app.sandbox.as_ref().unwrap());
    assert!(
        app.client
            .post(console)
            .send()
            .await
            .unwrap()
            .status()
            .is_redirection()
    );
    let number = order_number(&success);
    for _ in 0..200 {
        if app.order(&number).await.status == OrderStatus::Placed {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(app.order(&number).await.status, OrderStatus::Placed);
    let (_, first) = &orders[0];
    assert_eq!(
        app.order(&order_number(first)).await.status,
        OrderStatus::OnHold,
        "the others still wait"
    );
}

/// An event that can never be delivered is kept with its reason, and the
/// worker goes on with the others.
async fn undeliverable_events_are_kept_as_failed(backend: Backend) {
    use diesel_async::RunQueryDsl;
    use kassa::store::schema::outbox;
    let app = shop(backend, |_| {}).await;
    // A registration deleted at the customer system, then "paid for".
    let url = format!("{}/registrations", app.sandbox.as_ref().unwrap());
    let created: serde_json::Value = app
        .client
        .post(&url)
        .header("Idempotency-Key", "gone-1")
        .json(&serde_json::json!({ "email": "gone@example.com", "reference": "c" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let gone = created["id"].as_str().unwrap().to_owned();
    let deleted = app
        .client
        .delete(format!("{url}/{gone}"))
        .send()
        .await
        .unwrap();
    assert!(deleted.status().is_success());
    let at = time::OffsetDateTime::now_utc();
    let at = time::PrimitiveDateTime::new(at.date(), at.time());
    let row = |id: &str, kind: &str, payload: String| {
        (
            outbox::id.eq(id.to_owned()),
            outbox::kind.eq(kind.to_owned()),
            outbox::cart_id.eq("c".to_owned()),
            outbox::payload.eq(payload),
            outbox::status.eq("pending".to_owned()),
            outbox::attempts.eq(0i64),
            outbox::next_attempt_at.eq(at),
            outbox::created_at.eq(at),
            outbox::updated_at.eq(at),
        )
    };
    use diesel::ExpressionMethods;
    let rows = vec![
        row("e-unknown", "parcel.teleported", "{}".into()),
        row("e-unreadable", "payment.captured", "not json".into()),
        row(
            "e-gone",
            "payment.captured",
            serde_json::json!({ "registration_id": gone }).to_string(),
        ),
    ];
    // One by one: SQLite's async wrapper has no multi-row INSERT.
    for row in rows {
        match app.shop.store().conn().await.unwrap() {
            kassa::store::DbConn::Sqlite(mut c) => {
                diesel::insert_into(outbox::table)
                    .values(row)
                    .execute(&mut *c)
                    .await
                    .unwrap();
            }
            kassa::store::DbConn::Pg(mut c) => {
                diesel::insert_into(outbox::table)
                    .values(row)
                    .execute(&mut *c)
                    .await
                    .unwrap();
            }
        };
    }
    // And a normal order behind them.
    app.add_to_cart("espresso-cup", 1).await;
    app.buy(&checkout_form()).await;
    outbox_drained(&app).await;
    let mut failed = app.shop.store().failed_outbox_events(10).await.unwrap();
    failed.sort_by(|a, b| a.id.cmp(&b.id));
    let ids: Vec<&str> = failed.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, ["e-gone", "e-unknown", "e-unreadable"]);
    assert!(
        failed[0].reason.contains("cannot be confirmed"),
        "{:?}",
        failed[0]
    );
    assert!(
        failed[1].reason.contains("unknown event kind"),
        "{:?}",
        failed[1]
    );
    assert!(
        failed[2].reason.contains("unreadable payload"),
        "{:?}",
        failed[2]
    );
    let cart = app
        .shop
        .store()
        .latest_process()
        .await
        .unwrap()
        .unwrap()
        .cart_id;
    let registration = app
        .shop
        .store()
        .registration_of_cart(&cart)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        registration.status,
        RegistrationStatus::Confirmed,
        "the good event was delivered"
    );
}

/// Runs one diesel statement on the test's database, either backend.
macro_rules! on_db {
    ($app:expr, |$c:ident| $body:expr) => {{
        use diesel_async::RunQueryDsl as _;
        match $app.shop.store().conn().await.unwrap() {
            kassa::store::DbConn::Sqlite(mut conn) => {
                let $c = &mut *conn;
                $body.await.unwrap()
            }
            kassa::store::DbConn::Pg(mut conn) => {
                let $c = &mut *conn;
                $body.await.unwrap()
            }
        }
    }};
}

/// A process whose cart cannot be read fails with the reason: trying the
/// same step again cannot help, so nobody loops on it forever.
async fn unreadable_data_fails_the_process_instead_of_looping(backend: Backend) {
    use diesel::ExpressionMethods;
    use kassa::domain::payment::IdempotencyKey;
    use kassa::domain::placeorder::{FailureReason, Process, State};
    use kassa::store::schema::{carts, place_order_process as processes};
    let app = shop(backend, |s| {
        s.registration.enabled = false;
        s.placeorder.stalled_after_ms = 50;
    })
    .await;
    let long_ago = time::PrimitiveDateTime::new(
        time::Date::from_calendar_date(2026, time::Month::January, 1).unwrap(),
        time::Time::MIDNIGHT,
    );
    on_db!(app, |c| diesel::insert_into(carts::table)
        .values((
            carts::id.eq("broken-cart"),
            carts::status.eq("open"),
            carts::checkout.eq("{ this is not a checkout"),
            carts::version.eq(1i64),
            carts::created_at.eq(long_ago),
            carts::updated_at.eq(long_ago),
        ))
        .execute(c));
    let mut process = Process::new(
        "broken-process".into(),
        "broken-cart".into(),
        IdempotencyKey::from_string("k-broken".into()),
    );
    process.state = State::PrepareCart;
    on_db!(app, |c| diesel::insert_into(processes::table)
        .values((
            processes::id.eq(&process.id),
            processes::cart_id.eq(&process.cart_id),
            processes::state.eq("PrepareCart"),
            processes::context.eq(serde_json::to_string(&process.context).unwrap()),
            processes::idempotency_key.eq("k-broken"),
            processes::is_final.eq(false),
            processes::version.eq(1i64),
            processes::created_at.eq(long_ago),
            processes::updated_at.eq(long_ago),
        ))
        .execute(c));
    // The sweeper picks it up and gives up on it, once.
    let mut stored = None;
    for _ in 0..100 {
        let p = app
            .shop
            .store()
            .process("broken-process")
            .await
            .unwrap()
            .unwrap();
        if p.state.is_final() {
            stored = Some(p);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let stored = stored.expect("the process ended");
    assert_eq!(stored.state, State::Failed);
    assert!(
        matches!(&stored.failure, Some(FailureReason::Error(why)) if why.contains("not readable")),
        "{:?}",
        stored.failure
    );
}

on_both_backends!(
    unreadable_data_fails_the_process_instead_of_looping,
    a_late_rollback_never_deletes_the_next_attempts_registration,
    a_cart_changed_during_place_order_is_never_ordered_unreviewed,
    reconciliation_reaches_every_waiting_payment,
    undeliverable_events_are_kept_as_failed,
);
