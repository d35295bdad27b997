//! The story the back office is built for, end to end over HTTP: a card
//! payment reserved at checkout, two deliveries, the first reported
//! delivered by the warehouse's API key (its lines captured), the second
//! by a staff member's button (the rest captured), the order completed,
//! and the provider holding exactly two captures that add up to the total.

use crate::admin_pages::{order_page, press, signed_in_staff};
use crate::back_office::{manual_shop, provider_captures, reserved_card_order};
use crate::helpers::*;
use crate::orders_api::{api_get, api_post};
use kassa::application::api;
use kassa::domain::order::OrderStatus;
use reqwest::StatusCode;
use serde_json::json;

on_both_backends!(the_seed_story_over_http);

async fn the_seed_story_over_http(backend: Backend) {
    let app = manual_shop(backend).await;
    let key = api::create_key(app.shop.store(), "warehouse")
        .await
        .unwrap()
        .expect("a key");
    let staff = signed_in_staff(&app).await;
    let number = reserved_card_order(&app, &[("hand-grinder", 1), ("milk-jug", 2)]).await;
    let total = app.order(&number).await.totals.total.minor;

    // Two deliveries, made by staff with the form: one line each.
    let first = press(
        &staff,
        &number,
        "/deliveries",
        &[("qty_0", "1"), ("qty_1", "0")],
    )
    .await;
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    let second = press(
        &staff,
        &number,
        "/deliveries",
        &[("qty_1", "2"), ("carrier", "DHL")],
    )
    .await;
    assert_eq!(second.status(), StatusCode::SEE_OTHER);
    let (_, order) = api_get(&app, &key, &format!("/api/v1/orders/{number}")).await;
    let deliveries = order["deliveries"].as_array().unwrap().clone();
    assert_eq!(deliveries.len(), 2, "{order}");
    let id_of = |position: i64| {
        deliveries
            .iter()
            .find(|d| d["lines"][0]["position"] == position)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (first, second) = (id_of(0), id_of(1));

    // The warehouse reports the first delivered: its lines are captured.
    let (status, after_first) = api_post(
        &app,
        &key,
        &format!("/api/v1/deliveries/{first}/status"),
        "first-delivered",
        json!({ "status": "delivered" }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{after_first}");
    let captured = after_first["order"]["payment"]["captured_minor"]
        .as_i64()
        .unwrap();
    assert!(0 < captured && captured < total, "{captured} of {total}");

    // Staff press "Mark delivered" on the second: the rest is captured.
    let pressed = press(
        &staff,
        &number,
        &format!("/deliveries/{second}/status"),
        &[("status", "delivered")],
    )
    .await;
    assert_eq!(pressed.status(), StatusCode::SEE_OTHER);
    let order = app.order(&number).await;
    assert_eq!(order.status, OrderStatus::Completed);
    assert_eq!(order.payment.unwrap().captured_minor, total);
    let captures = provider_captures(&app, &number).await;
    assert_eq!(captures.len(), 2, "{captures:?}");
    assert_eq!(captures.iter().sum::<i64>(), total);
    assert_eq!(captures[0], captured);

    // The order page tells it all: completed, captured, who did what.
    let page = order_page(&staff, &number).await;
    assert!(
        page.contains("API key warehouse"),
        "the API key in the timeline"
    );
    assert!(page.contains("admin@kassa.example"));
}
