//! Load for Kassa: shoppers walking whole journeys against a list of
//! nodes while the warehouse delivers through the orders API (`soak`),
//! and the invariants checked afterwards (`check`); a fixed number of one
//! kind of journey at a fixed concurrency for the benchmark (`flows`).
//! See `bench/soak.sh` and `bench/run.sh`.

mod browser;
mod check;
mod flows;
mod metrics;
mod staff;

use browser::Browser;
use clap::{Parser, Subcommand};
use metrics::Metrics;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(about = "Shopper flows and invariant checks for Kassa")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Drives shopper journeys for a while and writes a JSON summary.
    Soak {
        /// The shop's nodes, e.g. http://127.0.0.1:8081 (repeat or comma-separate).
        #[arg(long, value_delimiter = ',', required = true)]
        node: Vec<String>,
        /// The sandbox provider (its console settles store payments).
        #[arg(long, default_value = "http://127.0.0.1:8090")]
        sandbox: String,
        /// Shoppers walking at the same time, each journey after journey.
        #[arg(long, default_value_t = 8)]
        shoppers: usize,
        /// How long to start new journeys, in seconds.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        /// Each shopper's pause between two journeys, in milliseconds.
        #[arg(long, default_value_t = 0)]
        think_ms: u64,
        /// An API key of the orders API: the warehouse delivers every order.
        /// Without one, nothing is delivered.
        #[arg(long, env = "LOADGEN_API_KEY")]
        api_key: Option<String>,
        /// Where to write the summary (JSON).
        #[arg(long)]
        summary: Option<PathBuf>,
    },
    /// Walks exactly `count` journeys of one kind, `shoppers` at a time,
    /// and writes a JSON summary (flows by outcome, latency per step and
    /// per journey). Exits 1 when a journey did not end in an order.
    Flows {
        #[arg(long, default_value = "http://127.0.0.1:8081")]
        node: String,
        /// `cash_on_delivery` or `card`.
        #[arg(long)]
        kind: String,
        #[arg(long, default_value_t = 8)]
        shoppers: usize,
        #[arg(long, default_value_t = 100)]
        count: u64,
        #[arg(long)]
        summary: Option<PathBuf>,
    },
    /// Waits for the shop to settle, checks the invariants, prints the
    /// table; exits 1 on any violation.
    Check {
        #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/kassa")]
        database: String,
        #[arg(long, default_value = "http://127.0.0.1:8090")]
        sandbox: String,
        /// The directory the shop writes its mails to.
        #[arg(long)]
        mail_dir: PathBuf,
        /// Every product's stock before the run (`shop.demo_stock`).
        #[arg(long)]
        initial_stock: i64,
        /// How long to wait for the outbox, sweeper and reconciliation.
        #[arg(long, default_value_t = 180)]
        settle_seconds: u64,
        /// The soak's summary, for the flows in the table.
        #[arg(long)]
        summary: Option<PathBuf>,
        /// Nodes killed during the run (counted by the script).
        #[arg(long, default_value_t = 0)]
        kills: u64,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Soak {
            node,
            sandbox,
            shoppers,
            seconds,
            think_ms,
            api_key,
            summary,
        } => {
            let think = Duration::from_millis(think_ms);
            let figures = soak(node, sandbox, shoppers, seconds, think, api_key).await?;
            let json = serde_json::to_string_pretty(&figures)?;
            match summary {
                Some(path) => std::fs::write(path, json)?,
                None => println!("{json}"),
            }
            Ok(())
        }
        Command::Flows {
            node,
            kind,
            shoppers,
            count,
            summary,
        } => {
            let kind =
                flows::Kind::named(&kind).ok_or_else(|| anyhow::anyhow!("unknown kind {kind}"))?;
            let figures = walk(node, kind, shoppers, count).await;
            let json = serde_json::to_string_pretty(&figures)?;
            match summary {
                Some(path) => std::fs::write(path, json)?,
                None => println!("{json}"),
            }
            if figures.orders.len() as u64 != count {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Check {
            database,
            sandbox,
            mail_dir,
            initial_stock,
            settle_seconds,
            summary,
            kills,
        } => {
            let summary: Option<serde_json::Value> = match summary {
                Some(path) => Some(serde_json::from_slice(&std::fs::read(path)?)?),
                None => None,
            };
            let confirmed: Vec<String> = summary
                .as_ref()
                .and_then(|s| s["orders"].as_array())
                .into_iter()
                .flatten()
                .filter_map(|n| n.as_str().map(str::to_owned))
                .collect();
            let db = check::connect(&database).await?;
            let left = check::settle(&db, Duration::from_secs(settle_seconds)).await?;
            let findings =
                check::run(&db, &sandbox, &mail_dir, initial_stock, left, &confirmed).await?;
            print_table(summary.as_ref(), kills, &findings);
            if !findings.violations.is_empty() {
                std::process::exit(1);
            }
            Ok(())
        }
    }
}

/// Walks `count` journeys of `kind`, `shoppers` at a time.
async fn walk(node: String, kind: flows::Kind, shoppers: usize, count: u64) -> metrics::Summary {
    let nodes = Arc::new(vec![node.trim_end_matches('/').to_owned()]);
    let metrics = Arc::new(Metrics::default());
    let next = Arc::new(AtomicU64::new(1));
    let started = Instant::now();
    let mut walkers = Vec::new();
    for _ in 0..shoppers {
        let (nodes, metrics, next) = (nodes.clone(), metrics.clone(), next.clone());
        walkers.push(tokio::spawn(async move {
            loop {
                let shopper = next.fetch_add(1, Ordering::Relaxed);
                if shopper > count {
                    break;
                }
                let mut browser = Browser::new(nodes.clone(), metrics.clone());
                let began = Instant::now();
                match flows::journey(&mut browser, kind, shopper).await {
                    Ok(flows::Outcome::Ordered { number, .. }) => {
                        metrics.record("journey", began.elapsed());
                        metrics.order(number);
                        metrics.flow(kind.name(), "ordered");
                    }
                    Ok(flows::Outcome::Declined) => metrics.flow(kind.name(), "declined"),
                    Err(e) => {
                        metrics.flow(kind.name(), "abandoned");
                        staff::tracing_line(&format!("shopper {shopper}: {e:#}"));
                    }
                }
            }
        }));
    }
    for walker in walkers {
        let _ = walker.await;
    }
    metrics.summary(started.elapsed().as_secs_f64(), shoppers)
}

/// Runs `shoppers` concurrent shoppers for `seconds`, the warehouse and
/// the convenience store beside them.
pub async fn soak(
    nodes: Vec<String>,
    sandbox: String,
    shoppers: usize,
    seconds: u64,
    think: Duration,
    api_key: Option<String>,
) -> anyhow::Result<metrics::Summary> {
    let nodes = Arc::new(
        nodes
            .into_iter()
            .map(|n| n.trim_end_matches('/').to_owned())
            .collect::<Vec<_>>(),
    );
    let metrics = Arc::new(Metrics::default());
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let (store_tx, store_rx) = tokio::sync::mpsc::unbounded_channel();
    let store = tokio::spawn(staff::convenience_store(
        sandbox.clone(),
        store_rx,
        metrics.clone(),
    ));
    let warehouse = api_key.map(|api_key| {
        tokio::spawn(
            staff::Warehouse {
                client: browser::client(),
                nodes: nodes.clone(),
                api_key,
                metrics: metrics.clone(),
            }
            .run(stop.clone()),
        )
    });
    let next_shopper = Arc::new(AtomicU64::new(1));
    let mut walkers = Vec::new();
    for _ in 0..shoppers {
        let (nodes, metrics, store_tx, next_shopper) = (
            nodes.clone(),
            metrics.clone(),
            store_tx.clone(),
            next_shopper.clone(),
        );
        walkers.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let shopper = next_shopper.fetch_add(1, Ordering::Relaxed);
                let kind = flows::Kind::pick();
                let mut browser = Browser::new(nodes.clone(), metrics.clone());
                let began = Instant::now();
                match flows::journey(&mut browser, kind, shopper).await {
                    Ok(flows::Outcome::Ordered {
                        number,
                        store_session,
                    }) => {
                        metrics.record("journey", began.elapsed());
                        metrics.order(number);
                        metrics.flow(kind.name(), "ordered");
                        if let Some(session) = store_session {
                            let _ = store_tx.send(session);
                        }
                    }
                    Ok(flows::Outcome::Declined) => metrics.flow(kind.name(), "declined"),
                    Err(e) => {
                        metrics.flow(kind.name(), "abandoned");
                        staff::tracing_line(&format!(
                            "shopper {shopper} ({}): {e:#}; after: {}",
                            kind.name(),
                            browser.trail()
                        ));
                    }
                }
                if !think.is_zero() {
                    tokio::time::sleep(think).await;
                }
            }
        }));
    }
    drop(store_tx);
    for walker in walkers {
        walker.await?;
    }
    let seconds = started.elapsed().as_secs_f64();
    store.await?;
    let left = staff::settle_leftovers(&sandbox, &metrics).await;
    if let Err(e) = left {
        staff::tracing_line(&format!("store payments left over: {e:#}"));
    }
    // The warehouse delivers what is left (orders placed by the last
    // settlements need a moment to appear), then stops.
    if let Some(warehouse) = warehouse {
        tokio::time::sleep(Duration::from_secs(3)).await;
        stop.store(true, Ordering::Relaxed);
        warehouse.await?;
    }
    Ok(metrics.summary(seconds, shoppers))
}

fn print_table(summary: Option<&serde_json::Value>, kills: u64, findings: &check::Findings) {
    let mut rows: Vec<(String, String)> = Vec::new();
    if let Some(s) = summary {
        rows.push((
            "run".into(),
            format!(
                "{:.0} s, {} shoppers",
                s["seconds"].as_f64().unwrap_or(0.0),
                s["shoppers"]
            ),
        ));
        let flows = s["flows"].as_object().cloned().unwrap_or_default();
        let total: u64 = flows.values().filter_map(|v| v.as_u64()).sum();
        rows.push(("flows".into(), total.to_string()));
        for (name, n) in flows {
            rows.push((format!("  {name}"), n.to_string()));
        }
        rows.push((
            "requests (retried)".into(),
            format!("{} ({})", s["requests"], s["retries"]),
        ));
        for (name, n) in s["staff"].as_object().cloned().unwrap_or_default() {
            rows.push((format!("warehouse/store: {name}"), n.to_string()));
        }
    }
    rows.push(("nodes killed (kill -9)".into(), kills.to_string()));
    rows.extend(findings.figures.iter().cloned());
    rows.push(("violations".into(), findings.violations.len().to_string()));
    let width = rows
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(10);
    println!("| {:width$} | value |", "what");
    println!("|{}|-------|", "-".repeat(width + 2));
    for (k, v) in rows {
        println!("| {k:width$} | {v} |");
    }
    for v in &findings.violations {
        println!("VIOLATION: {v}");
    }
}
