//! The sandbox provider's `[sandbox.chaos]`: webhooks dropped, duplicated,
//! delayed and reordered, API calls failed at random; the shop still
//! places one order per paid cart, and the provider counts what it did.

use crate::helpers::*;
use crate::hosted::{choose, hosted_shop, knobs, to_the_provider, wait_for};
use kassa::config::ChaosSettings;
use kassa::domain::placeorder::State;
use reqwest::StatusCode;

async fn stats(app: &TestApp) -> serde_json::Value {
    fetch_stats(app, "/v1/test/stats").await
}

async fn chaos_shop(backend: Backend, chaos: ChaosSettings) -> TestApp {
    hosted_shop(backend, |s| {
        s.sandbox.chaos = ChaosSettings { seed: 1, ..chaos };
    })
    .await
}

async fn success_reached(app: &TestApp) -> bool {
    app.shop
        .store()
        .latest_process()
        .await
        .unwrap()
        .is_some_and(|p| p.state == State::Success)
}

async fn duplicated_and_reordered_webhooks_alone_give_one_order(backend: Backend) {
    let app = chaos_shop(
        backend,
        ChaosSettings {
            duplicate_share: 1.0,
            delay_max_ms: 200,
            reorder_window_ms: 300,
            ..ChaosSettings::default()
        },
    )
    .await;
    knobs(&app, serde_json::json!({ "shopper_never_returns": true })).await;
    let pay_url = to_the_provider(&app, "card").await;
    assert_eq!(
        choose(&app, &pay_url, "card").await.status(),
        StatusCode::OK
    );
    wait_for("the webhooks", async || success_reached(&app).await).await;
    wait_for("both copies", async || {
        stats(&app).await["webhooks_sent"].as_u64() >= Some(2)
    })
    .await;
    assert_eq!(app.order_count().await, 1);
    let chaos = &stats(&app).await["chaos"];
    assert!(chaos["webhooks_duplicated"].as_u64() >= Some(1), "{chaos}");
    assert_eq!(chaos["webhooks_dropped"], 0);
}

async fn dropped_webhooks_are_counted_and_the_return_places_the_order(backend: Backend) {
    let app = chaos_shop(
        backend,
        ChaosSettings {
            drop_share: 1.0,
            ..ChaosSettings::default()
        },
    )
    .await;
    let pay_url = to_the_provider(&app, "card").await;
    let back = choose(&app, &pay_url, "card").await;
    let returned = app.client.get(location(&back)).send().await.unwrap();
    assert!(
        location(&returned).starts_with("/checkout/success?order=K-"),
        "{}",
        location(&returned)
    );
    assert_eq!(app.order_count().await, 1);
    let stats = stats(&app).await;
    assert_eq!(stats["webhooks_sent"], 0, "{stats}");
    assert!(stats["chaos"]["webhooks_dropped"].as_u64() >= Some(1));
}

async fn failed_calls_answer_503_and_are_counted(backend: Backend) {
    let app = chaos_shop(
        backend,
        ChaosSettings {
            fail_share: 1.0,
            ..ChaosSettings::default()
        },
    )
    .await;
    let sandbox = app.sandbox.clone().unwrap();
    let answer = app
        .client
        .get(format!("{sandbox}/v1/sessions/ps_none"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::SERVICE_UNAVAILABLE);
    let stats = stats(&app).await;
    assert_eq!(stats["chaos"]["calls_failed"], 1, "{stats}");
    assert_eq!(calls(&stats, "show_session"), [("ps_none".to_owned(), 1)]);
    assert_eq!(stats["unavailable"]["show_session"]["ps_none"], 1);
}

on_both_backends!(
    duplicated_and_reordered_webhooks_alone_give_one_order,
    dropped_webhooks_are_counted_and_the_return_places_the_order,
    failed_calls_answer_503_and_are_counted,
);
