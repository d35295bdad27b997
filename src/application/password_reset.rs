//! Setting a new password by mail. The link's token is the reset request's
//! id signed with the shop's link key: the mail worker makes it again when
//! it sends the mail, so neither the database nor the outbox holds it; the
//! database keeps only its hash, to find the request and use it once.

use super::{Shop, sha256_hex};
use crate::payment::signature;

/// How long a reset link works.
pub const RESET_LINK_MINUTES: i64 = 60;

/// The secret part of the reset link of request `reset_id`.
pub fn reset_token(shop: &Shop, reset_id: &str) -> String {
    let sig = signature::digest(&shop.link_key, &format!("password-reset:{reset_id}"));
    format!("{reset_id}.{sig}")
}

/// What the database keeps of a token.
pub fn token_hash(token: &str) -> String {
    sha256_hex(token.as_bytes())
}

/// The address of the form that sets a new password.
pub fn reset_link(shop: &Shop, reset_id: &str) -> String {
    format!(
        "{}/account/password/reset?token={}",
        shop.public_url(),
        reset_token(shop, reset_id)
    )
}
