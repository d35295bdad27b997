//! Settings: built-in defaults < `kassa.toml` (or `--config PATH`) <
//! `KASSA_*` environment variables, where `__` separates sections
//! (`KASSA_CHECKOUT__SKIP_REVIEW_ACTION=true`).

use crate::domain::checkout::CheckoutInput;
pub use crate::payment::hosted::wire::CaptureMode;
pub use crate::sandbox::chaos::ChaosSettings;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Address the shop listens on.
    pub bind: String,
    /// Where the embedded database and the session key live.
    pub data_dir: PathBuf,
    pub database: DatabaseSettings,
    pub session: SessionSettings,
    pub shop: ShopSettings,
    pub checkout: CheckoutSettings,
    pub payment: PaymentSettings,
    pub placeorder: PlaceOrderSettings,
    pub sandbox: SandboxSettings,
    pub registration: RegistrationSettings,
    pub outbox: OutboxSettings,
    pub admin: AdminSettings,
    pub accounts: AccountSettings,
    pub mail: MailSettings,
    pub log: LogSettings,
    pub jobs: JobsSettings,
    pub metrics: MetricsSettings,
    /// The address shoppers reach the shop at, for the provider's return
    /// links; empty: `http://<bind>`.
    pub public_url: String,
    /// On SIGTERM or SIGINT, how long requests in flight and the
    /// background workers' current steps may take before the node exits.
    pub shutdown_timeout_s: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlaceOrderSettings {
    /// How long a node may step a process before another may take it over.
    pub lease_ms: u64,
    /// How long a request waits for a process another request is stepping.
    pub wait_for_lease_ms: u64,
    /// How often each node looks for processes nobody is stepping.
    pub sweep_interval_ms: u64,
    /// A running process untouched this long is picked up by the sweeper.
    pub stalled_after_ms: u64,
    /// How long one reconciliation pass may ask providers before it stops
    /// and lets the next pass go on with the rest.
    pub reconcile_pass_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `sqlite://PATH` or `postgres://…`; empty means `<data_dir>/kassa.db`.
    pub url: String,
    pub pool_size: usize,
    /// How long a SQLite writer waits for the write lock.
    pub busy_timeout_ms: u64,
    /// The catalogue, shipping methods and vouchers are served from memory;
    /// another node's change to them shows here within this long. 0 reads
    /// them afresh on every page.
    #[serde(default = "default_catalogue_refresh_ms")]
    pub catalogue_refresh_ms: u64,
}

fn default_catalogue_refresh_ms() -> u64 {
    1000
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionSettings {
    /// Where session state lives: in the cookie, or in Redis.
    pub store: SessionStoreKind,
    /// Redis URL for `store = "redis"`.
    pub url: String,
    /// 128 hex digits (64 bytes) that sign and encrypt session cookies; all
    /// nodes of one shop need the same. Empty: generated once into the data dir.
    #[serde(skip_serializing, default)]
    pub key: Option<SecretString>,
    /// Send the cookie over HTTPS only. Turn on behind TLS.
    pub secure_cookie: bool,
    /// Idle sessions end after this many minutes.
    pub ttl_minutes: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionStoreKind {
    Cookie,
    Redis,
}

/// The database the shop runs on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseBackend {
    Sqlite(PathBuf),
    Postgres(String),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShopSettings {
    pub name: String,
    /// The shop's postal address, on one line: the foot of every mail.
    pub address: String,
    pub currency: String,
    /// Seed the demo catalogue into an empty database at start.
    pub demo_data: bool,
    /// Seed every demo product with this stock instead of the
    /// catalogue's own (a load test must not sell out); unset: as listed.
    #[serde(default)]
    pub demo_stock: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckoutSettings {
    pub skip_start_action: bool,
    pub skip_review_action: bool,
    pub show_review_step_after_payment_error: bool,
    pub show_empty_cart_page_if_no_items: bool,
    pub redirect_to_cart_on_invalid_cart: bool,
    pub use_delivery_forms: bool,
    pub use_personal_data_form: bool,
    pub privacy_policy_required: bool,
    pub enable_offline_payment_provider: bool,
    /// Asked with `use_personal_data_form`.
    pub minimum_age: u8,
    /// Prefill values for form fields, by field name.
    pub defaults: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentSettings {
    pub offline: OfflinePaymentSettings,
    pub hosted: HostedPaymentSettings,
}

/// The hosted (redirect) payment provider.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostedPaymentSettings {
    pub enabled: bool,
    /// The provider's API; empty: the sandbox served beside the shop.
    pub api_url: String,
    /// Signs the provider's webhooks (shared with the provider).
    #[serde(skip_serializing, default)]
    pub webhook_secret: Option<SecretString>,
    /// `automatic` (money taken at once) or `manual` (reserved; captured on delivery).
    pub capture: CaptureMode,
    /// Every call to the provider gives up after this long.
    pub timeout_ms: u64,
    /// Payments left at the provider this long are checked with its API
    /// (the shopper never came back and the webhook was lost).
    pub reconcile_after_ms: u64,
    /// How long the provider lets a convenience-store payment stay unpaid,
    /// as the success page tells the shopper. The sandbox beside the shop
    /// uses `sandbox.convenience_store_days` instead.
    pub convenience_store_days: i64,
}

/// The external customer-registration API.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistrationSettings {
    pub enabled: bool,
    /// Empty: the registration API of the sandbox beside the shop.
    pub url: String,
    pub timeout_ms: u64,
    /// Tries of a call that is safe to repeat, with doubling waits.
    pub attempts: u32,
    pub backoff_ms: u64,
    /// A pending registration whose payment never came is deleted after this long.
    pub abandon_after_ms: u64,
}

/// Delivery of domain events to the outside world.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboxSettings {
    pub poll_ms: u64,
    /// Events one worker claims at a time; a full batch is followed by
    /// the next at once, not after the next poll.
    pub batch: u32,
    /// How long a claimed event is a worker's before another may take it.
    pub lock_ms: u64,
    pub retry_base_ms: u64,
    pub retry_max_ms: u64,
}

/// The back office at `/admin`: staff sessions and login limits.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminSettings {
    /// A staff session ends after this many minutes without a request.
    pub session_idle_minutes: u64,
    /// Failed logins count for this many minutes.
    pub login_window_minutes: u64,
    /// Failed logins with one email within the window before logins with
    /// it are refused for the rest of the window.
    pub max_failed_logins_per_account: u32,
    /// Failed logins from one address within the window, likewise.
    pub max_failed_logins_per_ip: u32,
    /// Take the client's address from `Forwarded`/`X-Forwarded-For` (only
    /// behind a proxy that sets them); otherwise the connection's peer.
    pub trust_forwarded_for: bool,
}

/// Shoppers' accounts: how often a link to set a new password may be
/// asked for. Requests past a limit get the same answer, without a mail.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountSettings {
    /// Reset requests count for this many minutes.
    pub reset_window_minutes: u64,
    /// Reset links mailed to one account within the window.
    pub max_resets_per_account: u32,
    /// Reset requests from one client address within the window, whatever
    /// email they name (the address is taken as for staff logins, see
    /// `admin.trust_forwarded_for`).
    pub max_reset_requests_per_ip: u32,
}

/// `GET /metrics`, the Prometheus text format.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSettings {
    /// Asked for as `Authorization: Bearer <token>`. Without one, only
    /// this machine may scrape, and not through a proxy (a request with
    /// `Forwarded` or `X-Forwarded-For` is refused). Never logged.
    #[serde(skip_serializing, default)]
    pub token: Option<SecretString>,
}

impl MetricsSettings {
    pub fn token(&self) -> Option<&str> {
        non_empty_secret(&self.token)
    }
}

/// Which nodes run the background workers: the sweeper of stalled
/// place-order processes, the reconciliation with the provider, and the
/// outbox and mail workers.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobsSettings {
    /// Run them beside the shop's pages (every node, as by default); a
    /// node with `false` only serves pages, and `kassa jobs` runs them
    /// without pages.
    pub run: bool,
}

/// How the node writes its log (to standard output). Which lines are
/// written is `RUST_LOG` (default `info`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// `text`: one line per event for people (coloured only on a
    /// terminal); `json`: one JSON object per line for log shippers.
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// How the shop's e-mail to shoppers leaves it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailSettings {
    /// `file` (the demo) writes each mail as an `.eml` file into
    /// `<data_dir>/mail/`; `smtp` hands it to the server at `url`.
    pub transport: MailTransportKind,
    /// The SMTP server, for `transport = "smtp"`:
    /// - `smtps://host[:port]`: TLS from the first byte (port 465 by default);
    /// - `smtp://host[:port]?tls=required`: STARTTLS, refused without it
    ///   (port 587 by default);
    /// - `smtp://host[:port]`: unencrypted (port 25 by default), allowed
    ///   only to this machine (`localhost`, `127.0.0.0/8`, `::1`), e.g. a
    ///   local relay or the tests' server;
    /// - `smtp://host[:port]?tls=none`: unencrypted to another host, said
    ///   on purpose (a relay on a private network), never with a password.
    ///
    /// Credentials never go in the URL (it would print with the settings):
    /// they are `username` and `password`.
    pub url: String,
    /// Login at the SMTP server (`KASSA_MAIL__USERNAME`); never logged.
    #[serde(skip_serializing, default)]
    pub username: Option<SecretString>,
    /// `KASSA_MAIL__PASSWORD`; never logged.
    #[serde(skip_serializing, default)]
    pub password: Option<SecretString>,
    /// One mail's whole SMTP exchange (connecting included) gives up after
    /// this long.
    pub timeout_ms: u64,
    /// The sender, `Name <address>`; its domain also ends every Message-ID.
    pub from: String,
    /// Where shoppers' answers go, `Name <address>`; empty: to `from`.
    pub reply_to: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailTransportKind {
    File,
    Smtp,
}

impl MailSettings {
    /// The configured login, when both parts are set.
    pub fn credentials(&self) -> Option<(&str, &str)> {
        let username = non_empty_secret(&self.username)?;
        let password = non_empty_secret(&self.password)?;
        Some((username, password))
    }

    /// Every `mail.*` key is usable; also checked when a mailer is made.
    pub fn validate(&self) -> Result<(), ConfigError> {
        require(self.timeout_ms > 0, "mail.timeout_ms", || {
            "must be positive".into()
        })?;
        if let Err(problem) = crate::mail::parse_mailbox(&self.from) {
            return Err(ConfigError(format!("mail.from: {problem}")));
        }
        if !self.reply_to.trim().is_empty()
            && let Err(problem) = crate::mail::parse_mailbox(&self.reply_to)
        {
            return Err(ConfigError(format!("mail.reply_to: {problem}")));
        }
        let username = non_empty_secret(&self.username).is_some();
        let password = non_empty_secret(&self.password).is_some();
        require(!username || password, "mail.password", || {
            "is needed with mail.username".into()
        })?;
        require(!password || username, "mail.username", || {
            "is needed with mail.password".into()
        })?;
        require(
            self.transport != MailTransportKind::Smtp || !self.url.trim().is_empty(),
            "mail.url",
            || "an smtps:// or smtp:// URL is needed with mail.transport = \"smtp\"".into(),
        )?;
        if self.url.trim().is_empty() {
            return Ok(());
        }
        let endpoint = crate::mail::SmtpEndpoint::parse(&self.url)
            .map_err(|problem| ConfigError(format!("mail.url: {problem}")))?;
        require(
            !(password && endpoint.leaves_machine_unencrypted()),
            "mail.url",
            || {
                format!(
                    "would send mail.password unencrypted to {}; use smtps:// or ?tls=required",
                    endpoint.host
                )
            },
        )
    }
}

/// The secret's text, unless it is missing or empty.
fn non_empty_secret(secret: &Option<SecretString>) -> Option<&str> {
    secret
        .as_ref()
        .map(|s| s.expose_secret())
        .filter(|s| !s.is_empty())
}

/// The stand-in payment provider (`kassa sandbox`, or beside the shop).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SandboxSettings {
    /// Start the sandbox together with the shop (the demo set-up).
    pub serve_beside_shop: bool,
    pub bind: String,
    /// How long a convenience-store payment may stay unpaid.
    pub convenience_store_days: i64,
    /// `[sandbox.chaos]`: webhooks dropped, delayed, duplicated and
    /// reordered, API calls failed, at random; off unless set.
    #[serde(default)]
    pub chaos: ChaosSettings,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfflinePaymentSettings {
    /// Cash on delivery is refused above this total (minor units); 0 = no limit.
    pub cash_on_delivery_limit_minor: i64,
    /// A cash-in-advance order not marked paid within this many days is
    /// cancelled, its stock back.
    pub cash_in_advance_days: i64,
    /// The account transfers in advance go to; cash in advance is offered
    /// only when all three are set.
    pub account_holder: String,
    pub iban: String,
    pub bic: String,
}

impl OfflinePaymentSettings {
    /// The bank account for transfers in advance, when one is set.
    pub fn bank_account(&self) -> Option<crate::domain::payment::BankAccount> {
        (!self.iban.is_empty()).then(|| crate::domain::payment::BankAccount {
            holder: self.account_holder.clone(),
            iban: self.iban.clone(),
            bic: self.bic.clone(),
        })
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("./data"),
            database: DatabaseSettings {
                url: String::new(),
                pool_size: 8,
                busy_timeout_ms: 5_000,
                catalogue_refresh_ms: default_catalogue_refresh_ms(),
            },
            session: SessionSettings {
                store: SessionStoreKind::Cookie,
                url: String::new(),
                key: None,
                secure_cookie: false,
                ttl_minutes: 60 * 24 * 7,
            },
            shop: ShopSettings {
                name: "Kassa Demo Shop".into(),
                address: "Kassa Demo Shop, Beispielstraße 1, 10115 Berlin, Germany".into(),
                currency: "EUR".into(),
                demo_data: true,
                demo_stock: None,
            },
            checkout: CheckoutSettings {
                skip_start_action: false,
                skip_review_action: false,
                show_review_step_after_payment_error: false,
                show_empty_cart_page_if_no_items: false,
                redirect_to_cart_on_invalid_cart: false,
                use_delivery_forms: true,
                use_personal_data_form: false,
                privacy_policy_required: false,
                enable_offline_payment_provider: true,
                minimum_age: 18,
                defaults: BTreeMap::new(),
            },
            payment: PaymentSettings {
                offline: OfflinePaymentSettings {
                    cash_on_delivery_limit_minor: 100_000,
                    cash_in_advance_days: 14,
                    // An example account (the demo shop has no real one).
                    account_holder: "Kassa Demo Shop".into(),
                    iban: "DE02 1203 0000 0000 2020 51".into(),
                    bic: "BYLADEM1001".into(),
                },
                hosted: HostedPaymentSettings {
                    enabled: true,
                    api_url: String::new(),
                    webhook_secret: None,
                    capture: CaptureMode::Automatic,
                    timeout_ms: 5_000,
                    reconcile_after_ms: 15 * 60 * 1000,
                    convenience_store_days: 3,
                },
            },
            sandbox: SandboxSettings {
                serve_beside_shop: true,
                bind: "127.0.0.1:8090".into(),
                convenience_store_days: 3,
                chaos: ChaosSettings::default(),
            },
            registration: RegistrationSettings {
                enabled: true,
                url: String::new(),
                timeout_ms: 3_000,
                attempts: 3,
                backoff_ms: 200,
                abandon_after_ms: 24 * 60 * 60 * 1000,
            },
            outbox: OutboxSettings {
                poll_ms: 500,
                batch: 20,
                lock_ms: 30_000,
                retry_base_ms: 500,
                retry_max_ms: 5 * 60 * 1000,
            },
            admin: AdminSettings {
                session_idle_minutes: 30,
                login_window_minutes: 15,
                max_failed_logins_per_account: 5,
                max_failed_logins_per_ip: 30,
                trust_forwarded_for: false,
            },
            accounts: AccountSettings {
                reset_window_minutes: 60,
                max_resets_per_account: 3,
                max_reset_requests_per_ip: 20,
            },
            mail: MailSettings {
                transport: MailTransportKind::File,
                url: String::new(),
                username: None,
                password: None,
                timeout_ms: 10_000,
                from: "Kassa Demo Shop <shop@kassa.example>".into(),
                reply_to: String::new(),
            },
            jobs: JobsSettings { run: true },
            metrics: MetricsSettings { token: None },
            log: LogSettings {
                format: LogFormat::Text,
            },
            public_url: String::new(),
            shutdown_timeout_s: 30,
            placeorder: PlaceOrderSettings {
                lease_ms: 30_000,
                wait_for_lease_ms: 5_000,
                sweep_interval_ms: 5_000,
                stalled_after_ms: 10_000,
                reconcile_pass_ms: 30_000,
            },
        }
    }
}

/// A setting that cannot be used, named by its key.
#[derive(Debug, thiserror::Error)]
#[error("configuration error: {0}")]
pub struct ConfigError(String);

/// `Ok` when `ok`, else the error naming `key` with its problem.
fn require(ok: bool, key: &str, problem: impl FnOnce() -> String) -> Result<(), ConfigError> {
    if ok {
        Ok(())
    } else {
        Err(ConfigError(format!("{key}: {}", problem())))
    }
}

impl Settings {
    /// Loads the layers. `file` is `--config`; without it `kassa.toml` in the
    /// working directory is read when present.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        match file {
            Some(path) if !path.exists() => {
                return Err(ConfigError(format!(
                    "the config file {} does not exist",
                    path.display()
                )));
            }
            Some(path) => figment = figment.merge(Toml::file_exact(path)),
            None => figment = figment.merge(Toml::file("kassa.toml")),
        }
        Self::from_figment(figment.merge(Self::env()))
    }

    /// The environment layer. `KASSA_TEST_*` belongs to the test suite;
    /// `KASSA_DATABASE_URL` is the usual spelling of `database.url`.
    fn env() -> Env {
        Env::prefixed("KASSA_")
            .filter(|key| !key.as_str().to_ascii_lowercase().starts_with("test_"))
            .split("__")
            .map(|key| match key.as_str().to_ascii_lowercase().as_str() {
                "database_url" => "database.url".into(),
                _ => key.into(),
            })
    }

    pub fn from_figment(figment: Figment) -> Result<Self, ConfigError> {
        let settings: Settings = figment.extract().map_err(|e| {
            let messages: Vec<String> = e.into_iter().map(|e| e.to_string()).collect();
            ConfigError(messages.join("; "))
        })?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        self.validate_addresses()?;
        self.validate_chaos()?;
        self.validate_storage()?;
        self.validate_sessions()?;
        self.validate_payment()?;
        self.validate_admin()?;
        self.validate_accounts()?;
        self.mail.validate()?;
        require(self.outbox.batch > 0, "outbox.batch", || {
            "must be at least 1".into()
        })?;
        require(
            self.mail.timeout_ms < self.outbox.lock_ms,
            "mail.timeout_ms",
            || {
                "must be shorter than outbox.lock_ms: a mail still being sent would be taken over and sent twice".into()
            },
        )?;
        self.validate_checkout()
    }

    fn validate_admin(&self) -> Result<(), ConfigError> {
        const WEEK_MINUTES: u64 = 7 * 24 * 60;
        let admin = &self.admin;
        require(
            (1..=WEEK_MINUTES).contains(&admin.session_idle_minutes),
            "admin.session_idle_minutes",
            || format!("must be 1 to {WEEK_MINUTES}"),
        )?;
        require(
            (1..=WEEK_MINUTES).contains(&admin.login_window_minutes),
            "admin.login_window_minutes",
            || format!("must be 1 to {WEEK_MINUTES}"),
        )?;
        require(
            admin.max_failed_logins_per_account > 0,
            "admin.max_failed_logins_per_account",
            || "must be at least 1".into(),
        )?;
        require(
            admin.max_failed_logins_per_ip > 0,
            "admin.max_failed_logins_per_ip",
            || "must be at least 1".into(),
        )
    }

    fn validate_accounts(&self) -> Result<(), ConfigError> {
        const WEEK_MINUTES: u64 = 7 * 24 * 60;
        let accounts = &self.accounts;
        require(
            (1..=WEEK_MINUTES).contains(&accounts.reset_window_minutes),
            "accounts.reset_window_minutes",
            || format!("must be 1 to {WEEK_MINUTES}"),
        )?;
        require(
            accounts.max_resets_per_account > 0,
            "accounts.max_resets_per_account",
            || "must be at least 1".into(),
        )?;
        require(
            accounts.max_reset_requests_per_ip > 0,
            "accounts.max_reset_requests_per_ip",
            || "must be at least 1".into(),
        )
    }

    fn validate_chaos(&self) -> Result<(), ConfigError> {
        let chaos = &self.sandbox.chaos;
        for (share, name) in [
            (chaos.drop_share, "sandbox.chaos.drop_share"),
            (chaos.duplicate_share, "sandbox.chaos.duplicate_share"),
            (chaos.fail_share, "sandbox.chaos.fail_share"),
        ] {
            require((0.0..=1.0).contains(&share), name, || {
                "must be between 0 and 1".into()
            })?;
        }
        require(
            self.shop.demo_stock.is_none_or(|stock| stock >= 0),
            "shop.demo_stock",
            || "must not be negative".into(),
        )
    }

    fn validate_addresses(&self) -> Result<(), ConfigError> {
        require(self.bind.parse::<SocketAddr>().is_ok(), "bind", || {
            format!("'{}' is not an address like 127.0.0.1:8080", self.bind)
        })?;
        require(
            self.sandbox.bind.parse::<SocketAddr>().is_ok(),
            "sandbox.bind",
            || {
                format!(
                    "'{}' is not an address like 127.0.0.1:8090",
                    self.sandbox.bind
                )
            },
        )
    }

    fn validate_storage(&self) -> Result<(), ConfigError> {
        if let Err(problem) = crate::domain::money::Currency::parse(&self.shop.currency) {
            return Err(ConfigError(format!("shop.currency: {problem}")));
        }
        require(self.database.pool_size > 0, "database.pool_size", || {
            "must be at least 1".into()
        })?;
        let url = &self.database.url;
        let known_scheme = ["sqlite://", "postgres://", "postgresql://"]
            .iter()
            .any(|scheme| url.starts_with(scheme));
        require(url.is_empty() || known_scheme, "database.url", || {
            "must start with sqlite:// or postgres://".into()
        })
    }

    fn validate_sessions(&self) -> Result<(), ConfigError> {
        let redis_url =
            self.session.url.starts_with("redis://") || self.session.url.starts_with("rediss://");
        require(
            self.session.store != SessionStoreKind::Redis || redis_url,
            "session.url",
            || "a redis:// URL is needed with session.store = \"redis\"".into(),
        )?;
        if let Err(problem) = self.session_key_bytes() {
            return Err(ConfigError(format!("session.key: {problem}")));
        }
        require(self.session.ttl_minutes > 0, "session.ttl_minutes", || {
            "must be positive".into()
        })
    }

    fn validate_payment(&self) -> Result<(), ConfigError> {
        let hosted = &self.payment.hosted;
        let no_secret = hosted
            .webhook_secret
            .as_ref()
            .is_none_or(|s| s.expose_secret().is_empty());
        require(
            !(hosted.enabled && !hosted.api_url.is_empty() && no_secret),
            "payment.hosted.webhook_secret",
            || "is needed with a real provider (api_url is set)".into(),
        )?;
        require(
            self.payment.offline.cash_on_delivery_limit_minor >= 0,
            "payment.offline.cash_on_delivery_limit_minor",
            || "must be 0 (no limit) or positive".into(),
        )?;
        require(
            self.payment.offline.cash_in_advance_days >= 1,
            "payment.offline.cash_in_advance_days",
            || "must be at least 1".into(),
        )?;
        let offline = &self.payment.offline;
        let set =
            [&offline.account_holder, &offline.iban, &offline.bic].map(|v| !v.trim().is_empty());
        for (key, is_set) in ["account_holder", "iban", "bic"].iter().zip(set) {
            require(
                is_set || set.iter().all(|s| !s),
                &format!("payment.offline.{key}"),
                || {
                    "must be set with the other bank details (account_holder, iban, bic), or all left empty to offer no cash in advance".into()
                },
            )?;
        }
        require(
            offline.iban.is_empty() || crate::domain::payment::iban_is_valid(&offline.iban),
            "payment.offline.iban",
            || "is not a valid IBAN (its check digits do not match)".into(),
        )?;
        let p = &self.placeorder;
        require(
            p.lease_ms > 0 && p.sweep_interval_ms > 0,
            "placeorder",
            || "lease_ms and sweep_interval_ms must be positive".into(),
        )
    }

    fn validate_checkout(&self) -> Result<(), ConfigError> {
        let known = CheckoutInput::field_names();
        match self.checkout.defaults.keys().find(|k| !known.contains(k)) {
            Some(key) => Err(ConfigError(format!(
                "checkout.defaults.{key}: is not a field of the checkout form"
            ))),
            None => Ok(()),
        }
    }

    pub fn database(&self) -> DatabaseBackend {
        let url = &self.database.url;
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return DatabaseBackend::Postgres(url.clone());
        }
        match url.strip_prefix("sqlite://") {
            Some(path) => DatabaseBackend::Sqlite(PathBuf::from(path)),
            None => DatabaseBackend::Sqlite(self.data_dir.join("kassa.db")),
        }
    }

    /// The webhook secret shared with the hosted provider. The demo set-up,
    /// with the sandbox beside the shop, uses a fixed one.
    pub fn webhook_secret(&self) -> String {
        match &self.payment.hosted.webhook_secret {
            Some(secret) if !secret.expose_secret().is_empty() => secret.expose_secret().to_owned(),
            _ => "whsec_kassa_demo_sandbox".to_owned(),
        }
    }

    /// The configured session key, if any, as bytes.
    pub fn session_key_bytes(&self) -> Result<Option<Vec<u8>>, String> {
        let Some(key) = &self.session.key else {
            return Ok(None);
        };
        let hex = key.expose_secret().trim();
        if hex.is_empty() {
            return Ok(None);
        }
        let bytes: Option<Vec<u8>> = (hex.len() == 128)
            .then(|| {
                (0..hex.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
                    .collect()
            })
            .flatten();
        bytes.map(Some).ok_or_else(|| {
            "must be 128 hex digits (64 random bytes), e.g. from `openssl rand -hex 64`".into()
        })
    }

    /// The form prefill from `[checkout.defaults]`.
    pub fn checkout_defaults(&self) -> CheckoutInput {
        serde_json::to_value(&self.checkout.defaults)
            .and_then(serde_json::from_value)
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_toml(toml: &str) -> Result<Settings, ConfigError> {
        Settings::from_figment(
            Figment::from(Serialized::defaults(Settings::default())).merge(Toml::string(toml)),
        )
    }

    #[test]
    fn defaults_follow_flamingo_with_offline_payment_on() {
        let s = with_toml("").unwrap();
        assert!(s.checkout.use_delivery_forms);
        assert!(s.checkout.enable_offline_payment_provider);
        assert!(!s.checkout.skip_review_action);
        assert_eq!(s.bind, "127.0.0.1:8080");
    }

    #[test]
    fn a_bad_value_names_its_key() {
        let err = with_toml("[checkout]\nskip_review_action = \"maybe\"").unwrap_err();
        assert!(err.to_string().contains("skip_review_action"), "{err}");
        let err = with_toml("bind = \"nowhere\"").unwrap_err();
        assert!(err.to_string().contains("bind"), "{err}");
        let err = with_toml("bnid = \"127.0.0.1:1\"").unwrap_err();
        assert!(err.to_string().contains("bnid"), "{err}");
        let err = with_toml("[checkout]\nskip_reviw_action = true").unwrap_err();
        assert!(err.to_string().contains("skip_reviw_action"), "{err}");
        let err = with_toml("[payment.hosted]\ncapture = \"later\"").unwrap_err();
        assert!(err.to_string().contains("capture"), "{err}");
        let err = with_toml("[checkout.defaults]\nbilling_town = \"Berlin\"").unwrap_err();
        assert!(
            err.to_string().contains("checkout.defaults.billing_town"),
            "{err}"
        );
    }

    #[test]
    fn bank_details_come_all_together_with_a_valid_iban() {
        let s = with_toml("").unwrap();
        assert!(s.payment.offline.bank_account().is_some(), "the demo's");
        let none = "[payment.offline]\naccount_holder = \"\"\niban = \"\"\nbic = \"\"";
        assert!(
            with_toml(none)
                .unwrap()
                .payment
                .offline
                .bank_account()
                .is_none()
        );
        let err = with_toml("[payment.offline]\nbic = \"\"").unwrap_err();
        assert!(err.to_string().contains("payment.offline.bic"), "{err}");
        let err =
            with_toml("[payment.offline]\niban = \"DE03 1203 0000 0000 2020 51\"").unwrap_err();
        assert!(err.to_string().contains("payment.offline.iban"), "{err}");
    }

    #[test]
    fn a_mail_is_given_up_before_another_node_may_take_it_over() {
        let err = with_toml("[mail]\ntimeout_ms = 30000").unwrap_err();
        assert!(err.to_string().contains("mail.timeout_ms"), "{err}");
        assert!(with_toml("[mail]\ntimeout_ms = 29999").is_ok());
    }

    #[test]
    fn database_and_session_backends() {
        let s = with_toml("").unwrap();
        assert_eq!(
            s.database(),
            DatabaseBackend::Sqlite(PathBuf::from("./data/kassa.db"))
        );
        let s = with_toml("[database]\nurl = \"postgres://u@h/db\"").unwrap();
        assert_eq!(
            s.database(),
            DatabaseBackend::Postgres("postgres://u@h/db".into())
        );
        let err = with_toml("[database]\nurl = \"mysql://h/db\"").unwrap_err();
        assert!(err.to_string().contains("database.url"), "{err}");
        let err = with_toml("[session]\nstore = \"redis\"").unwrap_err();
        assert!(err.to_string().contains("session.url"), "{err}");
        let err = with_toml("[session]\nstore = \"memcached\"").unwrap_err();
        assert!(err.to_string().contains("store"), "{err}");
        let err = with_toml("[session]\nkey = \"abc\"").unwrap_err();
        assert!(err.to_string().contains("session.key"), "{err}");
        let key = "ab".repeat(64);
        let s = with_toml(&format!("[session]\nkey = \"{key}\"")).unwrap();
        assert_eq!(s.session_key_bytes().unwrap().unwrap().len(), 64);
        assert!(!format!("{s:?}").contains(&key), "the key never prints");
    }

    #[test]
    fn admin_limits_are_checked() {
        let s = with_toml("").unwrap();
        assert_eq!(s.admin.session_idle_minutes, 30);
        assert_eq!(s.admin.max_failed_logins_per_account, 5);
        for (toml, key) in [
            ("session_idle_minutes = 0", "admin.session_idle_minutes"),
            (
                "login_window_minutes = 100000",
                "admin.login_window_minutes",
            ),
            (
                "max_failed_logins_per_account = 0",
                "admin.max_failed_logins_per_account",
            ),
            (
                "max_failed_logins_per_ip = 0",
                "admin.max_failed_logins_per_ip",
            ),
            ("max_failed_logins_per_ip = -1", "max_failed_logins_per_ip"),
        ] {
            let err = with_toml(&format!("[admin]\n{toml}")).unwrap_err();
            assert!(err.to_string().contains(key), "{toml}: {err}");
        }
        let s = with_toml("[admin]\nsession_idle_minutes = 5").unwrap();
        assert_eq!(s.admin.session_idle_minutes, 5);
    }

    #[test]
    fn mail_settings_are_checked() {
        let s = with_toml("").unwrap();
        assert_eq!(s.mail.transport, MailTransportKind::File);
        assert_eq!(s.mail.timeout_ms, 10_000);
        for (toml, key) in [
            ("transport = \"smtp\"", "mail.url"),
            (
                "transport = \"smtp\"\nurl = \"smtp://mail.example.com\"",
                "mail.url",
            ),
            (
                "transport = \"smtp\"\nurl = \"smtp://u:pw@127.0.0.1:25\"",
                "mail.url",
            ),
            ("transport = \"smtp\"\nurl = \"smtps://\"", "mail.url"),
            ("url = \"imap://mail.example.com\"", "mail.url"),
            ("transport = \"pigeon\"", "transport"),
            ("from = \"the shop\"", "mail.from"),
            ("from = \"\"", "mail.from"),
            ("reply_to = \"<nobody>\"", "mail.reply_to"),
            ("timeout_ms = 0", "mail.timeout_ms"),
            ("username = \"shop\"", "mail.password"),
            ("password = \"pw\"", "mail.username"),
            ("tls = true", "tls"),
            (
                "transport = \"smtp\"\nurl = \"smtp://relay.internal?tls=none\"\n\
                 username = \"u\"\npassword = \"pw\"",
                "mail.url",
            ),
        ] {
            let err = with_toml(&format!("[mail]\n{toml}")).unwrap_err();
            assert!(err.to_string().contains(key), "{toml}: {err}");
            assert!(!err.to_string().contains(":pw@"), "{toml}: {err}");
        }
        for toml in [
            "transport = \"smtp\"\nurl = \"smtps://mail.example.com\"\nusername = \"u\"\npassword = \"pw\"",
            "transport = \"smtp\"\nurl = \"smtp://mail.example.com:587?tls=required\"",
            "transport = \"smtp\"\nurl = \"smtp://127.0.0.1:2525\"\nusername = \"u\"\npassword = \"pw\"",
            "transport = \"smtp\"\nurl = \"smtp://relay.internal?tls=none\"",
            "reply_to = \"Service <service@kassa.example>\"",
        ] {
            let s = with_toml(&format!("[mail]\n{toml}")).unwrap_or_else(|e| panic!("{toml}: {e}"));
            assert!(
                !format!("{s:?}").contains("\"pw\""),
                "the password never prints"
            );
        }
    }

    #[test]
    fn reset_limits_are_checked() {
        let s = with_toml("").unwrap();
        assert_eq!(s.accounts.max_resets_per_account, 3);
        for (toml, key) in [
            ("reset_window_minutes = 0", "accounts.reset_window_minutes"),
            (
                "max_resets_per_account = 0",
                "accounts.max_resets_per_account",
            ),
            (
                "max_reset_requests_per_ip = 0",
                "accounts.max_reset_requests_per_ip",
            ),
        ] {
            let err = with_toml(&format!("[accounts]\n{toml}")).unwrap_err();
            assert!(err.to_string().contains(key), "{toml}: {err}");
        }
    }

    #[test]
    fn defaults_prefill_the_form() {
        let s = with_toml("[checkout.defaults]\nbilling_country = \"DE\"").unwrap();
        assert_eq!(s.checkout_defaults().billing_country, "DE");
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail API returns its Error.
    fn environment_overrides_file() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("kassa.toml", "[checkout]\nskip_review_action = false")?;
            jail.set_env("KASSA_CHECKOUT__SKIP_REVIEW_ACTION", "true");
            jail.set_env("KASSA_BIND", "127.0.0.1:9999");
            jail.set_env("KASSA_TEST_DATABASE_URL", "postgres://ignored");
            jail.set_env("KASSA_DATABASE_URL", "postgres://kassa@db/shop");
            jail.set_env("KASSA_SESSION__STORE", "redis");
            jail.set_env("KASSA_SESSION__URL", "redis://127.0.0.1:6379");
            jail.set_env("KASSA_PAYMENT__HOSTED__CAPTURE", "manual");
            jail.set_env("KASSA_MAIL__TRANSPORT", "smtp");
            jail.set_env("KASSA_MAIL__URL", "smtps://mail.example.com");
            jail.set_env("KASSA_MAIL__USERNAME", "shop");
            jail.set_env("KASSA_MAIL__PASSWORD", "mail-secret");
            let s = Settings::load(None).map_err(|e| e.to_string())?;
            assert!(s.checkout.skip_review_action);
            assert_eq!(
                s.database(),
                DatabaseBackend::Postgres("postgres://kassa@db/shop".into())
            );
            assert_eq!(s.session.store, SessionStoreKind::Redis);
            assert_eq!(s.payment.hosted.capture, CaptureMode::Manual);
            assert_eq!(s.bind, "127.0.0.1:9999");
            assert_eq!(s.mail.credentials(), Some(("shop", "mail-secret")));
            assert!(!format!("{s:?}").contains("mail-secret"));
            Ok(())
        });
    }
}
