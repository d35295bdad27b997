//! Builds the app from Settings: storage, gateways, sessions, routes. The
//! listener is bound here, so tests can ask for port 0 and read the port.

use crate::application::Shop;
use crate::application::placeorder::sweeper;
use crate::config::{DatabaseBackend, SessionStoreKind, Settings};
use crate::metrics::Metrics;
use crate::payment::PaymentGateway;
use crate::payment::hosted::HostedGateway;
use crate::registration::RegistrationApi;
use crate::sandbox::Sandbox;
use crate::store::Store;
use crate::web::health::Probes;
use crate::web::session_store::SessionBackend;
use actix_session::SessionMiddleware;
use actix_session::config::PersistentSession;
use actix_session::storage::RedisSessionStore;
use actix_web::cookie::{Key, SameSite};
use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::DefaultHeaders;
use actix_web::{App, HttpResponse, HttpServer, web};
use anyhow::Context;
use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;

pub struct Application {
    port: u16,
    server: Server,
    shop: Shop,
    /// The sandbox provider served beside the shop, and its port.
    sandbox: Option<(u16, Server)>,
}

/// What the shop is built with besides its settings.
#[derive(Default)]
pub struct Extras {
    /// Gateways offered after the built-in ones (a real provider's adapter,
    /// or a scripted one in tests).
    pub gateways: Vec<Arc<dyn PaymentGateway>>,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        Self::build_with(settings, Extras::default()).await
    }

    pub async fn build_with(settings: Settings, extras: Extras) -> anyhow::Result<Self> {
        let settings = Arc::new(settings);
        std::fs::create_dir_all(&settings.data_dir)
            .with_context(|| format!("creating the data dir {}", settings.data_dir.display()))?;
        let store = open_store(&settings).await?;
        if settings.shop.demo_data {
            if store
                .seed_demo_data(&settings.shop.currency, settings.shop.demo_stock)
                .await?
            {
                tracing::info!("seeded the demo catalogue");
            }
            crate::application::staff::seed_demo_staff(&store).await?;
        }
        let key = session_key(&settings)?;
        let (sessions, redis) = session_backend(&settings).await?;
        let probes = web::Data::new(Probes { redis });

        let listener = TcpListener::bind(&settings.bind)
            .with_context(|| format!("binding {}", settings.bind))?;
        let port = listener.local_addr()?.port();
        let sandbox = sandbox_beside_shop(&settings)?;
        let shop = assemble_shop(
            &settings,
            store,
            &key,
            public_url(&settings, port),
            sandbox.as_ref().map(|s| s.0),
            extras.gateways,
        )?;
        let server = http_server(
            listener,
            settings,
            sessions,
            key,
            web::Data::new(shop.clone()),
            probes,
        )?;
        Ok(Self {
            port,
            server,
            shop,
            sandbox,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn shop(&self) -> &Shop {
        &self.shop
    }

    /// Stops the server when called (tests use it to restart a node).
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped; the node's sweeper, reconciliation, outbox and
    /// mail workers (and the sandbox, if it runs beside the shop) run as long as
    /// the server. Stopped by [`Application::stopper`], the workers end their
    /// current steps (within `shutdown_timeout_s`); stopped any other way
    /// (a test's crash), they are dropped where they are.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let workers = if self.shop.settings.jobs.run {
            spawn_workers(&self.shop)
        } else {
            Vec::new()
        };
        let sandbox = self.sandbox.map(|(_, server)| {
            let handle = server.handle();
            (tokio::spawn(server), handle)
        });
        let served = self.server.await;
        end_workers(&self.shop, workers).await;
        if let Some((task, handle)) = sandbox {
            handle.stop(false).await;
            let _ = task.await;
        }
        served
    }

    /// Stops the node gracefully: no new connections, requests in flight
    /// finished, the background workers' current steps ended, all within
    /// `shutdown_timeout_s`; `run_until_stopped` then returns.
    pub fn stopper(&self) -> impl Fn() + use<> {
        let handle = self.server.handle();
        let stopping = self.shop.stopping.clone();
        move || {
            stopping.stop();
            let handle = handle.clone();
            tokio::spawn(async move { handle.stop(true).await });
        }
    }

    /// The port of the sandbox served beside the shop.
    pub fn sandbox_port(&self) -> Option<u16> {
        self.sandbox.as_ref().map(|(port, _)| *port)
    }
}

/// The background workers of a node (`jobs.run`, `kassa jobs`).
fn spawn_workers(shop: &Shop) -> Vec<tokio::task::JoinHandle<()>> {
    vec![
        tokio::spawn(sweeper::run(shop.clone())),
        tokio::spawn(crate::application::payment_events::run(shop.clone())),
        tokio::spawn(crate::application::outbox::run(shop.clone())),
        tokio::spawn(crate::application::mail::run(shop.clone())),
    ]
}

/// Waits for the workers to end their steps when the node stops
/// (within `shutdown_timeout_s`); otherwise (a test's crash) drops them
/// where they are.
async fn end_workers(shop: &Shop, mut workers: Vec<tokio::task::JoinHandle<()>>) {
    if shop.stopping.is_set() {
        let patience = std::time::Duration::from_secs(shop.settings.shutdown_timeout_s);
        let all = async {
            for worker in &mut workers {
                let _ = worker.await;
            }
        };
        if tokio::time::timeout(patience, all).await.is_err() {
            tracing::warn!("background workers still busy at the shutdown timeout; stopped");
        }
    }
    for worker in &workers {
        worker.abort();
    }
}

/// A node that runs only the background workers (`kassa jobs`): no pages,
/// no sandbox. Several nodes share the work through PostgreSQL: on SQLite
/// the shop's node is the only writer its cart cache allows.
pub struct Jobs {
    shop: Shop,
}

impl Jobs {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        if let DatabaseBackend::Sqlite(_) = settings.database() {
            anyhow::bail!(
                "`kassa jobs` needs PostgreSQL (database.url): on SQLite the shop's own node \
                 runs the background workers (jobs.run = true)"
            );
        }
        anyhow::ensure!(
            !settings.public_url.is_empty(),
            "`kassa jobs` needs public_url, the address shoppers reach the shop at: \
             it writes links into mails and payment requests"
        );
        let settings = Arc::new(settings);
        let store = open_store(&settings).await?;
        let key = session_key(&settings)?;
        let public_url = public_url(&settings, 0);
        let shop = assemble_shop(&settings, store, &key, public_url, None, Vec::new())?;
        Ok(Self { shop })
    }

    /// Stops the workers after their current steps.
    pub fn stopper(&self) -> impl Fn() + use<> {
        let stopping = self.shop.stopping.clone();
        move || stopping.stop()
    }

    /// Runs the workers until stopped.
    pub async fn run_until_stopped(self) {
        let workers = spawn_workers(&self.shop);
        self.shop.stopping.stopped().await;
        end_workers(&self.shop, workers).await;
    }
}

/// The shop's use cases wired to the store and the peers: the hosted
/// gateway (at its API, or the sandbox on `sandbox_port`) before `extra`
/// ones, and the registration API, all counting into one registry.
fn assemble_shop(
    settings: &Arc<Settings>,
    store: Store,
    key: &Key,
    public_url: String,
    sandbox_port: Option<u16>,
    extra: Vec<Arc<dyn PaymentGateway>>,
) -> anyhow::Result<Shop> {
    let metrics = Arc::new(Metrics::default());
    let mut gateways: Vec<Arc<dyn PaymentGateway>> =
        hosted_gateway(settings, &public_url, sandbox_port, key.signing(), &metrics)?
            .into_iter()
            .collect();
    gateways.extend(extra);
    let link_key: Arc<[u8]> = Arc::from(key.signing());
    let registration = registration_api(settings, sandbox_port, &metrics)?;
    let mut shop = Shop::new(store, settings.clone(), gateways, link_key, metrics)?;
    shop.registration = registration;
    shop.public_url = public_url;
    tracing::info!("mail to shoppers: {}", shop.mailer.describe());
    Ok(shop)
}

pub async fn open_store(settings: &Settings) -> anyhow::Result<Store> {
    let db = &settings.database;
    let catalogue_ttl = std::time::Duration::from_millis(db.catalogue_refresh_ms);
    let store = match settings.database() {
        DatabaseBackend::Sqlite(path) => {
            Store::open_sqlite(&path, db.pool_size, db.busy_timeout_ms)
                .await
                .with_context(|| format!("opening the database {}", path.display()))
        }
        // The URL may hold a password: it is not repeated in the message.
        DatabaseBackend::Postgres(url) => Store::open_postgres(&url, db.pool_size)
            .await
            .context("opening the PostgreSQL database"),
    }?;
    Ok(store.refresh_catalogue_within(catalogue_ttl))
}

/// The hosted provider's adapter: at the configured API, or at the sandbox
/// beside the shop; none when it is off or has nowhere to go.
fn hosted_gateway(
    settings: &Settings,
    public_url: &str,
    sandbox_port: Option<u16>,
    link_key: &[u8],
    metrics: &Arc<Metrics>,
) -> anyhow::Result<Option<Arc<dyn PaymentGateway>>> {
    let hosted = &settings.payment.hosted;
    if !hosted.enabled {
        return Ok(None);
    }
    // The days a convenience-store payment may stay unpaid are the
    // provider's: the sandbox's own when it is the provider.
    let (api, convenience_store_days) = match (hosted.api_url.as_str(), sandbox_port) {
        ("", Some(port)) => (
            format!("http://127.0.0.1:{port}"),
            settings.sandbox.convenience_store_days,
        ),
        ("", None) => {
            tracing::warn!(
                "payment.hosted has no api_url and no sandbox runs: hosted payment is off"
            );
            return Ok(None);
        }
        (url, _) => (url.to_owned(), hosted.convenience_store_days),
    };
    let gateway = HostedGateway::new(
        api,
        hosted.capture,
        public_url.to_owned(),
        link_key.to_vec(),
        std::time::Duration::from_millis(hosted.timeout_ms),
        convenience_store_days,
    )?
    .metered(metrics.clone());
    Ok(Some(Arc::new(gateway)))
}

/// Where shoppers reach the shop, for links in mails and the provider's
/// return links: `public_url`, or the address it listens on.
fn public_url(settings: &Settings, shop_port: u16) -> String {
    if settings.public_url.is_empty() {
        let host = settings
            .bind
            .rsplit_once(':')
            .map(|(h, _)| h)
            .unwrap_or("127.0.0.1");
        format!("http://{host}:{shop_port}")
    } else {
        settings.public_url.trim_end_matches('/').to_owned()
    }
}

/// The registration API: at the configured URL, or the sandbox's.
fn registration_api(
    settings: &Settings,
    sandbox_port: Option<u16>,
    metrics: &Arc<Metrics>,
) -> anyhow::Result<Option<RegistrationApi>> {
    let config = &settings.registration;
    if !config.enabled {
        return Ok(None);
    }
    let url = match (config.url.as_str(), sandbox_port) {
        ("", Some(port)) => format!("http://127.0.0.1:{port}"),
        ("", None) => {
            tracing::warn!("registration has no url and no sandbox runs: registration is off");
            return Ok(None);
        }
        (url, _) => url.to_owned(),
    };
    Ok(Some(
        RegistrationApi::new(
            url,
            std::time::Duration::from_millis(config.timeout_ms),
            config.attempts,
            std::time::Duration::from_millis(config.backoff_ms),
        )?
        .metered(metrics.clone()),
    ))
}

/// The session store, and a Redis connection for the readiness probe.
/// The demo's sandbox provider on `sandbox.bind`, when it runs beside the shop.
fn sandbox_beside_shop(settings: &Settings) -> anyhow::Result<Option<(u16, Server)>> {
    if !settings.sandbox.serve_beside_shop {
        return Ok(None);
    }
    let sandbox = Sandbox::new(
        settings.webhook_secret(),
        settings.sandbox.convenience_store_days,
    )
    .with_chaos(settings.sandbox.chaos.clone());
    let (port, server) = sandbox
        .serve(&settings.sandbox.bind)
        .with_context(|| format!("starting the sandbox provider on {}", settings.sandbox.bind))?;
    tracing::info!("sandbox payment provider on http://127.0.0.1:{port}");
    Ok(Some((port, server)))
}

/// The shop's HTTP server on `listener`: request ids and the access log,
/// sessions, compression and security headers around the routes.
fn http_server(
    listener: TcpListener,
    settings: Arc<Settings>,
    sessions: SessionBackend,
    key: Key,
    data: web::Data<Shop>,
    probes: web::Data<Probes>,
) -> std::io::Result<Server> {
    let shutdown_timeout_s = settings.shutdown_timeout_s;
    Ok(HttpServer::new(move || {
        let session_middleware = SessionMiddleware::builder(sessions.clone(), key.clone())
            .cookie_name("kassa_session".into())
            .cookie_secure(settings.session.secure_cookie)
            .cookie_http_only(true)
            .cookie_same_site(SameSite::Lax)
            .session_lifecycle(PersistentSession::default().session_ttl(
                actix_web::cookie::time::Duration::minutes(settings.session.ttl_minutes),
            ))
            .build();
        App::new()
            .wrap(actix_web::middleware::from_fn(
                crate::web::nul::refuse_in_url,
            ))
            // No referrer leaves the shop: confirmation links carry a secret.
            .wrap(
                DefaultHeaders::new()
                    .add(("Referrer-Policy", "same-origin"))
                    .add(("X-Content-Type-Options", "nosniff"))
                    .add((
                        "Content-Security-Policy",
                        "default-src 'self'; frame-ancestors 'none'",
                    )),
            )
            // Inside the logger, whose body wrapper would hide the page's bytes.
            .wrap(actix_web::middleware::from_fn(crate::web::compress::gzip))
            .wrap(actix_web::middleware::from_fn(
                crate::web::session::end_outdated_login,
            ))
            .wrap(session_middleware)
            // Outermost: everything logged while a request is served
            // carries its id; it writes the access line too.
            .wrap(actix_web::middleware::from_fn(crate::web::request_id::tag))
            .app_data(data.clone())
            .app_data(probes.clone())
            .app_data(web::PayloadConfig::new(64 * 1024))
            .configure(crate::web::assets::routes)
            .configure(crate::web::routes)
            .default_service(web::to(|| async {
                Err::<HttpResponse, _>(crate::web::error::PageError::NotFound)
            }))
    })
    // The node's own signal handling stops it (`main`): gracefully on the
    // first signal, whichever it is, at once on a second.
    .disable_signals()
    .shutdown_timeout(shutdown_timeout_s)
    .listen(listener)?
    .run())
}

async fn session_backend(
    settings: &Settings,
) -> anyhow::Result<(SessionBackend, Option<redis::aio::ConnectionManager>)> {
    match settings.session.store {
        SessionStoreKind::Cookie => Ok((SessionBackend::Cookie, None)),
        SessionStoreKind::Redis => {
            let url = settings.session.url.as_str();
            let store = RedisSessionStore::new(url)
                .await
                .map_err(|e| anyhow::anyhow!("connecting to Redis for sessions: {e}"))?;
            let client = redis::Client::open(url).context("the Redis URL")?;
            let probe = redis::aio::ConnectionManager::new(client)
                .await
                .context("connecting to Redis")?;
            Ok((SessionBackend::Redis(store), Some(probe)))
        }
    }
}

/// The key that signs and encrypts session cookies: from the config, or
/// made once and kept in the data dir, so a restart does not log everyone out.
fn session_key(settings: &Settings) -> anyhow::Result<Key> {
    if let Some(bytes) = settings.session_key_bytes().map_err(anyhow::Error::msg)? {
        return Key::try_from(bytes.as_slice()).map_err(|e| anyhow::anyhow!("session.key: {e}"));
    }
    let path = settings.data_dir.join("session.key");
    if let Ok(bytes) = std::fs::read(&path) {
        return Key::try_from(bytes.as_slice())
            .map_err(|e| anyhow::anyhow!("{} is not a valid session key: {e}", path.display()));
    }
    let mut bytes = [0u8; 64];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("random source: {e}"))?;
    write_private(&path, &bytes)?;
    Key::try_from(bytes.as_slice()).map_err(|e| anyhow::anyhow!("session key: {e}"))
}

fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    Ok(())
}
