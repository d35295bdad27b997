//! Several stateless nodes on one PostgreSQL database and one Redis, and
//! nodes that restart.

use crate::helpers::*;
use crate::hosted::{choose, hosted_shop, to_the_provider, wait_for};
use reqwest::StatusCode;
use std::sync::Arc;
use std::time::Duration;

/// Two nodes sharing PostgreSQL and Redis, and a shopper client for each.
async fn two_nodes() -> (TestApp, TestApp) {
    let resources = Arc::new(fresh_resources(Backend::Postgres).await);
    let mut settings = node_settings(&resources);
    use_redis_sessions(&mut settings);
    // Both nodes must sign cookies with the same key.
    settings.session.key = Some("5a".repeat(64).into());
    let a = start_node(settings, resources).await;
    let b = a.another_node().await;
    (a, b)
}

#[tokio::test]
#[ignore = "needs PostgreSQL and Redis (KASSA_TEST_DATABASE_URL, KASSA_TEST_REDIS_URL); run with --include-ignored"]
async fn a_session_started_on_one_node_continues_on_the_other() {
    let (a, b) = two_nodes().await;
    a.add_to_cart("milk-jug", 2).await;
    assert_redirect(
        &a.submit_checkout(&checkout_form()).await,
        "/checkout/review",
    );

    let on_b = b.with_client(&a.client);
    let review = on_b.get_html("/checkout/review").await;
    assert!(
        review.contains("2 × Milk jug"),
        "node B sees the cart and the form"
    );
    // B places the order; back on A the payment step leads to it.
    let success = assert_placed(&on_b.confirm_review().await);
    assert_redirect(&a.get("/checkout/payment").await, &success);
    assert!(
        a.get_html(&success)
            .await
            .contains("data-testid=\"cart-count\">0<")
    );
    assert_eq!(a.order_count().await, 1);
}

#[tokio::test]
#[ignore = "needs PostgreSQL and Redis (KASSA_TEST_DATABASE_URL, KASSA_TEST_REDIS_URL); run with --include-ignored"]
async fn thirty_carts_placed_on_two_nodes_at_once_give_thirty_orders() {
    let (a, b) = two_nodes().await;
    let shoppers: Vec<reqwest::Client> = (0..30).map(|_| client()).collect();
    // Fill and confirm every cart, alternating the nodes.
    futures::future::join_all(shoppers.iter().enumerate().map(|(i, shopper)| {
        let node = (if i % 2 == 0 { &a } else { &b }).with_client(shopper);
        async move {
            node.add_to_cart("filter-papers", 1).await;
            assert_redirect(
                &node.submit_checkout(&checkout_form()).await,
                "/checkout/review",
            );
            assert_placed(&node.confirm_review().await);
        }
    }))
    .await;

    // Every shopper's place-order goes to both nodes at the same moment.
    let placements = shoppers.iter().flat_map(|shopper| {
        [&a, &b].map(|node| {
            let request = shopper.get(node.url("/checkout/placeorder")).send();
            async move { location(&request.await.expect("place order")) }
        })
    });
    let targets = futures::future::join_all(placements).await;
    for pair in targets.chunks(2) {
        assert!(
            pair[0].starts_with("/checkout/success?order=K-"),
            "{pair:?}"
        );
        assert_eq!(pair[0], pair[1], "both nodes answer with the same order");
    }
    let mut numbers: Vec<&String> = targets.iter().step_by(2).collect();
    numbers.sort();
    numbers.dedup();
    assert_eq!(numbers.len(), 30, "thirty different orders");
    assert_eq!(a.order_count().await, 30);
    assert_eq!(a.stock_of("filter-papers").await, 200 - 30);
}

/// On SQLite with cookie sessions; on PostgreSQL with sessions in Redis,
/// as nodes that share a database do.
async fn a_restart_keeps_the_cart_and_the_session(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        if backend == Backend::Postgres {
            use_redis_sessions(s);
        }
    })
    .await;
    app.post(
        "/account/register",
        &[
            ("email", "gus@example.com".into()),
            ("password", "a long password".into()),
            ("password_confirmation", "a long password".into()),
        ],
    )
    .await;
    app.add_to_cart("house-blend", 2).await;
    assert_redirect(
        &app.submit_checkout(&checkout_form()).await,
        "/checkout/review",
    );

    let app = app.restart().await;
    let page = app.get_html("/").await;
    assert!(
        page.contains("data-testid=\"user\">gus@example.com<"),
        "still logged in"
    );
    assert!(page.contains("data-testid=\"cart-count\">2<"), "cart kept");
    // The checkout goes on where it stopped.
    assert_eq!(app.get("/checkout/review").await.status(), StatusCode::OK);
    app.buy(&checkout_form()).await;
    assert_eq!(app.order_count().await, 1);
}

async fn health_and_readiness(backend: Backend) {
    let app = spawn_app(backend).await;
    let health = app.get("/healthz").await;
    assert_eq!(health.status(), StatusCode::OK);
    assert_eq!(app.get("/readyz").await.status(), StatusCode::OK);

    if let Some(db) = &app.resources.database {
        // The database goes away under the running node.
        let mut conn =
            <diesel_async::AsyncPgConnection as diesel_async::AsyncConnection>::establish(
                &postgres_server(),
            )
            .await
            .unwrap();
        let name = db.url.rsplit('/').next().unwrap().to_owned();
        diesel_async::RunQueryDsl::execute(
            diesel::sql_query(format!("DROP DATABASE {name} WITH (FORCE)")),
            &mut conn,
        )
        .await
        .unwrap();
        assert_eq!(
            app.get("/readyz").await.status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            app.get("/healthz").await.status(),
            StatusCode::OK,
            "the process is still up"
        );
    }
}

/// The place-order lock: a running process's lease, taken and renewed by
/// compare-and-swap on its row, so one holder on any node steps it, and a
/// dead holder's lease is taken over once it expires.
async fn a_process_lease_is_held_by_one_holder_until_it_expires(backend: Backend) {
    let app = hosted_shop(backend, |_| {}).await;
    // The process rests in Redirect: nothing steps it until the shopper
    // pays or the provider reports.
    let pay_url = to_the_provider(&app, "card").await;
    let store = app.shop.store();
    let id = store.latest_process().await.unwrap().unwrap().id;
    let long = Duration::from_secs(60);
    assert!(store.take_process_lease(&id, "node-a", long).await.unwrap());
    assert!(!store.take_process_lease(&id, "node-b", long).await.unwrap());
    assert!(
        store.take_process_lease(&id, "node-a", long).await.unwrap(),
        "renewed by its holder"
    );
    store.release_process_lease(&id, "node-b").await.unwrap();
    assert!(
        !store.take_process_lease(&id, "node-b", long).await.unwrap(),
        "only the holder releases"
    );
    store.release_process_lease(&id, "node-a").await.unwrap();
    assert!(
        store
            .take_process_lease(&id, "node-b", Duration::from_millis(1))
            .await
            .unwrap()
    );
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(
        store.take_process_lease(&id, "node-a", long).await.unwrap(),
        "an expired lease is taken over"
    );
    store.release_process_lease(&id, "node-a").await.unwrap();

    // Many contenders at once: exactly one wins.
    let contenders = (0..20).map(|i| {
        let (store, id) = (store.clone(), id.clone());
        async move {
            let holder = format!("node-{i}");
            let won = store.take_process_lease(&id, &holder, long).await.unwrap();
            won.then_some(holder)
        }
    });
    let winners: Vec<String> = futures::future::join_all(contenders)
        .await
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(winners.len(), 1, "{winners:?}");
    store.release_process_lease(&id, &winners[0]).await.unwrap();

    // Paid, the process ends; a finished process is never leased again.
    choose(&app, &pay_url, "card").await;
    wait_for("the order placed", async || {
        store.process(&id).await.unwrap().unwrap().state.is_final()
    })
    .await;
    assert!(!store.take_process_lease(&id, "node-a", long).await.unwrap());
}

#[tokio::test]
async fn a_restart_keeps_the_cart_and_the_session_on_sqlite() {
    a_restart_keeps_the_cart_and_the_session(Backend::Sqlite).await;
}

#[tokio::test]
#[ignore = "needs PostgreSQL and Redis (KASSA_TEST_DATABASE_URL, KASSA_TEST_REDIS_URL); run with --include-ignored"]
async fn a_restart_keeps_the_cart_and_the_session_on_postgres_and_redis() {
    a_restart_keeps_the_cart_and_the_session(Backend::Postgres).await;
}

on_both_backends!(
    health_and_readiness,
    a_process_lease_is_held_by_one_holder_until_it_expires,
);
