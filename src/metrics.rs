//! What a node counts while it serves, kept per app (tests run many apps
//! in one process) and written in the Prometheus text format with the
//! shop-wide figures the database gives at each scrape.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency histograms' buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

#[derive(Default, Clone)]
struct Histogram {
    /// Observations at or below each bound (not cumulative here).
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum_s: f64,
}

impl Histogram {
    fn observe(&mut self, took: Duration) {
        let s = took.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|bound| s <= *bound) {
            self.buckets[i] += 1;
        }
        self.count += 1;
        self.sum_s += s;
    }

    /// `name_bucket`, `name_sum` and `name_count` lines with `labels`.
    fn write(&self, out: &mut String, name: &str, labels: &str) {
        let mut below = 0;
        for (bound, n) in BUCKETS.iter().zip(self.buckets) {
            below += n;
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{bound}\"}} {below}");
        }
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", self.count);
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", self.sum_s);
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", self.count);
    }
}

/// Latencies by route, then by method and status.
type ByRoute = HashMap<String, HashMap<(&'static str, u16), Histogram>>;

/// HTTP requests by route pattern, method and status; webhooks by what
/// came of them; calls to the shop's peers by peer and outcome.
#[derive(Default)]
pub struct Metrics {
    http: Mutex<ByRoute>,
    webhooks: Mutex<HashMap<&'static str, u64>>,
    calls: Mutex<HashMap<(&'static str, &'static str), Histogram>>,
}

/// Who a call went to, as a label.
#[derive(Debug, Clone, Copy)]
pub enum Peer {
    PaymentProvider,
    RegistrationApi,
    /// The mail server, or the mail files of the demo's transport.
    Mail,
}

impl Peer {
    fn label(self) -> &'static str {
        match self {
            Self::PaymentProvider => "payment_provider",
            Self::RegistrationApi => "registration_api",
            Self::Mail => "mail",
        }
    }
}

impl Metrics {
    /// One request served: `route` is its pattern (or its path, when no
    /// route matched), `method` one of the methods the shop knows.
    pub fn request(&self, route: &str, method: &'static str, status: u16, took: Duration) {
        let mut http = self.http.lock().unwrap_or_else(|e| e.into_inner());
        // Looked up by `&str` first: no allocation once a route is known.
        let by_status = match http.get_mut(route) {
            Some(by_status) => by_status,
            None => http.entry(route.to_owned()).or_default(),
        };
        by_status.entry((method, status)).or_default().observe(took);
    }

    /// One webhook delivery and what came of it (`applied`, `duplicate`,
    /// `unknown_payment`, `stale_attempt`, `rejected_signature`,
    /// `rejected_stale`, `unreadable`, `failed`).
    pub fn webhook(&self, outcome: &'static str) {
        *self
            .webhooks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(outcome)
            .or_default() += 1;
    }

    /// One call (one try) to a peer: `ok`, `refused` (4xx or a refusal),
    /// `server_error`, `timeout` or `failed`.
    pub fn call(&self, peer: Peer, outcome: &'static str, took: Duration) {
        self.calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry((peer.label(), outcome))
            .or_default()
            .observe(took);
    }

    /// The node's own series, in the text format.
    pub fn write(&self, out: &mut String) {
        self.write_requests(out);
        let mut webhooks: Vec<(&str, u64)> = self
            .webhooks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(k, v)| (*k, *v))
            .collect();
        webhooks.sort_unstable();
        family(
            out,
            "kassa_webhooks_total",
            "counter",
            "Webhooks this node received, by what came of them.",
            webhooks
                .into_iter()
                .map(|(outcome, n)| (label("outcome", outcome), n)),
        );
        let mut calls: Vec<((&str, &str), Histogram)> = self
            .calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(k, h)| (*k, h.clone()))
            .collect();
        calls.sort_unstable_by_key(|(k, _)| *k);
        help(
            out,
            "kassa_outbound_call_duration_seconds",
            "histogram",
            "Calls (each try) this node made to the payment provider, the registration API and the mail server, by outcome.",
        );
        for ((peer, outcome), histogram) in calls {
            let labels = format!("peer=\"{peer}\",outcome=\"{outcome}\"");
            histogram.write(out, "kassa_outbound_call_duration_seconds", &labels);
        }
    }

    fn write_requests(&self, out: &mut String) {
        let series = sorted(&self.http.lock().unwrap_or_else(|e| e.into_inner()));
        help(
            out,
            "kassa_http_request_duration_seconds",
            "histogram",
            "HTTP requests served by this node, by route pattern, method and status.",
        );
        for (route, method, status, histogram) in series {
            let labels = format!(
                "route=\"{}\",method=\"{method}\",status=\"{status}\"",
                escape(&route)
            );
            histogram.write(out, "kassa_http_request_duration_seconds", &labels);
        }
    }
}

type Series = (String, &'static str, u16, Histogram);

/// A copy of the series in a stable order, taken under the lock.
fn sorted(http: &ByRoute) -> Vec<Series> {
    let mut all: Vec<Series> = http
        .iter()
        .flat_map(|(route, by)| {
            by.iter()
                .map(|((method, status), h)| (route.clone(), *method, *status, h.clone()))
        })
        .collect();
    all.sort_by(|a, b| (&a.0, a.1, a.2).cmp(&(&b.0, b.1, b.2)));
    all
}

/// The `# HELP` and `# TYPE` lines of a metric.
fn help(out: &mut String, name: &str, kind: &str, text: &str) {
    let _ = writeln!(out, "# HELP {name} {text}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// A whole metric family: its `# HELP` and `# TYPE` lines, then one sample
/// per `(labels, value)`, the labels as written between the braces (none
/// when empty).
fn family<V: std::fmt::Display>(
    out: &mut String,
    name: &str,
    kind: &str,
    text: &str,
    samples: impl IntoIterator<Item = (String, V)>,
) {
    help(out, name, kind, text);
    for (labels, value) in samples {
        let _ = if labels.is_empty() {
            writeln!(out, "{name} {value}")
        } else {
            writeln!(out, "{name}{{{labels}}} {value}")
        };
    }
}

/// `name="value"`, the value escaped.
fn label(name: &str, value: &str) -> String {
    format!("{name}=\"{}\"", escape(value))
}

/// Two labels.
fn labels(a: (&str, &str), b: (&str, &str)) -> String {
    format!("{},{}", label(a.0, a.1), label(b.0, b.1))
}

/// This node's store counters: commits by durability, and waits for a
/// reading and a writing connection, each `(count, seconds)`.
pub fn write_store(out: &mut String, commits: (u64, u64), waits: ((u64, f64), (u64, f64))) {
    let (durable, light) = commits;
    family(
        out,
        "kassa_db_commits_total",
        "counter",
        "Database commits of this node by durability.",
        [
            (label("durability", "durable"), durable),
            (label("durability", "light"), light),
        ],
    );
    let pools = [("read", waits.0), ("write", waits.1)];
    family(
        out,
        "kassa_db_connection_waits_total",
        "counter",
        "Times this node waited for a database connection (write: on SQLite, the turn to write).",
        pools.map(|(pool, (count, _))| (label("pool", pool), count)),
    );
    family(
        out,
        "kassa_db_connection_wait_seconds_total",
        "counter",
        "Time this node spent waiting for database connections.",
        pools.map(|(pool, (_, seconds))| (label("pool", pool), seconds)),
    );
}

/// The shop-wide figures the database gave, as gauges.
pub fn write_figures(out: &mut String, f: &crate::store::figures::ShopFigures) {
    family(
        out,
        "kassa_orders",
        "gauge",
        "Orders in the shop by status.",
        f.orders_by_status
            .iter()
            .map(|(status, n)| (label("status", status), n)),
    );
    family(
        out,
        "kassa_payments",
        "gauge",
        "Payments in the shop by method and status.",
        f.payments
            .iter()
            .map(|((method, status), n)| (labels(("method", method), ("status", status)), n)),
    );
    family(
        out,
        "kassa_payment_operations",
        "gauge",
        "Captures, releases and refunds in the shop by kind and status.",
        f.payment_operations
            .iter()
            .map(|((kind, status), n)| (labels(("kind", kind), ("status", status)), n)),
    );
    family(
        out,
        "kassa_placeorder_processes_running",
        "gauge",
        "Place-order processes not final, by state.",
        f.running_processes
            .iter()
            .map(|(state, n)| (label("state", state), n)),
    );
    let single = [
        (
            "kassa_placeorder_processes_stalled",
            "Running place-order processes nobody stepped for placeorder.stalled_after_ms.",
            f.stalled_processes,
        ),
        (
            "kassa_outbox_pending",
            "Outbox events waiting to be delivered.",
            f.outbox_pending,
        ),
        (
            "kassa_outbox_oldest_pending_seconds",
            "Age of the oldest event waiting in the outbox (0 when none waits).",
            f.outbox_oldest_pending_s,
        ),
    ];
    for (name, text, value) in single {
        family(out, name, "gauge", text, [(String::new(), value)]);
    }
    family(
        out,
        "kassa_outbox_failed",
        "gauge",
        "Outbox events given up on, by kind.",
        f.outbox_failed
            .iter()
            .map(|(kind, n)| (label("kind", kind), n)),
    );
}

/// A label value as the text format wants it.
pub fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_lands_in_its_bucket_and_every_one_above() {
        let metrics = Metrics::default();
        metrics.request("/cart", "GET", 200, Duration::from_millis(3));
        metrics.request("/cart", "GET", 200, Duration::from_millis(30));
        metrics.request("/a\"b", "POST", 404, Duration::from_secs(9));
        let mut out = String::new();
        metrics.write(&mut out);
        let cart = "route=\"/cart\",method=\"GET\",status=\"200\"";
        for (le, n) in [
            ("0.0025", 0),
            ("0.005", 1),
            ("0.025", 1),
            ("0.05", 2),
            ("+Inf", 2),
        ] {
            let line =
                format!("kassa_http_request_duration_seconds_bucket{{{cart},le=\"{le}\"}} {n}\n");
            assert!(out.contains(&line), "{line} in\n{out}");
        }
        assert!(out.contains(&format!(
            "kassa_http_request_duration_seconds_count{{{cart}}} 2\n"
        )));
        let odd = "route=\"/a\\\"b\",method=\"POST\",status=\"404\"";
        assert!(out.contains(&format!(
            "kassa_http_request_duration_seconds_bucket{{{odd},le=\"5\"}} 0\n"
        )));
        assert!(out.contains(&format!(
            "kassa_http_request_duration_seconds_bucket{{{odd},le=\"+Inf\"}} 1\n"
        )));
    }
}
