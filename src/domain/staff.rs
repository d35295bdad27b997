//! Rules for staff accounts, their logins and the API keys of integrators.

use super::account::{MAX_PASSWORD_LEN, MIN_PASSWORD_LEN};
use super::address::Email;

/// A staff account's sign-in name: the email, trimmed and lower-cased.
pub fn staff_email(raw: &str) -> Result<String, String> {
    Email::parse(raw).map(|email| email.as_str().to_lowercase())
}

/// A new staff password, or why it is refused.
pub fn check_staff_password(password: &str) -> Result<(), String> {
    let length = password.chars().count();
    if length < MIN_PASSWORD_LEN {
        Err(format!(
            "the password is too short: use at least {MIN_PASSWORD_LEN} characters"
        ))
    } else if length > MAX_PASSWORD_LEN {
        Err(format!(
            "the password is too long: use at most {MAX_PASSWORD_LEN} characters"
        ))
    } else {
        Ok(())
    }
}

/// How many failed logins within the window stop further tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginLimits {
    pub per_account: i64,
    pub per_ip: i64,
}

impl LoginLimits {
    /// Whether a login is refused, given the attempts counted in the window
    /// (this one included). Counts are per email typed, known or not, so
    /// a refusal says nothing about whether the account exists.
    pub fn refuses(&self, account_attempts: i64, ip_attempts: i64) -> bool {
        account_attempts > self.per_account || ip_attempts > self.per_ip
    }
}

/// The name an API key is known by (`warehouse`, `carrier-dhl`): what the
/// command line and the audit trail show.
pub fn api_key_name(raw: &str) -> Result<String, String> {
    let name = raw.trim();
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if name.is_empty() || name.len() > 64 || !name.chars().all(allowed) {
        Err(format!(
            "'{name}' is not a key name: use 1 to 64 letters, digits, '-', '_' or '.'"
        ))
    } else {
        Ok(name.to_owned())
    }
}

/// Every API key starts with this, so a leaked key is easy to recognise.
pub const API_KEY_PREFIX: &str = "kassa_live_";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staff_emails_are_lower_cased_and_checked() {
        assert_eq!(
            staff_email(" Ann@Kassa.Example ").unwrap(),
            "ann@kassa.example"
        );
        assert!(staff_email("not an email").is_err());
    }

    #[test]
    fn short_and_long_passwords_are_refused() {
        assert!(check_staff_password("kassa-demo").is_ok());
        let short = check_staff_password("short").unwrap_err();
        assert!(short.contains("at least 10"), "{short}");
        assert!(check_staff_password(&"x".repeat(129)).is_err());
    }

    #[test]
    fn a_login_is_refused_past_either_limit() {
        let limits = LoginLimits {
            per_account: 5,
            per_ip: 30,
        };
        assert!(!limits.refuses(5, 30));
        assert!(limits.refuses(6, 1));
        assert!(limits.refuses(1, 31));
    }

    #[test]
    fn key_names_are_plain() {
        assert_eq!(api_key_name(" warehouse ").unwrap(), "warehouse");
        assert!(api_key_name("carrier-dhl_2.eu").is_ok());
        assert!(api_key_name("").is_err());
        assert!(api_key_name("two words").is_err());
        assert!(api_key_name(&"k".repeat(65)).is_err());
    }
}
