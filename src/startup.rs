//! Builds the app from Settings: storage, gateways, sessions, routes. The
//! listener is bound here, so tests can ask for port 0 and read the port.

use crate::application::Shop;
use crate::config::Settings;
use crate::store::Store;
use actix_session::SessionMiddleware;
use actix_session::config::PersistentSession;
use actix_session::storage::CookieSessionStore;
use actix_web::cookie::{Key, SameSite};
use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::{Compress, DefaultHeaders, Logger};
use actix_web::{App, HttpResponse, HttpServer, get, http::header, web};
use anyhow::Context;
use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;

pub struct Application {
    port: u16,
    server: Server,
    shop: Shop,
}

const STYLE: &str = include_str!("../static/style.css");

#[get("/static/style.css")]
async fn style() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(STYLE)
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let settings = Arc::new(settings);
        std::fs::create_dir_all(&settings.data_dir)
            .with_context(|| format!("creating the data dir {}", settings.data_dir.display()))?;
        let store = open_store(&settings).await?;
        if settings.shop.demo_data && store.seed_demo_data(&settings.shop.currency).await? {
            tracing::info!("seeded the demo catalogue");
        }
        let shop = Shop::new(store, settings.clone())?;
        let key = session_key(&settings.data_dir)?;

        let listener = TcpListener::bind(&settings.bind)
            .with_context(|| format!("binding {}", settings.bind))?;
        let port = listener.local_addr()?.port();
        let data = web::Data::new(shop.clone());
        let server = HttpServer::new(move || {
            let sessions = SessionMiddleware::builder(CookieSessionStore::default(), key.clone())
                .cookie_name("kassa_session".into())
                .cookie_secure(settings.session.secure_cookie)
                .cookie_http_only(true)
                .cookie_same_site(SameSite::Lax)
                .session_lifecycle(PersistentSession::default().session_ttl(
                    actix_web::cookie::time::Duration::minutes(settings.session.ttl_minutes),
                ))
                .build();
            App::new()
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
                // Paths only: query strings carry confirmation tokens.
                .wrap(
                    Logger::new("%{method}xi %U %s %Dms")
                        .custom_request_replace("method", |req| req.method().to_string()),
                )
                .wrap(Compress::default())
                .wrap(sessions)
                .app_data(data.clone())
                .app_data(web::PayloadConfig::new(64 * 1024))
                .service(style)
                .configure(crate::web::routes)
                .default_service(web::to(|| async {
                    Err::<HttpResponse, _>(crate::error::AppError::NotFound)
                }))
        })
        .listen(listener)?
        .run();
        Ok(Self { port, server, shop })
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

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

pub async fn open_store(settings: &Settings) -> anyhow::Result<Store> {
    let path = settings.sqlite_path();
    Store::open_sqlite(
        &path,
        settings.database.pool_size,
        settings.database.busy_timeout_ms,
    )
    .await
    .with_context(|| format!("opening the database {}", path.display()))
}

/// The key that signs and encrypts session cookies: made once and kept in
/// the data dir, so a restart does not log everyone out.
fn session_key(data_dir: &Path) -> anyhow::Result<Key> {
    let path = data_dir.join("session.key");
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
