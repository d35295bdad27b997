//! Money operations on placed orders' payments (partial capture, release
//! of the rest, partial refund), through the hosted adapter against the
//! sandbox provider over real HTTP, and the provider's webhooks about them
//! arriving at a shop.

use crate::helpers::*;
use crate::hosted::{choose, hosted_shop, to_the_provider, wait_for};
use kassa::config::CaptureMode;
use kassa::domain::money::{Currency, Money};
use kassa::domain::order::OrderStatus;
use kassa::domain::payment::FlowStatus;
use kassa::domain::payment::{MoneyOperation, PaymentStatus};
use kassa::domain::placeorder::State;
use kassa::payment::hosted::wire::Session;
use kassa::payment::hosted::{HostedGateway, flow_status};
use kassa::payment::{GatewayError, PaymentGateway};
use kassa::sandbox::Sandbox;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

/// A sandbox provider on a port of its own, and the shop's adapter for it.
struct Provider {
    url: String,
    http: reqwest::Client,
    gateway: HostedGateway,
}

impl Provider {
    async fn start() -> Self {
        let (port, server) = Sandbox::new("webhook-secret".into(), 3)
            .serve("127.0.0.1:0")
            .expect("sandbox");
        tokio::spawn(server);
        let url = format!("http://127.0.0.1:{port}");
        Self {
            gateway: gateway_for(&url),
            url,
            http: client(),
        }
    }

    /// A card payment of `amount_minor` EUR cents the shopper has paid:
    /// reserved (manual) or taken (automatic). Returns the session id.
    async fn paid_session(&self, amount_minor: i64, capture: CaptureMode) -> String {
        let body = json!({
            "amount_minor": amount_minor, "currency": "EUR", "reference": "order-1",
            "method": "card", "capture": capture,
            "return_url": "http://127.0.0.1:9/r", "cancel_url": "http://127.0.0.1:9/c",
            // Nobody listens: these tests look at the provider alone.
            "webhook_url": "http://127.0.0.1:9/webhooks/hosted"
        });
        let created: Value = self
            .http
            .post(format!("{}/v1/sessions", self.url))
            .header(
                "Idempotency-Key",
                format!("attempt-{}", uuid::Uuid::new_v4()),
            )
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = created["id"].as_str().expect("a session id").to_owned();
        let paid = self
            .http
            .post(format!("{}/pay/{id}/card", self.url))
            .send()
            .await
            .unwrap();
        assert_eq!(paid.status(), StatusCode::SEE_OTHER);
        id
    }

    async fn session(&self, id: &str) -> Value {
        self.http
            .get(format!("{}/v1/sessions/{id}", self.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn stats(&self) -> Value {
        self.http
            .get(format!("{}/v1/test/stats", self.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn post_test(&self, path: &str, body: Value) {
        let response = self
            .http
            .post(format!("{}/v1/test/{path}", self.url))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{path}");
    }
}

fn gateway_for(url: &str) -> HostedGateway {
    HostedGateway::new(
        url.to_owned(),
        CaptureMode::Manual,
        "http://127.0.0.1:9".into(),
        b"link-key".to_vec(),
        Duration::from_secs(5),
        3,
    )
    .expect("gateway")
}

fn op(session_id: &str, key: &str, minor: i64) -> MoneyOperation {
    MoneyOperation {
        provider_reference: Some(session_id.to_owned()),
        key: key.to_owned(),
        amount: Money::new(minor, Currency::parse("EUR").unwrap()),
    }
}

#[track_caller]
fn refused(result: Result<(), GatewayError>) -> String {
    match result {
        Err(GatewayError::Refused(reason)) => reason,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// The operations the provider recorded, as (kind, amount, key, result).
fn operations(session: &Value) -> Vec<(String, i64, String, String)> {
    session["operations"]
        .as_array()
        .expect("operations")
        .iter()
        .map(|o| {
            (
                o["kind"].as_str().unwrap().to_owned(),
                o["amount_minor"].as_i64().unwrap(),
                o["key"].as_str().unwrap().to_owned(),
                o["outcome"]["result"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn two_partial_captures_take_the_whole_reservation() {
    let provider = Provider::start().await;
    let id = provider.paid_session(1000, CaptureMode::Manual).await;
    let gateway = &provider.gateway;

    gateway.capture_amount(&op(&id, "c-1", 400)).await.unwrap();
    let session = provider.session(&id).await;
    assert_eq!(session["status"], "authorized", "600 still reserved");
    assert_eq!(session["captured_minor"], 400);

    gateway.capture_amount(&op(&id, "c-2", 600)).await.unwrap();
    let session = provider.session(&id).await;
    assert_eq!(session["status"], "captured", "all of it taken");
    assert_eq!(session["captured_minor"], 1000);
    assert_eq!(
        operations(&session),
        [
            ("capture".into(), 400, "c-1".into(), "done".into()),
            ("capture".into(), 600, "c-2".into(), "done".into()),
        ]
    );
    // The flow status the shop reads says captured.
    let read: Session = serde_json::from_value(session).unwrap();
    assert!(matches!(flow_status(&read), FlowStatus::Completed(_)));
    let stats = provider.stats().await;
    assert_eq!(stats["captured_sessions"], 1, "one session's money taken");
    assert_eq!(calls(&stats, "capture_amount"), [(id.clone(), 2)]);
    assert_eq!(total_calls(&stats, "capture"), 0, "no whole capture");
}

#[tokio::test]
async fn a_capture_over_the_rest_is_refused_with_a_reason() {
    let provider = Provider::start().await;
    let id = provider.paid_session(1000, CaptureMode::Manual).await;
    let gateway = &provider.gateway;
    gateway.capture_amount(&op(&id, "c-1", 700)).await.unwrap();

    let reason = refused(gateway.capture_amount(&op(&id, "c-2", 400)).await);
    assert_eq!(
        reason,
        "Amount exceeds what is still reserved (3.00 EUR left)"
    );
    let session = provider.session(&id).await;
    assert_eq!(session["captured_minor"], 700, "nothing more taken");
    assert_eq!(session["status"], "authorized");
    // What fits is still fine, under a new key.
    gateway.capture_amount(&op(&id, "c-3", 300)).await.unwrap();
    assert_eq!(provider.session(&id).await["status"], "captured");
}

#[tokio::test]
async fn the_same_key_again_moves_the_money_once() {
    let provider = Provider::start().await;
    let id = provider.paid_session(1000, CaptureMode::Manual).await;
    let gateway = &provider.gateway;

    gateway.capture_amount(&op(&id, "c-1", 300)).await.unwrap();
    gateway.capture_amount(&op(&id, "c-1", 300)).await.unwrap();
    let session = provider.session(&id).await;
    assert_eq!(session["captured_minor"], 300, "captured once");
    assert_eq!(operations(&session).len(), 1);

    // A refusal is the answer to its key for good, even once the same
    // thing would fit.
    let first = refused(gateway.capture_amount(&op(&id, "c-big", 800)).await);
    gateway.refund_amount(&op(&id, "r-1", 300)).await.unwrap();
    gateway.refund_amount(&op(&id, "r-1", 300)).await.unwrap();
    let again = refused(gateway.capture_amount(&op(&id, "c-big", 800)).await);
    assert_eq!(first, again);
    let session = provider.session(&id).await;
    assert_eq!(session["refunded_minor"], 300, "refunded once");
    assert_eq!(session["captured_minor"], 300);

    // A key names one operation: used for another one, it is refused.
    let reused = refused(gateway.capture_amount(&op(&id, "c-1", 500)).await);
    assert!(reused.contains("Idempotency-Key"), "{reused}");
    assert_eq!(provider.session(&id).await["captured_minor"], 300);

    let stats = provider.stats().await;
    assert_eq!(calls(&stats, "capture_amount"), [(id.clone(), 5)]);
    assert_eq!(calls(&stats, "refund_amount"), [(id.clone(), 2)]);
    assert_eq!(stats["captured_sessions"], 1);
}

#[tokio::test]
async fn a_release_after_a_partial_capture_ends_the_reservation() {
    let provider = Provider::start().await;
    let id = provider.paid_session(1000, CaptureMode::Manual).await;
    let gateway = &provider.gateway;
    gateway.capture_amount(&op(&id, "c-1", 400)).await.unwrap();

    // The amount of a release is not read: the whole rest goes.
    gateway.release(&op(&id, "rel-1", 1)).await.unwrap();
    let session = provider.session(&id).await;
    assert_eq!(session["status"], "captured", "what was taken stays taken");
    assert_eq!(session["released"], true);
    assert_eq!(
        operations(&session)[1],
        ("release".into(), 600, "rel-1".into(), "done".into())
    );

    let reason = refused(gateway.capture_amount(&op(&id, "c-2", 100)).await);
    assert_eq!(reason, "The reservation was released");
    assert_eq!(provider.session(&id).await["captured_minor"], 400);
    gateway.release(&op(&id, "rel-1", 1)).await.unwrap();
    assert!(refused(gateway.release(&op(&id, "rel-2", 0)).await).contains("released"));
}

#[tokio::test]
async fn releasing_a_reservation_untouched_voids_it() {
    let provider = Provider::start().await;
    let id = provider.paid_session(1000, CaptureMode::Manual).await;
    provider.gateway.release(&op(&id, "rel", 0)).await.unwrap();
    let session = provider.session(&id).await;
    assert_eq!(session["status"], "cancelled");
    assert_eq!(session["captured_minor"], 0);
    assert_eq!(provider.stats().await["captured_sessions"], 0);
}

#[tokio::test]
async fn refunds_pay_back_at_most_what_was_captured() {
    let provider = Provider::start().await;
    let gateway = &provider.gateway;

    // Automatic capture: all of it was taken when the shopper paid.
    let id = provider.paid_session(1000, CaptureMode::Automatic).await;
    gateway.refund_amount(&op(&id, "r-1", 250)).await.unwrap();
    let reason = refused(gateway.refund_amount(&op(&id, "r-2", 800)).await);
    assert_eq!(
        reason,
        "Amount exceeds what was captured and not yet refunded (7.50 EUR left)"
    );
    let session = provider.session(&id).await;
    assert_eq!(session["refunded_minor"], 250);
    assert_eq!(session["status"], "captured");
    gateway.refund_amount(&op(&id, "r-3", 750)).await.unwrap();
    assert_eq!(provider.session(&id).await["status"], "refunded");

    // Manual capture: only what was captured can be paid back.
    let id = provider.paid_session(1000, CaptureMode::Manual).await;
    assert_eq!(
        refused(gateway.refund_amount(&op(&id, "m-r-0", 100)).await),
        "Nothing captured is left to refund"
    );
    gateway
        .capture_amount(&op(&id, "m-c-1", 400))
        .await
        .unwrap();
    assert!(refused(gateway.refund_amount(&op(&id, "m-r-1", 401)).await).contains("4.00 EUR left"));
    gateway.refund_amount(&op(&id, "m-r-2", 400)).await.unwrap();
    let session = provider.session(&id).await;
    assert_eq!(
        session["status"], "authorized",
        "the rest is still reserved"
    );
    assert_eq!(session["refunded_minor"], 400);
}

#[tokio::test]
async fn a_capture_the_provider_refuses_then_the_next_one_passes() {
    let provider = Provider::start().await;
    let id = provider.paid_session(1000, CaptureMode::Manual).await;
    let gateway = &provider.gateway;

    provider
        .post_test(
            "fail-next-capture",
            json!({ "reason": "Card issuer said no" }),
        )
        .await;
    assert_eq!(
        refused(gateway.capture_amount(&op(&id, "c-1", 500)).await),
        "Card issuer said no"
    );
    // Its key keeps its answer; a new key is a new capture.
    assert_eq!(
        refused(gateway.capture_amount(&op(&id, "c-1", 500)).await),
        "Card issuer said no"
    );
    gateway.capture_amount(&op(&id, "c-2", 500)).await.unwrap();
    let session = provider.session(&id).await;
    assert_eq!(session["captured_minor"], 500);
    assert_eq!(
        operations(&session)[0],
        ("capture".into(), 500, "c-1".into(), "refused".into())
    );
    assert_eq!(
        session["operations"][0]["outcome"]["reason"],
        "Card issuer said no"
    );

    // Without a reason: the reservation has expired.
    provider.post_test("fail-next-capture", json!({})).await;
    assert_eq!(
        refused(gateway.capture_amount(&op(&id, "c-3", 100)).await),
        "The reservation has expired"
    );
    assert_eq!(provider.session(&id).await["captured_minor"], 500);
}

#[tokio::test]
async fn a_provider_that_does_not_answer_is_unavailable_and_the_key_may_be_sent_again() {
    let provider = Provider::start().await;
    let id = provider.paid_session(1000, CaptureMode::Manual).await;
    let gateway = &provider.gateway;

    provider.post_test("knobs", json!({ "down": true })).await;
    let result = gateway.capture_amount(&op(&id, "c-1", 400)).await;
    assert!(
        matches!(result, Err(GatewayError::Unavailable(_))),
        "{result:?}"
    );
    let stats = provider.stats().await;
    assert_eq!(
        stats["unavailable"]["capture_amount"][&id], 3,
        "tried again, then given up"
    );

    provider.post_test("knobs", json!({})).await;
    assert_eq!(provider.session(&id).await["captured_minor"], 0);
    gateway.capture_amount(&op(&id, "c-1", 400)).await.unwrap();
    assert_eq!(provider.session(&id).await["captured_minor"], 400);

    // Nobody listening at all.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let nobody = gateway_for(&format!("http://127.0.0.1:{closed}"));
    for result in [
        nobody.capture_amount(&op(&id, "x-1", 1)).await,
        nobody.release(&op(&id, "x-2", 0)).await,
        nobody.refund_amount(&op(&id, "x-3", 1)).await,
    ] {
        assert!(
            matches!(result, Err(GatewayError::Unavailable(_))),
            "{result:?}"
        );
    }
}

#[tokio::test]
async fn a_payment_the_provider_does_not_know_is_refused() {
    let provider = Provider::start().await;
    let gateway = &provider.gateway;
    assert_eq!(
        refused(gateway.capture_amount(&op("ps_unknown", "c-1", 1)).await),
        "No such payment session"
    );
    let mut offline = op("ps_unknown", "c-2", 1);
    offline.provider_reference = None;
    assert!(refused(gateway.release(&offline).await).contains("no reference"));
}

#[tokio::test]
async fn the_console_shows_each_sessions_operations() {
    let provider = Provider::start().await;
    let id = provider.paid_session(1000, CaptureMode::Manual).await;
    let gateway = &provider.gateway;
    gateway
        .capture_amount(&op(&id, "key-c", 400))
        .await
        .unwrap();
    gateway.refund_amount(&op(&id, "key-r", 150)).await.unwrap();
    refused(gateway.refund_amount(&op(&id, "key-big", 999)).await);
    let page = provider
        .http
        .get(format!("{}/console", provider.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for shown in [
        "<td>capture</td><td>4.00 EUR</td><td>key-c</td><td>done</td>",
        "<td>refund</td><td>1.50 EUR</td><td>key-r</td><td>done</td>",
        "<td>key-big</td><td>refused: Amount exceeds what was captured",
        "<td>4.00 EUR</td><td>1.50 EUR</td>",
    ] {
        assert!(page.contains(shown), "{shown} not in {page}");
    }
}

/// The provider reports every operation by webhook (`payment.captured`,
/// `payment.released`, `payment.refunded`). For a placed order whose
/// payment is reserved or captured they are accepted (200) and change
/// nothing: the back office moves that money and keeps its own books.
async fn webhooks_about_money_operations_change_nothing(backend: Backend) {
    let app = hosted_shop(backend, |s| s.payment.hosted.capture = CaptureMode::Manual).await;
    let pay_url = to_the_provider(&app, "card").await;
    let session_id = pay_url.rsplit('/').next().unwrap().to_owned();
    let back = choose(&app, &pay_url, "card").await;
    let success = location(&app.client.get(location(&back)).send().await.unwrap());
    let number = order_number(&success);
    let accepted = async |n: u64| {
        wait_for(&format!("{n} webhooks accepted"), async || {
            fetch_stats(&app, "/v1/test/stats").await["webhooks_sent"] == n
        })
        .await;
    };
    accepted(1).await; // payment.authorized
    let before = app.order(&number).await;
    assert_eq!(before.status, OrderStatus::Placed);
    assert_eq!(
        before.payment.as_ref().unwrap().status,
        PaymentStatus::Authorized
    );
    let stock = app.stock_of("hand-grinder").await;
    let unchanged = async || {
        let order = app.order(&number).await;
        assert_eq!(order.status, OrderStatus::Placed);
        assert_eq!(order.payment.unwrap().status, PaymentStatus::Authorized);
        assert_eq!(app.order_count().await, 1);
        assert_eq!(app.stock_of("hand-grinder").await, stock);
        assert_eq!(app.latest_process().await.state, State::Success);
    };

    let gateway = app.shop.gateways.get("hosted").expect("the hosted gateway");
    let total = before.payment.as_ref().unwrap().amount.minor;
    gateway
        .capture_amount(&op(&session_id, "c-1", total / 2))
        .await
        .unwrap();
    accepted(2).await; // payment.captured, the session still authorized
    unchanged().await;
    gateway.release(&op(&session_id, "rel-1", 0)).await.unwrap();
    accepted(3).await; // payment.released, the session now captured
    unchanged().await;
    gateway
        .refund_amount(&op(&session_id, "r-1", total / 2))
        .await
        .unwrap();
    accepted(4).await; // payment.refunded, the session now refunded
    unchanged().await;
    let session: Value = app
        .client
        .get(format!(
            "{}/v1/sessions/{session_id}",
            app.sandbox.as_ref().unwrap()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        session["status"], "refunded",
        "the provider did move the money"
    );
}

on_both_backends!(webhooks_about_money_operations_change_nothing);
