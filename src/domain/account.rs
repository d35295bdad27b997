//! Rules for shopper accounts.

use super::address::Email;
use super::field_errors::FieldErrors;

pub const MIN_PASSWORD_LEN: usize = 10;

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
    let length = password.chars().count();
    if length < MIN_PASSWORD_LEN {
        errors.add(
            "password",
            format!("Please choose a password of at least {MIN_PASSWORD_LEN} characters."),
        );
    } else if length > 128 {
        errors.add("password", "A password can be at most 128 characters long.");
    } else if password != confirmation {
        errors.add("password_confirmation", "The two passwords do not match.");
    }
    match email {
        Some(email) if errors.is_empty() => Ok(Registration {
            email,
            password: password.to_owned(),
        }),
        _ => Err(errors),
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
}
