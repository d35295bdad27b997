//! PostgreSQL text cannot hold a NUL character: a query that names one
//! fails. No field of the shop means anything with a NUL in it, so it is
//! junk like any other: in a form it becomes U+FFFD and is refused by the
//! field's own check (the form re-renders with the value and the message);
//! in a URL the request is refused before any handler looks it up.

use crate::web::error::PageError;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use std::borrow::Cow;

/// U+FFFD, percent-encoded.
const REPLACEMENT: &[u8] = b"%EF%BF%BD";

/// An urlencoded body with every NUL (raw or `%00`) replaced by U+FFFD.
pub fn replaced_in_form(body: &[u8]) -> Cow<'_, [u8]> {
    let nul_at = |i: usize| body[i] == 0 || body[i..].starts_with(b"%00");
    if !(0..body.len()).any(nul_at) {
        return Cow::Borrowed(body);
    }
    let mut out = Vec::with_capacity(body.len() + REPLACEMENT.len());
    let mut i = 0;
    while i < body.len() {
        if body[i] == 0 {
            out.extend_from_slice(REPLACEMENT);
            i += 1;
        } else if body[i..].starts_with(b"%00") {
            out.extend_from_slice(REPLACEMENT);
            i += 3;
        } else {
            out.push(body[i]);
            i += 1;
        }
    }
    Cow::Owned(out)
}

/// Whether any of `fields` holds a NUL.
pub fn any(fields: &[&str]) -> bool {
    fields.iter().any(|f| f.contains('\0'))
}

/// Middleware: a URL with `%00` in its path or query gets a 400 page.
pub async fn refuse_in_url(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let uri = req.uri();
    let has_nul = |part: Option<&str>| part.is_some_and(|p| p.contains("%00"));
    if has_nul(Some(uri.path())) || has_nul(uri.query()) {
        return Ok(req.error_response(PageError::BadRequest("a NUL in the URL".into())));
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_in_a_form_becomes_the_replacement_character() {
        assert_eq!(&*replaced_in_form(b"a=1&b=x"), b"a=1&b=x");
        assert_eq!(&*replaced_in_form(b"a=x%00y"), b"a=x%EF%BF%BDy");
        assert_eq!(&*replaced_in_form(b"a=x\0y"), b"a=x%EF%BF%BDy");
        // "%2500" is the text "%00", not a NUL.
        assert_eq!(&*replaced_in_form(b"a=%2500"), b"a=%2500");
        assert_eq!(&*replaced_in_form(b"a=%%00"), b"a=%%EF%BF%BD");
    }
}
