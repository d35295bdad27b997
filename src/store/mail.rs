//! Mails to shoppers: queued in the transaction of the change that causes
//! them (a `mails` row and an outbox event pointing at it), sent by the
//! mail worker, their content kept once sent.

use super::prepared::Prepare;
use super::schema::{mails, orders};
use super::{Store, StoreError, StoreResult, light_conn, now, read, with_conn, write_tx};
pub use crate::domain::mail::{MailContent, MailRecord, MailStatus};
use crate::domain::mail::{MailKind, MailRequest};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

/// A mail about to be queued.
#[derive(Debug, Clone)]
pub struct NewMail<'a> {
    pub request: &'a MailRequest,
    pub order_id: Option<&'a str>,
    pub user_id: Option<&'a str>,
    pub recipient: &'a str,
    pub recipient_name: &'a str,
    pub actor: &'a str,
    /// The cart the outbox row belongs to; empty for account mails.
    pub cart_id: &'a str,
}

impl NewMail<'_> {
    /// Order or account, kind and reference: the same change queues the
    /// same mail once, however often it runs.
    pub(crate) fn dedupe(&self) -> String {
        let owner = self.order_id.or(self.user_id).unwrap_or_default();
        format!(
            "{owner}:{}:{}",
            self.request.kind.as_str(),
            self.request.reference
        )
    }
}

/// Inside the caller's transaction: the mail's row and the outbox event
/// that sends it, once per identity (`dedupe`, or none for a mail sent
/// again on purpose).
/// The mail `$id` went out: what was sent (`$content`) is kept. A mail
/// sent already stays as it was. Recorded with its outbox event's "done"
/// (`Store::outbox_done`).
macro_rules! mark_mail_sent {
    ($c:expr, $id:expr, $content:expr) => {{
        use $crate::store::prepared::Prepare as _;
        use $crate::store::schema::mails;
        let content: &$crate::store::mail::MailContent = $content;
        let at = $crate::store::now();
        struct MailSent;
        diesel::update(
            mails::table
                .find($id)
                .filter(mails::status.ne($crate::store::mail::SENT)),
        )
        .set((
            mails::status.eq($crate::store::mail::SENT),
            mails::attempts.eq(mails::attempts + 1),
            mails::subject.eq(&content.subject),
            mails::text_body.eq(&content.text),
            mails::html_body.eq(&content.html),
            mails::last_error.eq(None::<String>),
            mails::sent_at.eq(at),
            mails::updated_at.eq(at),
        ))
        .prepared_as::<MailSent>()
        .execute($c)
        .await
    }};
}
pub(crate) use mark_mail_sent;

macro_rules! queue_mail {
    ($c:expr, $mail:expr, $dedupe:expr) => {{
        use $crate::store::prepared::Prepare as _;
        use $crate::store::schema::{mails, outbox};
        let mail: &$crate::store::mail::NewMail<'_> = $mail;
        let dedupe: Option<String> = $dedupe;
        let id = $crate::ids::new_id();
        let at = $crate::store::now();
        let inserted = diesel::insert_into(mails::table)
            .values((
                mails::id.eq(&id),
                mails::kind.eq(mail.request.kind.as_str()),
                mails::order_id.eq(mail.order_id),
                mails::user_id.eq(mail.user_id),
                mails::reference.eq(&mail.request.reference),
                mails::dedupe.eq(dedupe),
                mails::recipient.eq(mail.recipient),
                mails::recipient_name.eq(mail.recipient_name),
                mails::status.eq($crate::store::mail::QUEUED),
                mails::attempts.eq(0i64),
                mails::actor.eq(mail.actor),
                mails::created_at.eq(at),
                mails::updated_at.eq(at),
            ))
            .on_conflict_do_nothing()
            .prepared()
            .execute($c)
            .await?;
        if inserted == 1 {
            let payload = $crate::domain::events::EventPayload {
                order_id: mail.order_id.map(str::to_owned),
                mail: Some(id.clone()),
                ..$crate::domain::events::EventPayload::default()
            };
            diesel::insert_into(outbox::table)
                .values($crate::store::outbox::event(
                    $crate::domain::events::EventKind::Mail,
                    mail.cart_id,
                    &payload,
                )?)
                .execute($c)
                .await?;
        }
    }};
}
pub(crate) use queue_mail;

/// Inside the caller's transaction: the order's mails, to the address it
/// was placed with.
macro_rules! queue_order_mails {
    ($c:expr, $order_id:expr, $requests:expr, $actor:expr) => {{
        use $crate::store::schema::orders;
        let requests: &[$crate::domain::mail::MailRequest] = $requests;
        if !requests.is_empty() {
            let (cart_id, email): (String, String) = orders::table
                .find($order_id)
                .select((orders::cart_id, orders::email))
                .first($c)
                .await?;
            for request in requests {
                let mail = $crate::store::mail::NewMail {
                    request,
                    order_id: Some($order_id),
                    user_id: None,
                    recipient: &email,
                    recipient_name: "",
                    actor: $actor,
                    cart_id: &cart_id,
                };
                $crate::store::mail::queue_mail!($c, &mail, Some(mail.dedupe()));
            }
        }
    }};
}
pub(crate) use queue_order_mails;

pub(crate) const QUEUED: &str = "queued";
pub(crate) const SENT: &str = "sent";
const FAILED: &str = "failed";
const WITHDRAWN: &str = "withdrawn";

#[derive(Queryable, Selectable)]
#[diesel(table_name = mails)]
struct MailRow {
    id: String,
    kind: String,
    order_id: Option<String>,
    user_id: Option<String>,
    reference: String,
    recipient: String,
    recipient_name: String,
    status: String,
    attempts: i64,
    last_error: Option<String>,
    actor: String,
    created_at: time::PrimitiveDateTime,
    sent_at: Option<time::PrimitiveDateTime>,
    subject: Option<String>,
    text_body: Option<String>,
    html_body: Option<String>,
}

fn parse_status(raw: &str) -> StoreResult<MailStatus> {
    match raw {
        QUEUED => Ok(MailStatus::Queued),
        SENT => Ok(MailStatus::Sent),
        FAILED => Ok(MailStatus::Failed),
        WITHDRAWN => Ok(MailStatus::Withdrawn),
        other => Err(StoreError::Corrupt(format!("mail status {other:?}"))),
    }
}

impl MailRow {
    fn into_record(self) -> StoreResult<MailRecord> {
        let kind = MailKind::parse(&self.kind)
            .ok_or_else(|| StoreError::Corrupt(format!("mail kind {:?}", self.kind)))?;
        let content = match (self.subject, self.text_body, self.html_body) {
            (Some(subject), Some(text), Some(html)) => Some(MailContent {
                subject,
                text,
                html,
            }),
            _ => None,
        };
        Ok(MailRecord {
            id: self.id,
            kind,
            order_id: self.order_id,
            user_id: self.user_id,
            reference: self.reference,
            recipient: self.recipient,
            recipient_name: self.recipient_name,
            status: parse_status(&self.status)?,
            attempts: self.attempts,
            last_error: self.last_error,
            actor: self.actor,
            created_at: self.created_at,
            sent_at: self.sent_at,
            content,
        })
    }
}

impl Store {
    /// Queues one mail outside any other change (a staff resend, a reset
    /// request); `dedupe` as [`NewMail::dedupe`], or `None` for a mail sent
    /// again on purpose.
    pub async fn queue_mail(&self, mail: &NewMail<'_>, dedupe: Option<String>) -> StoreResult<()> {
        write_tx!(self, |c| {
            queue_mail!(c, mail, dedupe.clone());
            Ok::<_, StoreError>(())
        })
    }

    /// The mail, content included.
    pub async fn mail(&self, id: &str) -> StoreResult<Option<MailRecord>> {
        let row: Option<MailRow> = read!(self, |c| {
            mails::table
                .find(id)
                .select(MailRow::as_select())
                .first(c)
                .await
                .optional()
        })?;
        row.map(MailRow::into_record).transpose()
    }

    /// The order's mails, oldest first.
    pub async fn order_mails(&self, order_id: &str) -> StoreResult<Vec<MailRecord>> {
        let rows: Vec<MailRow> = read!(self, |c| {
            mails::table
                .filter(mails::order_id.eq(order_id))
                .order((mails::created_at.asc(), mails::id.asc()))
                .select(MailRow::as_select())
                .load(c)
                .await
        })?;
        rows.into_iter().map(MailRow::into_record).collect()
    }

    /// The account's mails, oldest first.
    #[cfg(feature = "test-support")]
    pub async fn account_mails(&self, user_id: &str) -> StoreResult<Vec<MailRecord>> {
        let rows: Vec<MailRow> = read!(self, |c| {
            mails::table
                .filter(mails::user_id.eq(user_id))
                .order((mails::created_at.asc(), mails::id.asc()))
                .select(MailRow::as_select())
                .load(c)
                .await
        })?;
        rows.into_iter().map(MailRow::into_record).collect()
    }

    /// A try that did not send the mail: it stays queued for the next try,
    /// or fails for good when `give_up`.
    pub async fn mail_not_sent(&self, id: &str, error: &str, give_up: bool) -> StoreResult<()> {
        let status = if give_up { FAILED } else { QUEUED };
        light_conn!(self, |c| {
            diesel::update(mails::table.find(id).filter(mails::status.ne(SENT)))
                .set((
                    mails::status.eq(status),
                    mails::attempts.eq(mails::attempts + 1),
                    mails::last_error.eq(error),
                    mails::updated_at.eq(now()),
                ))
                .prepared()
                .execute(c)
                .await
        })?;
        Ok(())
    }

    /// Marks a queued mail as not needed any more, with the reason.
    pub async fn mail_withdrawn(&self, id: &str, why: &str) -> StoreResult<()> {
        light_conn!(self, |c| {
            diesel::update(mails::table.find(id).filter(mails::status.eq(QUEUED)))
                .set((
                    mails::status.eq(WITHDRAWN),
                    mails::last_error.eq(why),
                    mails::updated_at.eq(now()),
                ))
                .prepared()
                .execute(c)
                .await
        })?;
        Ok(())
    }

    /// Queues a copy of the order's mail `id` to be sent again, by `actor`;
    /// `None` when the order has no such mail.
    pub async fn resend_mail(
        &self,
        order_id: &str,
        id: &str,
        actor: &str,
    ) -> StoreResult<Option<MailKind>> {
        let Some(original) = self.mail(id).await? else {
            return Ok(None);
        };
        if original.order_id.as_deref() != Some(order_id) || original.kind.holds_secret() {
            return Ok(None);
        }
        let cart_id: String = with_conn!(self, |c| {
            orders::table
                .find(order_id)
                .select(orders::cart_id)
                .first(c)
                .await
        })?;
        let request = MailRequest::about(original.kind, original.reference.clone());
        let mail = NewMail {
            request: &request,
            order_id: Some(order_id),
            user_id: None,
            recipient: &original.recipient,
            recipient_name: &original.recipient_name,
            actor,
            cart_id: &cart_id,
        };
        self.queue_mail(&mail, None).await?;
        Ok(Some(original.kind))
    }
}
