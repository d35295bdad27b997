//! Rules for shopper accounts.

use super::address::Email;
use super::field_errors::FieldErrors;

pub const MIN_PASSWORD_LEN: usize = 10;
/// Argon2 takes any length; a bound keeps hashing cheap.
pub const MAX_PASSWORD_LEN: usize = 128;

#[derive(Debug, Clone)]
pub struct Registration {
    pub email: Email,
    pub password: String,
}

pub fn parse_registration(
    email: &str,
    password: &str,
    confirmation: &str,
) -> Result<Registration, FieldErrors> {
    let mut errors = FieldErrors::default();
    let email = errors.take("email", Email::parse(email));
    check_new_password(&mut errors, password, confirmation);
    match email {
        Some(email) if errors.is_empty() => Ok(Registration {
            email,
            password: password.to_owned(),
        }),
        _ => Err(errors),
    }
}

/// A password chosen anew (at registration or by a reset link), typed
/// twice: its problems go under `password` and `password_confirmation`.
fn check_new_password(errors: &mut FieldErrors, password: &str, confirmation: &str) {
    let length = password.chars().count();
    if length < MIN_PASSWORD_LEN {
        errors.add(
            "password",
            format!("Please choose a password of at least {MIN_PASSWORD_LEN} characters."),
        );
    } else if length > MAX_PASSWORD_LEN {
        errors.add(
            "password",
            format!("A password can be at most {MAX_PASSWORD_LEN} characters long."),
        );
    } else if password != confirmation {
        errors.add("password_confirmation", "The two passwords do not match.");
    }
}

/// The new password of a reset, by the rules of registration.
pub fn parse_new_password(password: &str, confirmation: &str) -> Result<String, FieldErrors> {
    let mut errors = FieldErrors::default();
    check_new_password(&mut errors, password, confirmation);
    if errors.is_empty() {
        Ok(password.to_owned())
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_rules() {
        assert!(parse_registration("a@b.de", "long enough!", "long enough!").is_ok());
        let errors = parse_registration("a@b.de", "short", "short").unwrap_err();
        assert!(errors.get("password").is_some());
        let errors = parse_registration("a@b.de", "long enough!", "different!!").unwrap_err();
        assert!(errors.get("password_confirmation").is_some());
    }

    #[test]
    fn a_new_password_follows_the_rules_of_registration() {
        assert_eq!(
            parse_new_password("long enough!", "long enough!").unwrap(),
            "long enough!"
        );
        let short = parse_new_password("short", "short").unwrap_err();
        assert!(short.get("password").is_some());
        let long = "x".repeat(MAX_PASSWORD_LEN + 1);
        assert!(parse_new_password(&long, &long).is_err());
        let other = parse_new_password("long enough!", "different!!").unwrap_err();
        assert!(other.get("password_confirmation").is_some());
        assert!(other.get("password").is_none());
    }
}
