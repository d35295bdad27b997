//! Rules of setting a new password by a link in a mail: how long a link
//! works, when it is refused, and how many links may be asked for.

use std::fmt;
use time::PrimitiveDateTime;

/// How long a reset link works.
pub const RESET_LINK_MINUTES: i64 = 60;

/// Why a reset link sets no password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkRefusal {
    /// Not a link the shop made (a forged or mangled token), or one it
    /// no longer knows.
    Unknown,
    /// It set a password already, or a newer link of the account did.
    Used,
    Expired,
}

impl fmt::Display for LinkRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unknown => f.write_str(
                "This link to set a new password is not valid. \
                 Please check that you copied the whole link from the mail.",
            ),
            Self::Used => f.write_str(
                "This link has been used already: a link sets a new password only once.",
            ),
            Self::Expired => write!(
                f,
                "This link has expired: a link works for {RESET_LINK_MINUTES} minutes."
            ),
        }
    }
}

/// Whether a stored reset request may set a password at `now`.
pub fn check_link(
    used: bool,
    expires_at: PrimitiveDateTime,
    now: PrimitiveDateTime,
) -> Result<(), LinkRefusal> {
    if used {
        Err(LinkRefusal::Used)
    } else if now >= expires_at {
        Err(LinkRefusal::Expired)
    } else {
        Ok(())
    }
}

/// How many reset requests within the window are answered with a mail.
/// Past either limit the shopper sees the same answer as always, so the
/// limits tell nobody whether an address has an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResetLimits {
    /// Links mailed to one account.
    pub per_account: i64,
    /// Requests from one client address, whatever email they name.
    pub per_ip: i64,
}

impl ResetLimits {
    /// Whether another link may go to an account that was sent `sent`
    /// links within the window.
    pub fn mails_another(&self, sent: i64) -> bool {
        sent < self.per_account
    }

    /// Whether a request is dropped unheard, given the requests from its
    /// client within the window, this one included.
    pub fn refuses_client(&self, requests: i64) -> bool {
        requests > self.per_ip
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_link_works_until_it_is_used_or_expires() {
        let expires = datetime!(2026-11-23 12:00);
        assert_eq!(
            check_link(false, expires, datetime!(2026-11-23 11:59)),
            Ok(())
        );
        assert_eq!(
            check_link(false, expires, datetime!(2026-11-23 12:00)),
            Err(LinkRefusal::Expired)
        );
        assert_eq!(
            check_link(true, expires, datetime!(2026-11-23 11:00)),
            Err(LinkRefusal::Used)
        );
        assert_eq!(
            check_link(true, expires, datetime!(2026-11-23 13:00)),
            Err(LinkRefusal::Used),
            "a used link says so even once it has expired"
        );
    }

    #[test]
    fn limits_per_account_and_per_client() {
        let limits = ResetLimits {
            per_account: 3,
            per_ip: 10,
        };
        assert!(limits.mails_another(2));
        assert!(!limits.mails_another(3));
        assert!(!limits.refuses_client(10));
        assert!(limits.refuses_client(11));
    }
}
