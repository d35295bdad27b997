//! The JSON API for warehouse and carrier systems, over HTTP with a real
//! API key: read orders, create deliveries, report them shipped and
//! delivered; a repeated POST (same Idempotency-Key) is answered once.

use crate::back_office::{manual_shop, provider_captures, reserved_card_order};
use crate::helpers::*;
use kassa::application::api;
use kassa::domain::order::OrderStatus;
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_backends!(
    a_carrier_delivers_through_the_api_and_the_capture_follows,
    a_repeated_post_is_answered_once,
    orders_are_listed_by_status,
    the_api_refuses_what_it_cannot_do,
);

async fn key(app: &TestApp) -> String {
    api::create_key(app.shop.store(), "warehouse")
        .await
        .unwrap()
        .expect("a new key")
}

pub(crate) async fn api_get(app: &TestApp, key: &str, path: &str) -> (StatusCode, Value) {
    let response = app
        .client
        .get(app.url(path))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

pub(crate) async fn api_post(
    app: &TestApp,
    key: &str,
    path: &str,
    idempotency_key: &str,
    body: Value,
) -> (StatusCode, Value) {
    let response = app
        .client
        .post(app.url(path))
        .bearer_auth(key)
        .header("Idempotency-Key", idempotency_key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

async fn a_carrier_delivers_through_the_api_and_the_capture_follows(backend: Backend) {
    let app = manual_shop(backend).await;
    let key = key(&app).await;
    let number = reserved_card_order(&app, &[("hand-grinder", 1), ("milk-jug", 2)]).await;
    let (status, order) = api_get(&app, &key, &format!("/api/v1/orders/{number}")).await;
    assert_eq!(status, StatusCode::OK, "{order}");
    assert_eq!(order["status"], "placed");
    assert_eq!(order["lines"][1]["open"], 2);

    let (status, created) = api_post(
        &app,
        &key,
        &format!("/api/v1/orders/{number}/deliveries"),
        "d-1",
        json!({ "lines": [{ "position": 0, "quantity": 1 }], "carrier": "DHL", "tracking_number": "JJD1" }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let delivery = created["delivery_id"].as_str().unwrap().to_owned();
    assert_eq!(created["order"]["deliveries"][0]["carrier"], "DHL");

    let path = format!("/api/v1/deliveries/{delivery}/status");
    let (status, shipped) =
        api_post(&app, &key, &path, "s-1", json!({ "status": "shipped" })).await;
    assert_eq!(status, StatusCode::OK, "{shipped}");
    let (status, delivered) =
        api_post(&app, &key, &path, "s-2", json!({ "status": "delivered" })).await;
    assert_eq!(status, StatusCode::OK, "{delivered}");
    let captured = delivered["order"]["payment"]["captured_minor"]
        .as_i64()
        .unwrap();
    let total = delivered["order"]["total_minor"].as_i64().unwrap();
    assert!(captured > 0 && captured < total, "{delivered}");
    assert_eq!(delivered["order"]["status"], "partially_paid");
    // The timeline names the API key that did it.
    let timeline = kassa::application::fulfilment::order_sheet(&app.shop, &number)
        .await
        .unwrap()
        .unwrap()
        .stored
        .timeline;
    assert!(
        timeline.iter().any(|e| e.actor == "API key warehouse"),
        "{timeline:?}"
    );

    // The rest: a delivery of every open line, delivered: the remainder.
    let (_, rest) = api_post(
        &app,
        &key,
        &format!("/api/v1/orders/{number}/deliveries"),
        "d-2",
        json!({}),
    )
    .await;
    let second = rest["delivery_id"].as_str().unwrap().to_owned();
    let (_, done) = api_post(
        &app,
        &key,
        &format!("/api/v1/deliveries/{second}/status"),
        "s-3",
        json!({ "status": "delivered" }),
    )
    .await;
    assert_eq!(
        done["order"]["payment"]["captured_minor"].as_i64(),
        Some(total)
    );
    assert_eq!(done["order"]["status"], "completed");
    assert_eq!(app.order(&number).await.status, OrderStatus::Completed);
}

async fn a_repeated_post_is_answered_once(backend: Backend) {
    let app = manual_shop(backend).await;
    let key = key(&app).await;
    let number = reserved_card_order(&app, &[("hand-grinder", 1)]).await;
    let path = format!("/api/v1/orders/{number}/deliveries");
    let body = json!({ "lines": [{ "position": 0, "quantity": 1 }] });
    let (first_status, first) = api_post(&app, &key, &path, "same", body.clone()).await;
    let (again_status, again) = api_post(&app, &key, &path, "same", body).await;
    assert_eq!(first_status, StatusCode::CREATED);
    assert_eq!(
        (again_status, &again),
        (first_status, &first),
        "the first answer again"
    );
    let order = api_get(&app, &key, &format!("/api/v1/orders/{number}"))
        .await
        .1;
    assert_eq!(order["deliveries"].as_array().unwrap().len(), 1, "{order}");

    // "delivered" sent twice with one key, and once more with another:
    // captured once.
    let delivery = first["delivery_id"].as_str().unwrap();
    let path = format!("/api/v1/deliveries/{delivery}/status");
    let delivered = json!({ "status": "delivered" });
    let (a, b) = tokio::join!(
        api_post(&app, &key, &path, "deliver", delivered.clone()),
        api_post(&app, &key, &path, "deliver", delivered.clone()),
    );
    assert!(
        a.0 == StatusCode::OK || b.0 == StatusCode::OK,
        "{a:?} {b:?}"
    );
    let (late, _) = api_post(&app, &key, &path, "deliver-again", delivered).await;
    assert_eq!(late, StatusCode::OK, "a repeat of a done move is fine");
    assert_eq!(provider_captures(&app, &number).await.len(), 1);
    let order = app.order(&number).await;
    assert_eq!(
        order.payment.unwrap().captured_minor,
        order.totals.total.minor
    );
}

async fn orders_are_listed_by_status(backend: Backend) {
    let app = manual_shop(backend).await;
    let key = key(&app).await;
    let first = reserved_card_order(&app, &[("hand-grinder", 1)]).await;
    let second = reserved_card_order(&app, &[("milk-jug", 1)]).await;
    let (status, all) = api_get(&app, &key, "/api/v1/orders").await;
    assert_eq!(status, StatusCode::OK);
    let numbers: Vec<&str> = all["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["number"].as_str().unwrap())
        .collect();
    assert_eq!(numbers, [second.as_str(), first.as_str()], "newest first");
    let (_, none) = api_get(&app, &key, "/api/v1/orders?status=completed").await;
    assert_eq!(none["orders"], json!([]));
    let (_, placed) = api_get(&app, &key, "/api/v1/orders?status=placed").await;
    assert_eq!(placed["orders"].as_array().unwrap().len(), 2);
    let (bad, message) = api_get(&app, &key, "/api/v1/orders?status=lost").await;
    assert_eq!(bad, StatusCode::BAD_REQUEST);
    assert!(
        message["error"].as_str().unwrap().contains("placed"),
        "{message}"
    );
}

async fn the_api_refuses_what_it_cannot_do(backend: Backend) {
    let app = manual_shop(backend).await;
    let key = key(&app).await;
    let number = reserved_card_order(&app, &[("hand-grinder", 1)]).await;
    let path = format!("/api/v1/orders/{number}/deliveries");
    let (status, too_many) = api_post(
        &app,
        &key,
        &path,
        "k1",
        json!({ "lines": [{ "position": 0, "quantity": 5 }] }),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{too_many}");
    assert!(
        too_many["error"].as_str().unwrap().contains("Only 1"),
        "{too_many}"
    );
    let (status, _) = api_post(&app, &key, &path, "k2", json!("not an object")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = api_post(
        &app,
        &key,
        "/api/v1/deliveries/nope/status",
        "k3",
        json!({ "status": "delivered" }),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = api_get(&app, &key, "/api/v1/orders/K-999999").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let unauthenticated = app
        .client
        .get(app.url("/api/v1/orders"))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.order(&number).await.status,
        OrderStatus::Placed,
        "nothing changed"
    );
}
