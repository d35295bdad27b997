//! The SMTP side of the mailer: one pooled lettre transport shared by all
//! clones, one time limit for a mail's whole exchange, and the server's
//! answer sorted into try-again-later or never.

use super::SendError;
use super::endpoint::{Security, SmtpEndpoint};
use anyhow::Context;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::{AsyncSmtpTransportBuilder, Error as SmtpError};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

type Pool = AsyncSmtpTransport<Tokio1Executor>;

#[derive(Clone)]
pub(super) struct SmtpSender {
    inner: Arc<Inner>,
}

struct Inner {
    endpoint: SmtpEndpoint,
    builder: AsyncSmtpTransportBuilder,
    timeout: Duration,
    /// Opened by the first send (lettre's pool spawns its upkeep on the
    /// runtime that opens it) and replaced after an abandoned exchange.
    pool: Mutex<Option<Pool>>,
}

impl SmtpSender {
    pub fn new(
        endpoint: SmtpEndpoint,
        credentials: Option<(&str, &str)>,
        timeout: Duration,
    ) -> anyhow::Result<Self> {
        let tls_for_host = || {
            TlsParameters::new(endpoint.host.clone())
                .with_context(|| format!("setting up TLS for {}", endpoint.host))
        };
        let tls = match endpoint.security {
            Security::Tls => Tls::Wrapper(tls_for_host()?),
            Security::StartTls => Tls::Required(tls_for_host()?),
            Security::Plain => Tls::None,
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&endpoint.host)
            .port(endpoint.port)
            .tls(tls)
            // lettre limits connecting with this; `send` limits the rest.
            .timeout(Some(timeout));
        if let Some((username, password)) = credentials {
            builder = builder.credentials(Credentials::new(username.into(), password.into()));
        }
        Ok(Self {
            inner: Arc::new(Inner {
                endpoint,
                builder,
                timeout,
                pool: Mutex::new(None),
            }),
        })
    }

    pub fn endpoint(&self) -> &SmtpEndpoint {
        &self.inner.endpoint
    }

    pub async fn send(&self, message: Message) -> Result<(), SendError> {
        let ascii_recipients = message
            .envelope()
            .to()
            .iter()
            .all(|address| address.to_string().is_ascii());
        let pool = self.pool();
        let mut exchange = Exchange {
            sender: self,
            finished: false,
        };
        let answer = tokio::time::timeout(self.inner.timeout, pool.send(message)).await;
        let Ok(answer) = answer else {
            return Err(SendError::Transient(format!(
                "the SMTP server at {} did not finish within {} ms",
                self.inner.endpoint,
                self.inner.timeout.as_millis()
            )));
        };
        exchange.finished = true;
        answer
            .map(|_response| ())
            .map_err(|error| classify(&error, ascii_recipients))
    }

    fn pool(&self) -> Pool {
        let mut slot = self
            .inner
            .pool
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        slot.get_or_insert_with(|| self.inner.builder.clone().build())
            .clone()
    }

    fn replace_pool(&self) {
        *self
            .inner
            .pool
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = None;
    }
}

/// An exchange abandoned before its end (the time limit, or the caller
/// dropped the future) leaves its connection to lettre's pool unmarked,
/// with answers still on their way. The next mail on it would take each
/// answer for the one to its command before: the 354 to its DATA would
/// read as the answer to its final dot, a refused mail as sent. So the
/// pool is replaced; dropping the old one closes its connections.
struct Exchange<'a> {
    sender: &'a SmtpSender,
    finished: bool,
}

impl Drop for Exchange<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.sender.replace_pool();
        }
    }
}

/// Reply codes that refuse the shop's login (RFC 4954): every mail would
/// get them until the operator fixes `mail.username`/`mail.password`, so
/// they are no verdict on this mail.
const LOGIN_REFUSED: [u16; 4] = [530, 534, 535, 538];

/// Permanent: the server refused this mail for good (a 5xx reply other
/// than a refused login), or it cannot take the non-ASCII recipient
/// address. Everything else (4xx, no connection, a dropped connection,
/// TLS) may pass and is worth another try.
fn classify(error: &SmtpError, ascii_recipients: bool) -> SendError {
    let login_refused = error
        .status()
        .is_some_and(|code| LOGIN_REFUSED.contains(&u16::from(code)));
    if error.is_permanent() && !login_refused {
        SendError::Permanent(error.to_string())
    } else if error.is_client() && !ascii_recipients {
        // lettre refuses before sending when the server lacks SMTPUTF8.
        SendError::Permanent(format!("the server cannot take this address: {error}"))
    } else {
        SendError::Transient(error.to_string())
    }
}
