//! The statements of whole checkouts, read by SQLite's query planner: none
//! reads every row of a table that grows with the shop's business, so an
//! order costs the same on the first day and after a million orders.

use crate::helpers::*;
use crate::hosted::{choose, hosted_shop, to_the_provider, wait_for};

/// Tables read whole by design: the catalogue (served from memory) and
/// what start-up looks at once.
const READ_WHOLE: [&str; 5] = [
    "products",
    "shipping_methods",
    "vouchers",
    "staff",
    "__diesel_schema_migrations",
];

#[tokio::test]
async fn no_checkout_statement_reads_a_growing_table_whole() {
    let app = hosted_shop(Backend::Sqlite, |s| {
        s.registration.enabled = true;
        s.outbox.poll_ms = 20;
    })
    .await;
    // Cash on delivery, then a card at the provider, each with the
    // registration and the mails the outbox delivers after.
    app.add_to_cart("hand-grinder", 1).await;
    app.buy(&checkout_form()).await;
    let pay_url = to_the_provider(&app, "card").await;
    let back = choose(&app, &pay_url, "card").await;
    let success = location(&app.client.get(location(&back)).send().await.unwrap());
    assert!(success.starts_with("/checkout/success?order="), "{success}");
    let store = app.shop.store();
    wait_for("the outbox delivered everything", async || {
        store.count_pending_outbox().await.unwrap() == 0
    })
    .await;

    let statements = store.statements_run();
    for made in [
        "INSERT INTO `orders`",
        "INSERT INTO `mails`",
        "UPDATE `outbox`",
    ] {
        assert!(
            statements.iter().any(|s| s.starts_with(made)),
            "no `{made}` among the statements seen: {statements:#?}"
        );
    }
    let mut whole_reads = Vec::new();
    // `WHERE (1=0)` is an empty `IN` list: SQLite skips the loop.
    for sql in statements.iter().filter(|s| {
        ["SELECT", "UPDATE", "DELETE"]
            .iter()
            .any(|k| s.starts_with(k))
            && !s.contains("WHERE (1=0)")
    }) {
        for step in store.query_plan(sql).await.unwrap() {
            let Some(table) = step
                .strip_prefix("SCAN ")
                .and_then(|rest| rest.split_whitespace().next())
            else {
                continue;
            };
            if table != "CONSTANT" && !READ_WHOLE.contains(&table) {
                whole_reads.push(format!("{table}: {sql}"));
            }
        }
    }
    assert!(
        whole_reads.is_empty(),
        "statements that read a whole table: {whole_reads:#?}"
    );
}
