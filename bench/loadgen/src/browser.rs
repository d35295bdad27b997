//! A shopper's browser: one cookie jar, redirects followed by hand (the
//! flow decides where to go), CSRF tokens read from the pages, and any of
//! the shop's nodes behind it. When a node does not answer (it was
//! killed) the browser goes on at the next one, as a load balancer would.

use crate::metrics::Metrics;
use anyhow::{Context, bail};
use reqwest::{Client, Response, StatusCode};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long one step keeps trying other nodes before the flow gives up.
const STEP_PATIENCE: Duration = Duration::from_secs(45);

pub struct Browser {
    client: Client,
    nodes: Arc<Vec<String>>,
    node: usize,
    metrics: Arc<Metrics>,
    /// The last requests and their answers, for a journey cut short.
    trail: Vec<String>,
}

/// An answer: its status, where it redirects, its body.
pub struct Page {
    pub status: StatusCode,
    pub location: Option<String>,
    pub body: String,
}

impl Page {
    /// The value of the hidden field `name` on the page.
    pub fn field(&self, name: &str) -> Option<String> {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self.body.find(&marker)? + marker.len();
        self.body[start..].split('"').next().map(str::to_owned)
    }

    pub fn redirect(&self) -> Option<&str> {
        (self.status == StatusCode::SEE_OTHER || self.status == StatusCode::FOUND)
            .then_some(())
            .and(self.location.as_deref())
    }
}

pub fn client() -> Client {
    Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .pool_max_idle_per_host(4)
        .build()
        .expect("HTTP client")
}

impl Browser {
    pub fn new(nodes: Arc<Vec<String>>, metrics: Arc<Metrics>) -> Self {
        let node = fastrand::usize(..nodes.len());
        Self {
            client: client(),
            nodes,
            node,
            metrics,
            trail: Vec::new(),
        }
    }

    /// The last requests of the journey, oldest first.
    pub fn trail(&self) -> String {
        self.trail.join(" | ")
    }

    fn note(&mut self, line: String) {
        if self.trail.len() == 8 {
            self.trail.remove(0);
        }
        self.trail.push(line);
    }

    pub fn node(&self) -> &str {
        &self.nodes[self.node]
    }

    /// A path on the shop, or an absolute URL (the provider's pages).
    fn url(&self, target: &str) -> String {
        if target.starts_with("http://") || target.starts_with("https://") {
            target.to_owned()
        } else {
            format!("{}{target}", self.node())
        }
    }

    /// Whether `url` is one of the shop's nodes; then its path (so the
    /// next request may go to another node).
    pub fn shop_path<'a>(&self, url: &'a str) -> Option<&'a str> {
        if url.starts_with('/') {
            return Some(url);
        }
        self.nodes
            .iter()
            .find_map(|node| url.strip_prefix(node.as_str()))
    }

    pub async fn get(&mut self, step: &'static str, target: &str) -> anyhow::Result<Page> {
        self.send(step, target, None).await
    }

    /// A form POST with the session's CSRF token added.
    pub async fn post(
        &mut self,
        step: &'static str,
        target: &str,
        csrf: &str,
        fields: &[(&str, String)],
    ) -> anyhow::Result<Page> {
        let mut form: Vec<(String, String)> = fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        form.push(("csrf_token".into(), csrf.to_owned()));
        self.send(step, target, Some(form)).await
    }

    /// A POST without a body (the provider's buttons).
    pub async fn press(&mut self, step: &'static str, url: &str) -> anyhow::Result<Page> {
        self.send(step, url, Some(Vec::new())).await
    }

    /// Sends until a node answers something other than a server error,
    /// moving to the next node after each failure.
    async fn send(
        &mut self,
        step: &'static str,
        target: &str,
        form: Option<Vec<(String, String)>>,
    ) -> anyhow::Result<Page> {
        let started = Instant::now();
        let mut pause = Duration::from_millis(100);
        loop {
            let url = self.url(target);
            let request = match &form {
                None => self.client.get(&url),
                Some(fields) => self.client.post(&url).form(fields),
            };
            let sent = Instant::now();
            let failure = match request.send().await {
                Ok(response) if !response.status().is_server_error() => {
                    let page = read(response)
                        .await
                        .with_context(|| format!("{step}: {url}"))?;
                    self.metrics.record(step, sent.elapsed());
                    return Ok(page);
                }
                Ok(response) => {
                    let status = response.status();
                    let body = response.text().await.unwrap_or_default();
                    let text: String = body.chars().take(160).collect();
                    crate::staff::tracing_line(&format!(
                        "{step}: {url}: {status}: {}",
                        text.replace('\n', " ")
                    ));
                    format!("{status}")
                }
                Err(e) => format!("{e}"),
            };
            self.metrics.retry();
            self.note(format!("{step} {url} -> {failure}"));
            if started.elapsed() > STEP_PATIENCE {
                bail!(
                    "{step}: {url}: gave up after {:?}: {failure}",
                    started.elapsed()
                );
            }
            // A shop node that failed: the next request goes elsewhere.
            if self.shop_path(&url).is_some() {
                self.node = (self.node + 1) % self.nodes.len();
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(2));
        }
    }
}

async fn read(response: Response) -> anyhow::Result<Page> {
    let status = response.status();
    let location = response
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = response.text().await?;
    Ok(Page {
        status,
        location,
        body,
    })
}
