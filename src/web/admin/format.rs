//! How the back office writes times: always UTC, said so, with a
//! machine-readable `datetime` beside.

use time::PrimitiveDateTime;

/// A time as a page shows it and as `<time datetime>` reads it.
pub struct Shown {
    /// `2026-11-23 10:04 UTC`
    pub text: String,
    /// `2026-11-23T10:04:05Z`
    pub machine: String,
}

pub fn minutes(at: PrimitiveDateTime) -> Shown {
    Shown {
        text: format!("{} {:02}:{:02} UTC", at.date(), at.hour(), at.minute()),
        machine: machine(at),
    }
}

pub fn seconds(at: PrimitiveDateTime) -> Shown {
    Shown {
        text: format!(
            "{} {:02}:{:02}:{:02} UTC",
            at.date(),
            at.hour(),
            at.minute(),
            at.second()
        ),
        machine: machine(at),
    }
}

fn machine(at: PrimitiveDateTime) -> String {
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        at.date(),
        at.hour(),
        at.minute(),
        at.second()
    )
}
