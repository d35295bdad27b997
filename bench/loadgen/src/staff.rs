//! The people behind the shop while shoppers buy: the warehouse, which
//! delivers every accepted order through the orders API (creating the
//! delivery, shipping it, marking it delivered, which captures), and the
//! convenience store, where shoppers pay (or let the payment expire).

use crate::metrics::Metrics;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;

/// Orders delivered at the same time.
const PACKERS: usize = 4;

/// Orders the warehouse delivers: accepted and not shipped yet.
const TO_DELIVER: &[&str] = &["placed", "paid"];

#[derive(Clone)]
pub struct Warehouse {
    pub client: Client,
    pub nodes: Arc<Vec<String>>,
    pub api_key: String,
    pub metrics: Arc<Metrics>,
}

impl Warehouse {
    /// Delivers until `stop`, then one more pass.
    pub async fn run(self, stop: Arc<AtomicBool>) {
        let mut node = 0;
        loop {
            let stopping = stop.load(Ordering::Relaxed);
            let mut worked = false;
            for status in TO_DELIVER {
                match self.pass(&mut node, status).await {
                    Ok(n) => worked |= n > 0,
                    Err(e) => {
                        self.metrics.staff("api errors");
                        tracing_line(&format!("warehouse: {e:#}"));
                        node += 1;
                    }
                }
            }
            if stopping {
                return;
            }
            if !worked {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }

    fn url(&self, node: usize, path: &str) -> String {
        format!("{}/api/v1{path}", self.nodes[node % self.nodes.len()])
    }

    /// Delivers the first page of orders in `status`; how many it moved.
    async fn pass(&self, node: &mut usize, status: &str) -> anyhow::Result<usize> {
        let list: Value = self
            .client
            .get(self.url(*node, &format!("/orders?status={status}")))
            .bearer_auth(&self.api_key)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let numbers: Vec<String> = list["orders"]
            .as_array()
            .map(|orders| {
                orders
                    .iter()
                    .filter_map(|o| o["number"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        // A few orders at a time, as a warehouse has several packers.
        let mut moved = 0;
        for chunk in numbers.chunks(PACKERS) {
            let mut packing = tokio::task::JoinSet::new();
            for number in chunk {
                let (warehouse, node, number) = (self.clone(), *node, number.clone());
                packing.spawn(async move { warehouse.deliver(node, &number).await });
            }
            while let Some(done) = packing.join_next().await {
                if done?? {
                    moved += 1;
                }
            }
        }
        Ok(moved)
    }

    /// One delivery with every open line, shipped and delivered. Each POST
    /// has a key made from what it does, so a pass interrupted anywhere
    /// (a node killed) is resumed by the next without doing anything twice.
    async fn deliver(&self, node: usize, number: &str) -> anyhow::Result<bool> {
        let (status, created, replayed) = self
            .post(
                node,
                &format!("/orders/{number}/deliveries"),
                &format!("delivery-{number}"),
                json!({}),
            )
            .await?;
        if status != StatusCode::CREATED && status != StatusCode::OK {
            // Nothing open (delivered meanwhile) or in progress: next pass.
            self.metrics.staff("deliveries refused");
            tracing_line(&format!("warehouse: order {number}: {status} {created}"));
            return Ok(false);
        }
        let Some(id) = created["delivery_id"].as_str() else {
            return Ok(false);
        };
        if !replayed {
            self.metrics.staff("deliveries created");
        }
        let mut delivered_before = true;
        for to in ["shipped", "delivered"] {
            let (status, _, moved_before) = self
                .post(
                    node,
                    &format!("/deliveries/{id}/status"),
                    &format!("{to}-{id}"),
                    json!({ "status": to }),
                )
                .await?;
            delivered_before = moved_before;
            if status != StatusCode::OK {
                self.metrics.staff("moves refused");
                tracing_line(&format!("warehouse: delivery {id} {to}: {status}"));
                return Ok(false);
            }
        }
        if !delivered_before {
            self.metrics.staff("deliveries delivered");
        }
        Ok(true)
    }

    async fn post(
        &self,
        node: usize,
        path: &str,
        key: &str,
        body: Value,
    ) -> anyhow::Result<(StatusCode, Value, bool)> {
        let response = self
            .client
            .post(self.url(node, path))
            .bearer_auth(&self.api_key)
            .header("Idempotency-Key", key)
            .json(&body)
            .send()
            .await?;
        let status = response.status();
        if status.is_server_error() {
            anyhow::bail!("{path}: {status}");
        }
        let replayed = response
            .headers()
            .get("Idempotent-Replayed")
            .is_some_and(|v| v == "true");
        Ok((
            status,
            response.json().await.unwrap_or(Value::Null),
            replayed,
        ))
    }
}

/// The convenience store: most shoppers pay there a moment after
/// ordering, some never come and the payment expires.
pub async fn convenience_store(
    sandbox: String,
    mut sessions: mpsc::UnboundedReceiver<String>,
    metrics: Arc<Metrics>,
) {
    let client = Client::builder()
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("HTTP client");
    while let Some(session) = sessions.recv().await {
        tokio::time::sleep(Duration::from_millis(fastrand::u64(0..200))).await;
        settle(&client, &sandbox, &session, &metrics).await;
    }
}

async fn settle(client: &Client, sandbox: &str, session: &str, metrics: &Metrics) {
    let choice = if fastrand::u8(..100) < 85 {
        "paid"
    } else {
        "expire"
    };
    for _ in 0..10 {
        match client
            .post(format!("{sandbox}/console/{session}/{choice}"))
            .send()
            .await
        {
            Ok(r) if r.status().is_redirection() => {
                metrics.staff(if choice == "paid" {
                    "store payments paid"
                } else {
                    "store payments expired"
                });
                return;
            }
            Ok(r) if r.status() == StatusCode::CONFLICT => {
                metrics.staff("store payments already settled");
                return;
            }
            _ => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

/// What the provider's clock would do to the sessions left when the
/// shoppers stop: a convenience-store payment still pending is paid or
/// expires, a session nobody paid expires (as it would after its hour),
/// so no order waits at the end for a shopper who went away.
pub async fn settle_leftovers(sandbox: &str, metrics: &Metrics) -> anyhow::Result<usize> {
    let client = Client::builder().timeout(Duration::from_secs(30)).build()?;
    let ledger: Value = client
        .get(format!("{sandbox}/v1/test/ledger"))
        .send()
        .await?
        .json()
        .await?;
    let sessions = ledger["sessions"].as_array().cloned().unwrap_or_default();
    let mut settled = 0;
    for session in &sessions {
        let Some(id) = session["id"].as_str() else {
            continue;
        };
        if session["status"] == "pending" {
            settle(&client, sandbox, id, metrics).await;
        } else if session["status"] == "open" {
            let _ = client
                .post(format!("{sandbox}/console/{id}/expire"))
                .send()
                .await;
            metrics.staff("unpaid sessions expired at the end");
        } else {
            continue;
        }
        settled += 1;
    }
    Ok(settled)
}

pub fn tracing_line(line: &str) {
    eprintln!("[loadgen] {line}");
}
