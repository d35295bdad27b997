//! The shop's e-mail on its way out: one finished mail made into a MIME
//! message and handed to an SMTP server (pooled, with one time limit for
//! the whole exchange) or, for the demo, written as an `.eml` file.
//! Which mails are sent, and when, is the outbox's business.

mod endpoint;
mod message;
pub mod render;
mod sanitize;
mod smtp;

pub use endpoint::{Security, SmtpEndpoint};
pub use message::parse_mailbox;

use crate::config::{MailSettings, MailTransportKind};
use anyhow::Context;
use message::Letterhead;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// One mail, finished: the text is written, the HTML escaped.
#[derive(Debug, Clone)]
pub struct OutgoingMail {
    /// Globally unique, e.g. the outbox event's id: the Message-ID becomes
    /// `<message_id@domain of from>`, so a mail sent twice is recognisably
    /// the same. ASCII letters, digits, `-`, `_`, `.`; anything else is
    /// refused as `Permanent`.
    pub message_id: String,
    /// The shopper's name; may hold anything, it is sanitized.
    pub to_name: String,
    pub to_address: String,
    /// May hold shopper text; sanitized and cut to 200 characters.
    pub subject: String,
    pub text: String,
    /// Already escaped by the caller.
    pub html: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Not sent this time (server busy, down, slow, or the connection
    /// dropped): worth trying again later. The mail may have arrived all
    /// the same when the connection dropped after it was handed over.
    #[error("mail not sent, try again later: {0}")]
    Transient(String),
    /// This mail can never be sent as it is: the server refused it for
    /// good, or its address or id is unusable.
    #[error("mail refused for good: {0}")]
    Permanent(String),
}

/// Sends the shop's mails. Cheap to clone: all clones share one
/// connection pool.
#[derive(Clone)]
pub struct Mailer {
    letterhead: Arc<Letterhead>,
    transport: Transport,
}

#[derive(Clone)]
enum Transport {
    Smtp(smtp::SmtpSender),
    /// `<id>.eml` files in `dir`, each written first in `partial`.
    Files {
        dir: Arc<PathBuf>,
        partial: Arc<PathBuf>,
    },
}

impl Mailer {
    /// The transport `settings` choose: SMTP (the pool is opened by the
    /// first send, on the runtime that sends) or files in
    /// `<data_dir>/mail/`, which is created.
    pub fn new(settings: &MailSettings, data_dir: &Path) -> anyhow::Result<Self> {
        settings.validate()?;
        let letterhead = Letterhead {
            from: parse_mailbox(&settings.from).map_err(anyhow::Error::msg)?,
            reply_to: match settings.reply_to.trim() {
                "" => None,
                reply_to => Some(parse_mailbox(reply_to).map_err(anyhow::Error::msg)?),
            },
        };
        let transport = match settings.transport {
            MailTransportKind::Smtp => {
                let endpoint = SmtpEndpoint::parse(&settings.url).map_err(anyhow::Error::msg)?;
                Transport::Smtp(smtp::SmtpSender::new(
                    endpoint,
                    settings.credentials(),
                    Duration::from_millis(settings.timeout_ms),
                )?)
            }
            MailTransportKind::File => {
                let dir = data_dir.join("mail");
                let partial = data_dir.join("mail.partial");
                for dir in [&dir, &partial] {
                    std::fs::create_dir_all(dir).with_context(|| {
                        format!("creating the mail directory {}", dir.display())
                    })?;
                }
                remove_abandoned(&partial, ABANDONED_AFTER);
                Transport::Files {
                    dir: Arc::new(dir),
                    partial: Arc::new(partial),
                }
            }
        };
        Ok(Self {
            letterhead: Arc::new(letterhead),
            transport,
        })
    }

    /// Sends one mail, or says why not and whether to try again.
    pub async fn send(&self, mail: &OutgoingMail) -> Result<(), SendError> {
        let message = message::build(mail, &self.letterhead)?;
        match &self.transport {
            Transport::Smtp(sender) => sender.send(message).await,
            Transport::Files { dir, partial } => {
                write_whole(dir.clone(), partial.clone(), message.formatted())
                    .await
                    .map_err(|e| SendError::Transient(format!("writing the mail file: {e}")))
            }
        }
    }

    /// Where mails go, for a start-up log line (no credentials).
    pub fn describe(&self) -> String {
        match &self.transport {
            Transport::Smtp(sender) => format!("smtp to {}", sender.endpoint()),
            Transport::Files { dir, .. } => format!("files in {}", dir.display()),
        }
    }
}

/// Writes a mail as `<id>.eml` in `dir`, whole or not at all: written in
/// `partial` first and then moved, so that a node killed while writing
/// leaves no cut-off mail where mails are read (what it left in `partial`
/// is sent again, as its row is not yet sent).
async fn write_whole(
    dir: Arc<PathBuf>,
    partial: Arc<PathBuf>,
    bytes: Vec<u8>,
) -> std::io::Result<()> {
    tokio::task::spawn_blocking(move || {
        let name = format!("{}.eml", crate::ids::new_id());
        let written = partial.join(&name);
        std::fs::write(&written, &bytes)?;
        std::fs::rename(&written, dir.join(&name))
    })
    .await
    .map_err(std::io::Error::other)?
}

/// A file in `mail.partial` this old was left by a node killed while
/// writing it (its mail is written again, whole, by the next try); a
/// younger one may be another node's, still being written.
const ABANDONED_AFTER: Duration = Duration::from_secs(600);

/// Removes the files in `partial` older than `after`; what cannot be read
/// or removed is logged and left.
fn remove_abandoned(partial: &Path, after: Duration) {
    let Ok(entries) = std::fs::read_dir(partial) else {
        return;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let old = entry
            .metadata()
            .and_then(|meta| meta.modified())
            .ok()
            .and_then(|at| at.elapsed().ok())
            .is_some_and(|age| age >= after);
        if !old {
            continue;
        }
        match std::fs::remove_file(entry.path()) {
            Ok(()) => removed += 1,
            Err(e) => {
                tracing::warn!(file = %entry.path().display(), error = %e, "abandoned mail file not removed")
            }
        }
    }
    if removed > 0 {
        tracing::info!(removed, dir = %partial.display(), "removed mail files left half-written");
    }
}

impl fmt::Debug for Mailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Mailer").field(&self.describe()).finish()
    }
}
