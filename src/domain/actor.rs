//! Who did something: a staff member, an integrator's API key, or the shop
//! itself. Every back-office and API action records one.

use std::fmt;

/// How the shop itself is named where an actor is recorded.
pub const SYSTEM: &str = "system";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    Staff { id: String, email: String },
    ApiKey { id: String, name: String },
    System,
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Staff { email, .. } => f.write_str(email),
            Self::ApiKey { name, .. } => write!(f, "API key {name}"),
            Self::System => f.write_str(SYSTEM),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_actor_reads_as_who_it_is() {
        let staff = Actor::Staff {
            id: "s1".into(),
            email: "admin@kassa.example".into(),
        };
        let key = Actor::ApiKey {
            id: "k1".into(),
            name: "warehouse".into(),
        };
        assert_eq!(staff.to_string(), "admin@kassa.example");
        assert_eq!(key.to_string(), "API key warehouse");
        assert_eq!(Actor::System.to_string(), "system");
    }
}
