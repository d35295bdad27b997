//! `GET /metrics` after a flow: this node's requests by route, method and
//! status, its commits, and the shop's orders, payments, processes and
//! outbox as the database counts them; only for a scraper it allows.

use crate::helpers::*;
use reqwest::StatusCode;

on_both_backends!(a_flow_moves_the_counters_by_what_it_did);

async fn scrape(app: &TestApp) -> String {
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), StatusCode::OK);
    response.text().await.unwrap()
}

/// The value of the series `name{labels}` (labels exactly as written).
fn value(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

async fn a_flow_moves_the_counters_by_what_it_did(backend: Backend) {
    let app = spawn_app(backend).await;
    let before = scrape(&app).await;
    assert_eq!(value(&before, "kassa_orders{status=\"placed\"}"), None);

    app.add_to_cart("hand-grinder", 1).await;
    app.add_to_cart("espresso-cup", 2).await;
    let success = app.buy(&checkout_form()).await;
    app.get(&success).await;
    app.get("/no-such-page").await;
    app.get("/nor-this-one").await;

    let after = scrape(&app).await;
    let count = |route: &str, method: &str, status: u16| {
        value(
            &after,
            &format!(
                "kassa_http_request_duration_seconds_count{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}}"
            ),
        )
    };
    assert_eq!(count("/cart/add", "POST", 303), Some(2.0), "{after}");
    assert_eq!(count("/checkout", "POST", 303), Some(1.0));
    assert_eq!(count("/checkout/success", "GET", 200), Some(1.0));
    assert_eq!(
        count("unmatched", "GET", 404),
        Some(2.0),
        "made-up paths are one series"
    );
    let slowest = "kassa_http_request_duration_seconds_bucket{route=\"/cart/add\",method=\"POST\",status=\"303\",le=\"+Inf\"}";
    assert_eq!(value(&after, slowest), Some(2.0));

    assert_eq!(value(&after, "kassa_orders{status=\"placed\"}"), Some(1.0));
    let cash: f64 = after
        .lines()
        .filter(|l| l.starts_with("kassa_payments{method=\"cash_on_delivery\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(cash, 1.0, "{after}");
    assert_eq!(
        value(&after, "kassa_placeorder_processes_stalled"),
        Some(0.0)
    );
    assert!(value(&after, "kassa_outbox_pending").is_some());
    let durable = |m: &str| value(m, "kassa_db_commits_total{durability=\"durable\"}").unwrap();
    assert!(
        durable(&after) > durable(&before),
        "the order's commit counted"
    );

    let proxied = app
        .client
        .get(app.url("/metrics"))
        .header("X-Forwarded-For", "203.0.113.7")
        .send()
        .await
        .unwrap();
    assert_eq!(
        proxied.status(),
        StatusCode::FORBIDDEN,
        "without a token, not through a proxy"
    );
}

#[tokio::test]
async fn with_a_token_only_its_bearer_may_scrape() {
    let app = spawn_app_with(Backend::Sqlite, |s| {
        s.metrics.token = Some("scrape-token-2f81".to_owned().into());
    })
    .await;
    let with = |token: Option<&'static str>| {
        let mut request = app.client.get(app.url("/metrics"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    assert_eq!(with(None).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        with(Some("scrape-token-2f8")).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    let allowed = with(Some("scrape-token-2f81")).await.unwrap();
    assert_eq!(allowed.status(), StatusCode::OK);
    assert!(allowed.text().await.unwrap().contains("kassa_orders"));
}
