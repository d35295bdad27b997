//! The one reading of the wall clock: now in UTC, as the database keeps
//! times (`Timestamp` columns hold UTC without an offset).

pub fn now() -> time::PrimitiveDateTime {
    let now = time::OffsetDateTime::now_utc();
    time::PrimitiveDateTime::new(now.date(), now.time())
}
