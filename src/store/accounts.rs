//! Shopper accounts.

use super::mail::{NewMail, queue_mail};
use super::rows::UserRow;
use super::schema::users;
use super::{Store, StoreError, StoreResult, is_unique_violation, now, read, write_tx};
use crate::domain::actor::SYSTEM;
use crate::domain::mail::{MailKind, MailRequest};
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
    /// Creates a user and, in the same transaction, queues its welcome
    /// mail; `None` when the email is taken.
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
        let created = write_tx!(self, |c| {
            diesel::insert_into(users::table)
                .values(&row)
                .execute(c)
                .await?;
            let request = MailRequest::new(MailKind::Welcome);
            let mail = NewMail {
                request: &request,
                order_id: None,
                user_id: Some(&row.id),
                recipient: &row.email,
                recipient_name: "",
                actor: SYSTEM,
                cart_id: "",
            };
            queue_mail!(c, &mail, Some(mail.dedupe()));
            Ok::<_, StoreError>(())
        });
        match created {
            Ok(()) => Ok(Some(row.id)),
            Err(StoreError::Db(e)) if is_unique_violation(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Account emails are stored lower-cased by the caller.
    pub async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        let row: Option<UserRow> = read!(self, |c| {
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

    /// The password hash of the account with this id, if there is one.
    pub async fn user_password_hash(&self, user_id: &str) -> StoreResult<Option<String>> {
        Ok(read!(self, |c| {
            users::table
                .find(user_id)
                .select(users::password_hash)
                .first(c)
                .await
                .optional()
        })?)
    }
}
