//! Shopper accounts.

use super::rows::UserRow;
use super::schema::users;
use super::{Store, StoreResult, now, with_conn};
use crate::ids::new_id;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub email: String,
    pub password_hash: String,
}

impl Store {
    /// Creates a user; `None` when the email is taken.
    pub async fn create_user(
        &self,
        email: &str,
        password_hash: &str,
    ) -> StoreResult<Option<String>> {
        let row = UserRow {
            id: new_id(),
            email: email.to_owned(),
            password_hash: password_hash.to_owned(),
            created_at: now(),
        };
        let inserted = with_conn!(self, |c| {
            diesel::insert_into(users::table)
                .values(&row)
                .execute(c)
                .await
        });
        match inserted {
            Ok(_) => Ok(Some(row.id)),
            Err(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            )) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Account emails are stored lower-cased by the caller.
    pub async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        let row: Option<UserRow> = with_conn!(self, |c| {
            users::table
                .filter(users::email.eq(email))
                .select(UserRow::as_select())
                .first(c)
                .await
                .optional()
        })?;
        Ok(row.map(|u| User {
            id: u.id,
            email: u.email,
            password_hash: u.password_hash,
        }))
    }
}
