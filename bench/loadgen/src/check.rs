//! The invariants after a run, checked against the shop's PostgreSQL
//! database, the provider's books (the sandbox's ledger and stats) and
//! the mails written to disk:
//! 1. one live order per paid cart, and money kept only for a live order;
//! 2. no payment captured twice or beyond its reservation;
//! 3. stock = initial − what live orders hold;
//! 4. a confirmed registration belongs to a paid order, any other is deleted;
//! 5. each mail sent at least once and at most twice;
//! 6. an order delivered and paid in full is completed (its status was
//!    not moved back by a late repeat of an earlier step).
//!
//! Side effects run after commits (outbox, sweeper, reconciliation), so
//! the check first waits, bounded, for the shop to settle.

use anyhow::Context;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::time::{Duration, Instant};
use tokio_postgres::Client;

pub struct Findings {
    pub figures: Vec<(String, String)>,
    pub violations: Vec<String>,
}

impl Findings {
    fn figure(&mut self, name: &str, value: impl ToString) {
        self.figures.push((name.to_owned(), value.to_string()));
    }

    fn violation(&mut self, what: String) {
        self.violations.push(what);
    }
}

pub async fn connect(url: &str) -> anyhow::Result<Client> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .with_context(|| format!("connecting to {url}"))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            eprintln!("[check] database connection: {e}");
        }
    });
    Ok(client)
}

async fn count(db: &Client, sql: &str) -> anyhow::Result<i64> {
    Ok(db
        .query_one(sql, &[])
        .await
        .with_context(|| sql.to_owned())?
        .get(0))
}

/// What still has to happen before the books can agree.
async fn unsettled(db: &Client) -> anyhow::Result<Vec<(String, i64)>> {
    let mut left = Vec::new();
    for (what, sql) in [
        (
            "outbox events pending",
            "SELECT count(*) FROM outbox WHERE status = 'pending'",
        ),
        (
            "registrations pending",
            "SELECT count(*) FROM registrations WHERE status = 'pending'",
        ),
        (
            "payment operations requested",
            "SELECT count(*) FROM payment_operations WHERE status = 'requested'",
        ),
        (
            "mails queued",
            "SELECT count(*) FROM mails WHERE status = 'queued'",
        ),
    ] {
        let n = count(db, sql).await?;
        if n > 0 {
            left.push((what.to_owned(), n));
        }
    }
    Ok(left)
}

/// Waits until nothing is left to do, at most `patience`; what is left.
pub async fn settle(db: &Client, patience: Duration) -> anyhow::Result<Vec<(String, i64)>> {
    let started = Instant::now();
    loop {
        let left = unsettled(db).await?;
        if left.is_empty() || started.elapsed() > patience {
            return Ok(left);
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

pub async fn run(
    db: &Client,
    sandbox: &str,
    mail_dir: &Path,
    initial_stock: i64,
    left: Vec<(String, i64)>,
    confirmed: &[String],
) -> anyhow::Result<Findings> {
    let mut f = Findings {
        figures: Vec::new(),
        violations: Vec::new(),
    };
    for (what, n) in &left {
        f.violation(format!("not settled after the wait: {n} {what}"));
    }
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;
    let ledger: Value = http
        .get(format!("{sandbox}/v1/test/ledger"))
        .send()
        .await?
        .json()
        .await
        .context("the sandbox's ledger")?;
    let stats: Value = http
        .get(format!("{sandbox}/v1/test/stats"))
        .send()
        .await?
        .json()
        .await?;
    let registration_stats: Value = http
        .get(format!("{sandbox}/v1/test/registration-stats"))
        .send()
        .await?
        .json()
        .await?;

    // A process whose shopper went away waits for them (or for its
    // payment to expire); not an invariant, but worth seeing.
    f.figure(
        "place-order processes not final",
        count(
            db,
            "SELECT count(*) FROM place_order_process WHERE NOT is_final",
        )
        .await?,
    );
    orders(db, &mut f).await?;
    confirmations(db, confirmed, &mut f).await?;
    statuses(db, &mut f).await?;
    let sessions = ledger["sessions"].as_array().cloned().unwrap_or_default();
    money(db, &sessions, &mut f).await?;
    stock(db, initial_stock, &mut f).await?;
    let registrations = ledger["registrations"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    registrations_agree(db, &registrations, &mut f).await?;
    mails(db, mail_dir, &mut f).await?;

    let chaos = &stats["chaos"];
    f.figure("provider sessions", &stats["sessions"]);
    f.figure("webhooks delivered", &stats["webhooks_sent"]);
    f.figure("webhooks dropped", &chaos["webhooks_dropped"]);
    f.figure("webhooks duplicated", &chaos["webhooks_duplicated"]);
    f.figure("webhooks delayed", &chaos["webhooks_delayed"]);
    f.figure("API calls failed (503)", &chaos["calls_failed"]);
    f.figure(
        "registrations created / confirmed / deleted",
        format!(
            "{} / {} / {}",
            registration_stats["created"],
            registration_stats["confirmed"],
            registration_stats["deleted"]
        ),
    );
    Ok(f)
}

/// 1a: never two live orders for one cart.
async fn orders(db: &Client, f: &mut Findings) -> anyhow::Result<()> {
    for row in db
        .query(
            "SELECT status, count(*) FROM orders GROUP BY status ORDER BY status",
            &[],
        )
        .await?
    {
        let status: String = row.get(0);
        let n: i64 = row.get(1);
        f.figure(&format!("orders {status}"), n);
    }
    for row in db
        .query(
            "SELECT cart_id, count(*) FROM orders WHERE status <> 'cancelled' \
             GROUP BY cart_id HAVING count(*) > 1",
            &[],
        )
        .await?
    {
        let cart: String = row.get(0);
        let n: i64 = row.get(1);
        f.violation(format!("cart {cart} has {n} live orders"));
    }
    Ok(())
}

/// Every confirmation page a shopper saw names an order that exists.
async fn confirmations(db: &Client, confirmed: &[String], f: &mut Findings) -> anyhow::Result<()> {
    let known: HashSet<String> = db
        .query("SELECT number FROM orders", &[])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    for number in confirmed {
        if !known.contains(number) {
            f.violation(format!(
                "order {number} was confirmed to a shopper but does not exist"
            ));
        }
    }
    f.figure("orders confirmed to shoppers", confirmed.len());
    Ok(())
}

/// 6: the order's status follows its facts: delivered in full and paid in
/// full by the provider is completed.
async fn statuses(db: &Client, f: &mut Findings) -> anyhow::Result<()> {
    for row in db
        .query(
            "SELECT o.number, o.status FROM orders o JOIN payments p ON p.order_id = o.id \
             WHERE p.method <> 'cash_on_delivery' AND p.captured_minor >= p.amount_minor \
               AND p.refunded_minor = 0 \
               AND o.status NOT IN ('completed', 'cancelled', 'refunded') \
               AND (SELECT coalesce(sum(l.quantity), 0) FROM order_lines l \
                    WHERE l.order_id = o.id) \
                 = (SELECT coalesce(sum(dl.quantity), 0) FROM deliveries d \
                    JOIN delivery_lines dl ON dl.delivery_id = d.id \
                    WHERE d.order_id = o.id AND d.status = 'delivered')",
            &[],
        )
        .await?
    {
        let (number, status): (String, String) = (row.get(0), row.get(1));
        f.violation(format!(
            "order {number}: delivered and paid in full, but {status}"
        ));
    }
    Ok(())
}

fn int(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

/// A payment as the shop keeps it, with its order.
struct ShopPayment {
    cart: String,
    captured: i64,
    refunded: i64,
    order_status: Option<String>,
    number: Option<String>,
}

/// 1b and 2: the provider's books against the shop's.
async fn money(db: &Client, sessions: &[Value], f: &mut Findings) -> anyhow::Result<()> {
    // The shop's payments by the provider's session id, with their order.
    let mut payments: HashMap<String, ShopPayment> = HashMap::new();
    for row in db
        .query(
            "SELECT p.provider_reference, p.cart_id, p.amount_minor, p.captured_minor, \
                    p.refunded_minor, o.status, o.number \
             FROM payments p LEFT JOIN orders o ON o.id = p.order_id \
             WHERE p.provider_reference IS NOT NULL",
            &[],
        )
        .await?
    {
        payments.insert(
            row.get(0),
            ShopPayment {
                cart: row.get(1),
                captured: row.get(3),
                refunded: row.get(4),
                order_status: row.get(5),
                number: row.get(6),
            },
        );
    }
    let (mut captured, mut refunded, mut kept_per_cart) = (0, 0, HashMap::<String, u32>::new());
    for s in sessions {
        let id = s["id"].as_str().unwrap_or_default();
        let amount = int(&s["request"]["amount_minor"]);
        let taken = int(&s["captured_minor"]);
        let back = int(&s["refunded_minor"]);
        let done_captures: i64 = s["operations"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|o| o["kind"] == "capture" && o["outcome"]["result"] == "done")
            .map(|o| int(&o["amount_minor"]))
            .sum();
        if taken > 0 {
            captured += 1;
        }
        if back > 0 {
            refunded += 1;
        }
        if taken > amount || done_captures > amount {
            f.violation(format!(
                "session {id}: captured {taken} (operations {done_captures}) of {amount} reserved"
            ));
        }
        if back > taken {
            f.violation(format!("session {id}: refunded {back} of {taken} captured"));
        }
        let Some(ShopPayment {
            cart,
            captured: shop_captured,
            refunded: shop_refunded,
            order_status,
            number,
        }) = payments.get(id)
        else {
            if taken > back {
                f.violation(format!(
                    "session {id}: {} kept by the provider, unknown to the shop",
                    taken - back
                ));
            }
            continue;
        };
        if (*shop_captured, *shop_refunded) != (taken, back) {
            f.violation(format!(
                "session {id} (order {number:?}): the provider has {taken} captured / {back} \
                 refunded, the shop {shop_captured} / {shop_refunded}"
            ));
        }
        if taken > back {
            *kept_per_cart.entry(cart.clone()).or_default() += 1;
            let live = order_status
                .as_deref()
                .is_some_and(|s| s != "cancelled" && s != "refunded");
            if !live {
                f.violation(format!(
                    "session {id}: {} kept without a live order (order {number:?} {order_status:?})",
                    taken - back
                ));
            }
        }
    }
    for (cart, n) in kept_per_cart {
        if n > 1 {
            f.violation(format!("cart {cart}: money kept from {n} payments"));
        }
    }
    // The shop's own ledger: never more captured than reserved.
    for row in db
        .query(
            "SELECT p.id, p.amount_minor, coalesce(sum(o.amount_minor), 0)::BIGINT \
             FROM payments p JOIN payment_operations o ON o.payment_id = p.id \
             WHERE o.kind = 'capture' AND o.status = 'done' \
             GROUP BY p.id, p.amount_minor HAVING coalesce(sum(o.amount_minor), 0) > p.amount_minor",
            &[],
        )
        .await?
    {
        let (id, amount, sum): (String, i64, i64) = (row.get(0), row.get(1), row.get(2));
        f.violation(format!("payment {id}: captures of {sum} exceed {amount}"));
    }
    let operations = db
        .query(
            "SELECT kind, status, count(*) FROM payment_operations GROUP BY kind, status ORDER BY 1, 2",
            &[],
        )
        .await?;
    for row in operations {
        let (kind, status, n): (String, String, i64) = (row.get(0), row.get(1), row.get(2));
        f.figure(&format!("shop {kind}s {status}"), n);
    }
    f.figure("provider sessions captured", captured);
    f.figure("provider sessions refunded", refunded);
    Ok(())
}

/// 3: what each product lost is what live orders hold.
async fn stock(db: &Client, initial: i64, f: &mut Findings) -> anyhow::Result<()> {
    let mut sold_total = 0;
    for row in db
        .query(
            "SELECT p.id, p.stock, coalesce((SELECT sum(l.quantity) FROM order_lines l \
                 JOIN orders o ON o.id = l.order_id \
                 WHERE l.product_id = p.id AND o.status <> 'cancelled'), 0)::BIGINT \
             FROM products p ORDER BY p.id",
            &[],
        )
        .await?
    {
        let (id, stock, sold): (String, i64, i64) = (row.get(0), row.get(1), row.get(2));
        sold_total += sold;
        if stock != initial - sold {
            f.violation(format!(
                "product {id}: stock {stock}, but {initial} − {sold} ordered = {}",
                initial - sold
            ));
        }
    }
    f.figure("items in live orders", sold_total);
    Ok(())
}

/// 4: the registration API's books against the orders.
async fn registrations_agree(
    db: &Client,
    registrations: &[Value],
    f: &mut Findings,
) -> anyhow::Result<()> {
    let mut paid: HashSet<String> = HashSet::new();
    let mut live_orders_registrations: Vec<(String, String)> = Vec::new();
    for row in db
        .query(
            "SELECT number, registration_id, status FROM orders WHERE registration_id IS NOT NULL",
            &[],
        )
        .await?
    {
        let (number, id, status): (String, String, String) = (row.get(0), row.get(1), row.get(2));
        if !matches!(status.as_str(), "cancelled" | "pending_payment") {
            paid.insert(id.clone());
            live_orders_registrations.push((number, id));
        }
    }
    let mut by_status: BTreeMap<String, u64> = BTreeMap::new();
    let mut status_of: HashMap<&str, &str> = HashMap::new();
    for r in registrations {
        let id = r["id"].as_str().unwrap_or_default();
        let status = r["status"].as_str().unwrap_or_default();
        status_of.insert(id, status);
        *by_status.entry(status.to_owned()).or_default() += 1;
        match status {
            "confirmed" if !paid.contains(id) => f.violation(format!(
                "registration {id} (cart {}) confirmed without a paid order",
                r["reference"]
            )),
            "confirmed" | "deleted" => {}
            other => f.violation(format!(
                "registration {id} (cart {}) still {other}",
                r["reference"]
            )),
        }
    }
    for (number, id) in live_orders_registrations {
        if status_of.get(id.as_str()) != Some(&"confirmed") {
            f.violation(format!(
                "order {number}: its registration {id} is {:?}, not confirmed",
                status_of.get(id.as_str())
            ));
        }
    }
    for (status, n) in by_status {
        f.figure(&format!("registrations {status}"), n);
    }
    Ok(())
}

/// 5: every mail row sent, and written once or twice (a node killed
/// between writing and recording it sends it again; never more).
async fn mails(db: &Client, dir: &Path, f: &mut Findings) -> anyhow::Result<()> {
    let mut written: HashMap<String, u32> = HashMap::new();
    if dir.exists() {
        for entry in std::fs::read_dir(dir).with_context(|| dir.display().to_string())? {
            let path = entry?.path();
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let id = text.lines().find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("Message-ID").then(|| {
                    value
                        .trim()
                        .trim_start_matches('<')
                        .split('@')
                        .next()
                        .unwrap_or_default()
                        .to_owned()
                })
            });
            match id {
                Some(id) => *written.entry(id).or_default() += 1,
                None => f.violation(format!("mail file {} has no Message-ID", path.display())),
            }
        }
    }
    let rows = db
        .query(
            "SELECT m.id, m.kind, m.status, o.status FROM mails m \
             LEFT JOIN orders o ON o.id = m.order_id",
            &[],
        )
        .await?;
    let mut kinds: BTreeMap<String, u64> = BTreeMap::new();
    let (mut twice, mut withdrawn) = (0, 0);
    let ids: HashSet<String> = rows.iter().map(|r| r.get::<_, String>(0)).collect();
    for row in &rows {
        let (id, kind, status): (String, String, String) = (row.get(0), row.get(1), row.get(2));
        let order_status: Option<String> = row.get(3);
        *kinds.entry(kind.clone()).or_default() += 1;
        let n = written.get(&id).copied().unwrap_or(0);
        if n == 2 {
            twice += 1;
        }
        // Payment instructions overtaken by the payment (or the order's
        // cancellation) are not sent, by design, and only for an order that
        // no longer waits for its money. One copy may be out: a try whose
        // node died after the server took it, before it was recorded.
        if status == "withdrawn" {
            withdrawn += 1;
            if kind != "payment_instructions" || n > 1 || order_status.as_deref() == Some("on_hold")
            {
                f.violation(format!(
                    "mail {id} ({kind}): withdrawn, written {n} times, order {order_status:?}"
                ));
            }
            continue;
        }
        if status != "sent" || n == 0 || n > 2 {
            f.violation(format!("mail {id} ({kind}): {status}, written {n} times"));
        }
    }
    for (id, n) in &written {
        if !ids.contains(id) {
            f.violation(format!("mail file for {id} ({n}×) without a mail row"));
        }
    }
    f.figure("mails", rows.len());
    f.figure("mails sent twice", twice);
    f.figure("payment instructions overtaken by the payment", withdrawn);
    for (kind, n) in kinds {
        f.figure(&format!("mails {kind}"), n);
    }
    Ok(())
}
