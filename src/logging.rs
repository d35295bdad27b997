//! The node's log on standard output: lines for people, coloured only on a
//! terminal (a file or a journal gets no escape codes), or one JSON object
//! per line for log shippers (`log.format = "json"`). `RUST_LOG` chooses
//! what is written.

use crate::config::LogFormat;
use std::io::IsTerminal as _;
use tracing_subscriber::EnvFilter;

/// What is written when `RUST_LOG` is not set.
const DEFAULT_FILTER: &str = "info,actix_server=warn";

/// Installs the log for this process; call once, before anything logs.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| DEFAULT_FILTER.into());
    let lines = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stdout().is_terminal());
    match format {
        LogFormat::Text => lines.init(),
        // The request's id (from its span) sits beside the event's fields.
        LogFormat::Json => lines
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
}
