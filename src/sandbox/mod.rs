//! The stand-in outside world: a hosted payment provider, spoken to over
//! HTTP only, exactly as the shop would speak to a real one. It keeps its
//! state in memory. Served by `kassa sandbox` or beside the shop.
//!
//! API (JSON): `POST /v1/sessions` (with `Idempotency-Key`), `GET
//! /v1/sessions/{id}`, `GET /v1/sessions/by-key/{key}`, `POST
//! /v1/sessions/{id}/capture|cancel|refund` (the whole payment), and the
//! money operations on parts of it, each with an `Idempotency-Key`: `POST
//! /v1/sessions/{id}/captures` and `…/refunds` (`{"amount_minor": n}`),
//! `POST /v1/sessions/{id}/release`; test knobs at `/v1/test/*`, and at
//! `GET /v1/test/stats` what happened, with every call counted.
//! Pages: `/pay/{id}` for the shopper, `/console` for the shop owner.
//! It also serves the customer-registration API (`/registrations`).
//! Both speak the formats the shop's adapters own
//! (`payment::hosted::wire`, `registration::wire`), as a real provider
//! would speak its published API.

mod api;
pub mod calls;
pub mod chaos;
mod operations;
mod pages;
pub mod registration;
mod webhooks;

use crate::payment::hosted::wire::Session;
use actix_web::dev::Server;
use actix_web::{App, HttpServer, web};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

/// Ways to make the provider misbehave, for tests.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Knobs {
    /// Wait this long before sending each webhook.
    pub delay_ms: u64,
    /// Send every webhook twice.
    pub duplicate: bool,
    /// Send a session's second event before its first.
    pub reorder: bool,
    /// Send no webhooks at all.
    pub drop: bool,
    /// After paying, the shopper closes the window instead of returning.
    pub shopper_never_returns: bool,
    /// Answer every API call with 503.
    pub down: bool,
}

/// The provider API's operations, as they are counted in [`Stats`]. The
/// subject of `create_session` and `session_by_key` is the idempotency key,
/// that of the others the session id.
pub const OPERATIONS: &[&str] = &[
    "create_session",
    "show_session",
    "session_by_key",
    "capture",
    "cancel",
    "refund",
    "capture_amount",
    "release",
    "refund_amount",
];

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Stats {
    /// Sessions created (a repeat with the same key creates none).
    pub sessions: usize,
    /// Sessions whose money was taken: each counts once, however it was
    /// taken (the shopper paying with automatic capture, a capture call,
    /// partial captures, a convenience-store payment) and however often it
    /// was captured. A repeated capture call shows in `calls`, not here.
    pub captured_sessions: u64,
    /// Webhook deliveries the shop accepted (2xx), each copy of a
    /// duplicated event counted; refused or failed tries are not.
    pub webhooks_sent: u64,
    /// Every API call received, repeats included.
    #[serde(flatten)]
    pub received: calls::CallCounts,
    /// What `[sandbox.chaos]` did, over both APIs and all webhooks.
    #[serde(default)]
    pub chaos: chaos::ChaosCounts,
}

impl Default for Stats {
    fn default() -> Self {
        Self {
            sessions: 0,
            captured_sessions: 0,
            webhooks_sent: 0,
            received: calls::CallCounts::of(OPERATIONS),
            chaos: chaos::ChaosCounts::default(),
        }
    }
}

#[derive(Default)]
struct State {
    sessions: HashMap<String, Session>,
    by_key: HashMap<String, String>,
    knobs: Knobs,
    stats: Stats,
    next_event: u64,
    events_per_session: HashMap<String, u32>,
    /// Money operations' idempotency keys: the session each was used on.
    operation_keys: HashMap<String, String>,
    /// The reason to refuse the next new capture with (test knob).
    fail_next_capture: Option<String>,
    registrations: registration::RegistrationState,
    chaos: chaos::Chaos,
}

/// The sandbox provider: its state and how it reaches shops.
#[derive(Clone)]
pub struct Sandbox {
    state: Arc<Mutex<State>>,
    http: reqwest::Client,
    webhook_secret: String,
    base_url: Arc<Mutex<String>>,
    convenience_store_days: i64,
}

impl Sandbox {
    pub fn new(webhook_secret: String, convenience_store_days: i64) -> Self {
        Self {
            state: Arc::default(),
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(5))
                .build()
                .expect("HTTP client"),
            webhook_secret,
            base_url: Arc::default(),
            convenience_store_days,
        }
    }

    /// The provider misbehaves as `settings` say (see [`chaos`]).
    pub fn with_chaos(self, settings: chaos::ChaosSettings) -> Self {
        self.lock().chaos = chaos::Chaos::new(settings);
        self
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind; go on.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn base_url(&self) -> String {
        self.base_url
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Binds `bind` and serves the sandbox; returns the port and the server.
    pub fn serve(self, bind: &str) -> anyhow::Result<(u16, Server)> {
        let listener = TcpListener::bind(bind)?;
        let port = listener.local_addr()?.port();
        *self.base_url.lock().unwrap_or_else(|e| e.into_inner()) =
            format!("http://127.0.0.1:{port}");
        let data = web::Data::new(self);
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .configure(api::routes)
                .configure(pages::routes)
                .configure(registration::routes)
        })
        .workers(1)
        .listen(listener)?
        .run();
        Ok((port, server))
    }
}
