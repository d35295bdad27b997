//! `GET /metrics` after a flow: this node's requests by route, method and
//! status, its commits, and the shop's orders, payments, processes and
//! outbox as the database counts them; only for a scraper it allows.

use crate::helpers::*;
use crate::hosted::{choose, hosted_shop, send_event, to_the_provider, wait_for};
use reqwest::StatusCode;

on_both_backends!(
    a_flow_moves_the_counters_by_what_it_did,
    webhooks_and_calls_to_peers_are_counted_by_outcome,
    a_refund_is_counted_among_the_payment_operations,
);

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
    for pool in ["read", "write"] {
        let waits = |m: &str| {
            value(
                m,
                &format!("kassa_db_connection_waits_total{{pool=\"{pool}\"}}"),
            )
            .unwrap()
        };
        assert!(waits(&after) > waits(&before), "{pool} connections counted");
    }
    assert_metric_families_are_contiguous(&after);

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

/// Each metric's samples follow its own `# TYPE` line, as the text format
/// wants: a family is never split.
fn assert_metric_families_are_contiguous(metrics: &str) {
    let mut seen = std::collections::HashSet::new();
    let mut current = String::new();
    for line in metrics.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            current = rest.split(' ').next().unwrap().to_owned();
            assert!(seen.insert(current.clone()), "{current} declared twice");
        } else if !line.starts_with('#') {
            let name = line.split(['{', ' ']).next().unwrap();
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suffix| name.strip_suffix(suffix))
                .filter(|base| *base == current)
                .unwrap_or(name);
            assert_eq!(family, current, "{line} outside its family");
        }
    }
}

async fn webhooks_and_calls_to_peers_are_counted_by_outcome(backend: Backend) {
    let app = hosted_shop(backend, |s| s.registration.enabled = true).await;
    let pay_url = to_the_provider(&app, "card").await;
    let back = choose(&app, &pay_url, "card").await;
    app.client.get(location(&back)).send().await.unwrap();
    let webhooks = |m: &str, outcome: &str| {
        value(m, &format!("kassa_webhooks_total{{outcome=\"{outcome}\"}}")).unwrap_or(0.0)
    };
    let calls = |m: &str, peer: &str, outcome: &str| {
        value(
            m,
            &format!(
                "kassa_outbound_call_duration_seconds_count{{peer=\"{peer}\",outcome=\"{outcome}\"}}"
            ),
        )
        .unwrap_or(0.0)
    };
    // The sandbox's webhook and the order's mail come in the background.
    wait_for("the webhook and the mail", async || {
        let m = scrape(&app).await;
        webhooks(&m, "applied") >= 1.0 && calls(&m, "mail", "ok") >= 1.0
    })
    .await;
    let before = scrape(&app).await;
    assert!(calls(&before, "payment_provider", "ok") >= 1.0, "{before}");
    assert!(calls(&before, "registration_api", "ok") >= 1.0, "{before}");

    // A forged webhook is refused and counted as such, once.
    let forged = app
        .client
        .post(app.url("/webhooks/hosted"))
        .header("Kassa-Signature", "t=1,v1=00")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
    // A signed event for a payment the shop never made.
    let unknown = send_event(&app, "evt_unknown_1", "payment.authorized", "ps_nobody")
        .await
        .unwrap();
    assert!(unknown.status().is_success());
    let after = scrape(&app).await;
    assert_eq!(
        webhooks(&after, "rejected_signature") + webhooks(&after, "rejected_stale"),
        webhooks(&before, "rejected_signature") + webhooks(&before, "rejected_stale") + 1.0,
        "{after}"
    );
    assert_eq!(
        webhooks(&after, "unknown_payment"),
        webhooks(&before, "unknown_payment") + 1.0
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

async fn a_refund_is_counted_among_the_payment_operations(backend: Backend) {
    use kassa::application::fulfilment::{Command, Outcome, act};
    let app = spawn_app(backend).await;
    app.add_to_cart("hand-grinder", 1).await;
    let form = with(checkout_form(), "payment_method", "offline:cash_in_advance");
    let number = order_number(&app.buy(&form).await);
    let staff = "staff@kassa.example";
    let done = |command: Command| {
        let app = &app;
        let number = number.clone();
        async move {
            act(&app.shop, &number, None, &command, staff)
                .await
                .unwrap()
                .unwrap()
        }
    };
    assert_eq!(done(Command::MarkPaid).await, Outcome::Done);
    let refunds = |m: &str| -> f64 {
        m.lines()
            .filter(|l| l.starts_with("kassa_payment_operations{kind=\"refund\""))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    assert_eq!(refunds(&scrape(&app).await), 0.0);
    assert_eq!(
        done(Command::Refund { amount_minor: 100 }).await,
        Outcome::Done
    );
    let after = scrape(&app).await;
    assert_eq!(refunds(&after), 1.0, "{after}");
    assert_eq!(value(&after, "kassa_orders{status=\"placed\"}"), None);
}

/// Every series the Grafana dashboard (`ops/grafana/kassa.json`) asks for
/// is one `/metrics` serves, so the dashboard cannot drift from the code.
#[tokio::test]
async fn the_dashboard_asks_only_for_served_metrics() {
    let app = spawn_app(Backend::Sqlite).await;
    let served = scrape(&app).await;
    let families: std::collections::HashSet<&str> = served
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE ")?.split(' ').next())
        .collect();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/ops/grafana/kassa.json");
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut asked = 0;
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().unwrap();
            for start in expr.match_indices("kassa_").map(|(i, _)| i) {
                let name: String = expr[start..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                let family = ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|s| name.strip_suffix(s))
                    .filter(|base| families.contains(base))
                    .unwrap_or(&name);
                assert!(
                    families.contains(family),
                    "{:?} asks for {name}, which /metrics does not serve",
                    panel["title"]
                );
                asked += 1;
            }
        }
    }
    assert!(asked >= 15, "the dashboard asks for {asked} series");
}
