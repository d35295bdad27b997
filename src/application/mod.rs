//! Use cases. Each owns its transaction through the store and returns what
//! the page needs; none knows about HTTP.

pub mod accounts;
pub mod api;
pub mod back_office;
pub mod cart;
pub mod catalogue;
pub mod checkout;
pub mod error;
pub mod fulfilment;
pub mod health;
pub mod idempotency;
pub mod mail;
pub mod orders;
pub mod orders_api;
pub mod outbox;
pub mod password_reset;
pub mod payment_events;
pub mod payment_return;
pub mod placeorder;
pub mod registration;
pub mod staff;
pub mod stopping;

pub use error::{AppError, AppResult};

use crate::config::Settings;
use crate::domain::money::Currency;
use crate::payment::offline::OfflineGateway;
use crate::payment::{Gateways, PaymentGateway};
use crate::store::Store;
use std::sync::Arc;

/// Everything a use case may need, built once at start-up.
#[derive(Clone)]
pub struct Shop {
    /// Only use cases reach the store: pages go through them.
    pub(in crate::application) store: Store,
    pub settings: Arc<Settings>,
    pub gateways: Gateways,
    pub currency: Currency,
    /// Signs links that name a process (the provider's return links).
    pub link_key: Arc<[u8]>,
    /// The customer-registration API, when registration is on.
    pub registration: Option<crate::registration::RegistrationApi>,
    /// Where shoppers reach the shop, without a trailing slash: links in
    /// mails start with it.
    pub public_url: String,
    /// Sends the mails the mail worker composes.
    pub mailer: crate::mail::Mailer,
    /// Set when the node stops: the background workers end their step.
    pub stopping: stopping::Stopping,
    /// What this node counts while it serves.
    pub metrics: Arc<crate::metrics::Metrics>,
}

impl Shop {
    /// `extra` gateways are offered after the built-in ones.
    pub fn new(
        store: Store,
        settings: Arc<Settings>,
        extra: Vec<Arc<dyn PaymentGateway>>,
        link_key: Arc<[u8]>,
        metrics: Arc<crate::metrics::Metrics>,
    ) -> anyhow::Result<Self> {
        let currency = Currency::parse(&settings.shop.currency).map_err(anyhow::Error::msg)?;
        let public_url = settings.public_url.trim_end_matches('/').to_owned();
        let mailer = crate::mail::Mailer::new(&settings.mail, &settings.data_dir)?;
        let mut gateways: Vec<Arc<dyn PaymentGateway>> = Vec::new();
        if settings.checkout.enable_offline_payment_provider {
            gateways.push(Arc::new(OfflineGateway {
                cash_on_delivery_limit_minor: settings.payment.offline.cash_on_delivery_limit_minor,
                bank_account: settings.payment.offline.bank_account(),
                cash_in_advance_days: settings.payment.offline.cash_in_advance_days,
            }));
        }
        gateways.extend(extra);
        Ok(Self {
            store,
            settings,
            gateways: Gateways::new(gateways),
            currency,
            link_key,
            registration: None,
            public_url,
            mailer,
            stopping: stopping::Stopping::default(),
            metrics,
        })
    }
}

impl Shop {
    pub fn public_url(&self) -> &str {
        &self.public_url
    }
}

impl Shop {
    /// The store, for tests that look at what was written.
    #[cfg(feature = "test-support")]
    pub fn store(&self) -> &Store {
        &self.store
    }
}

/// Compares two secrets in constant time.
pub fn secrets_match(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// The SHA-256 of `bytes`, hex-encoded: how session ids and API keys are
/// stored (both are random and long, so no slow hash is needed).
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
