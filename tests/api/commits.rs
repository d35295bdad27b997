//! How many commits a guest checkout costs: the durable ones (synced to
//! disk before the answer) are few; the rest are light.

use crate::helpers::*;
use crate::hosted::wait_for;

on_both_backends!(
    durable_commits_wait_for_the_disk_and_light_ones_do_not,
    a_cash_on_delivery_checkout_makes_few_durable_commits,
    a_cash_order_and_the_end_of_its_process_are_one_commit,
    the_metrics_page_counts_the_commits,
    an_idle_shop_commits_nothing
);

/// On SQLite a read runs on the writing connection when no one writes and
/// on a reader otherwise: a write sent to a read by mistake fails on both.
#[tokio::test]
async fn a_read_cannot_write_on_either_sqlite_connection() {
    let app = spawn_app(Backend::Sqlite).await;
    let store = app.shop.store();
    let refused = |result: Result<(), kassa::store::StoreError>| {
        let error = result.expect_err("a read wrote");
        assert!(error.to_string().contains("readonly"), "{error}");
    };
    // No writer: the read is served by the writing connection.
    refused(store.write_in_a_read("written_by_the_idle_writer").await);
    // A writer holds the turn: the read goes to a reader.
    let turn = store.light().await.unwrap();
    refused(store.write_in_a_read("written_by_a_reader").await);
    drop(turn);
    // The writing connection writes again once the read is over.
    app.add_to_cart("espresso-cup", 2).await;
    let cart = app.get_html("/cart").await;
    assert!(
        cart.contains("value=\"2\" class=\"qty\""),
        "the line was stored"
    );
}

/// Asked inside each kind of transaction, one after the other, so the
/// writing connection's switch between them is seen both ways (on SQLite
/// one connection makes both kinds).
async fn durable_commits_wait_for_the_disk_and_light_ones_do_not(backend: Backend) {
    use kassa::store::Durability;
    let app = spawn_app(backend).await;
    let store = app.shop.store();
    let (full, off) = match backend {
        Backend::Sqlite => ("2", "1"),
        Backend::Postgres => ("on", "off"),
    };
    for _ in 0..2 {
        let durable = store.commit_setting(Durability::Durable).await.unwrap();
        assert_eq!(durable, full, "a durable commit waits for the disk");
        let light = store.commit_setting(Durability::Light).await.unwrap();
        assert_eq!(light, off, "a light commit does not");
    }
}

async fn a_cash_on_delivery_checkout_makes_few_durable_commits(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.registration.enabled = false;
        s.outbox.poll_ms = 20;
    })
    .await;
    let store = app.shop.store();
    let (durable_before, light_before) = store.commits().get();
    app.add_to_cart("hand-grinder", 1).await;
    let success = app.buy(&checkout_form()).await;
    let number = order_number(&success);
    let order = app.order(&number).await;
    wait_for("the confirmation sent", async || {
        store
            .order_mails(&order.id)
            .await
            .unwrap()
            .iter()
            .all(|m| m.status == kassa::domain::mail::MailStatus::Sent)
    })
    .await;
    let (durable, light) = store.commits().get();
    let (durable, light) = (durable - durable_before, light - light_before);
    eprintln!("{backend:?}: a guest checkout made {durable} durable and {light} light commits");
    // The order, settled as it is placed. The cash payment, which nobody
    // outside the shop holds, reaches the disk with it.
    assert_eq!(durable, 1, "the order is durable, and alone");
    // The cart, the form, the attempt begun, the cart frozen (with the
    // cash payment), the outbox's claims and "done"s. The saves of the
    // process travel in the freeze's and the order's transactions: the
    // offline gateway changes nothing outside and waits for nobody, so
    // none is written before a call to it.
    assert!(light <= 8, "{light} light commits");
}

/// A cash order is settled as it is placed, which ends the attempt: the
/// process is saved final in the order's own commit, not in one after it.
async fn a_cash_order_and_the_end_of_its_process_are_one_commit(backend: Backend) {
    // No outbox worker: only the shopper's requests commit.
    let app = spawn_app_with(backend, |s| {
        s.registration.enabled = false;
        s.jobs.run = false;
    })
    .await;
    let store = app.shop.store();
    let (durable_before, light_before) = store.commits().get();
    app.add_to_cart("hand-grinder", 1).await;
    let success = app.buy(&checkout_form()).await;
    let (durable, light) = store.commits().get();
    let (durable, light) = (durable - durable_before, light - light_before);
    // The cart with its line, the form, the attempt begun, the cart frozen
    // with the cash payment; then the order with the process's last save.
    assert_eq!((durable, light), (1, 4), "durable and light commits");
    let order = app.order(&order_number(&success)).await;
    let process = store
        .latest_process_of_cart(&order.cart_id)
        .await
        .unwrap()
        .expect("the attempt");
    assert_eq!(process.state, kassa::domain::placeorder::State::Success);
    assert_eq!(
        process.context.order.map(|o| o.id),
        Some(order.id),
        "the process names its order"
    );
}

/// The benchmark reads commits per flow from `/metrics`.
async fn the_metrics_page_counts_the_commits(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.registration.enabled = false).await;
    let scrape = async || {
        let page = app.get("/metrics").await;
        assert_eq!(page.status(), 200);
        let text = page.text().await.unwrap();
        let read = |durability: &str| -> u64 {
            let series = format!("kassa_db_commits_total{{durability=\"{durability}\"}} ");
            text.lines()
                .find_map(|l| l.strip_prefix(series.as_str()))
                .unwrap_or_else(|| panic!("no {series} in {text}"))
                .parse()
                .unwrap()
        };
        (read("durable"), read("light"))
    };
    let before = scrape().await;
    app.add_to_cart("hand-grinder", 1).await;
    app.buy(&checkout_form()).await;
    let after = scrape().await;
    assert!(after.0 > before.0, "the order's commit is counted");
    assert!(after.1 > before.1, "the cart's commits are counted");
    // The same counters the store keeps (read after: workers go on).
    let counted = app.shop.store().commits().get();
    assert!(after.0 <= counted.0 && after.1 <= counted.1);
    assert!(
        counted.0 - after.0 < 3,
        "{after:?} is not the store's {counted:?}"
    );
}

/// The outbox workers and the sweep for abandoned registrations look for
/// work without taking a write turn: polling commits nothing.
async fn an_idle_shop_commits_nothing(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.registration.enabled = true;
        s.outbox.poll_ms = 10;
    })
    .await;
    let store = app.shop.store();
    // Start-up's own commits (demo data, staff) are done by now.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let before = store.commits().get();
    // Thirty polls of each lane.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(store.commits().get(), before, "commits while idle");
}
