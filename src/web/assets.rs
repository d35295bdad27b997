//! The style sheets, under names that carry a hash of their content
//! (`/static/style.3f2a9c1e.css`), so browsers may keep them for a year
//! (`immutable`) and a new release is fetched at once. Each is gzipped once,
//! at its best level, when first asked for; pages link the hashed names.
//! The plain names still answer, cached briefly, for pages from before.

use super::error::PageError;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, get, web};
use flate2::Compression;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::sync::LazyLock;

struct Asset {
    plain_name: &'static str,
    /// The name with the content's hash, as pages link it.
    path: String,
    body: &'static str,
    gzipped: Vec<u8>,
}

impl Asset {
    fn new(plain_name: &'static str, body: &'static str) -> Self {
        let hash = Sha256::digest(body.as_bytes());
        let hex: String = hash[..4].iter().map(|b| format!("{b:02x}")).collect();
        let (stem, extension) = plain_name.rsplit_once('.').unwrap_or((plain_name, ""));
        let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
        let gzipped = encoder
            .write_all(body.as_bytes())
            .and_then(|()| encoder.finish())
            .unwrap_or_default();
        Self {
            plain_name,
            path: format!("/static/{stem}.{hex}.{extension}"),
            body,
            gzipped,
        }
    }
}

static ASSETS: LazyLock<[Asset; 2]> = LazyLock::new(|| {
    [
        Asset::new("style.css", include_str!("../../static/style.css")),
        Asset::new("admin.css", include_str!("../../static/admin.css")),
    ]
});

/// The shop's style sheet, as pages link it.
pub fn style() -> &'static str {
    &ASSETS[0].path
}

/// The back office's style sheet, as its pages link it.
pub fn admin_style() -> &'static str {
    &ASSETS[1].path
}

/// A year: the name changes with the content.
const FOREVER: &str = "public, max-age=31536000, immutable";
/// Pages from before a release still link the plain names.
const A_WHILE: &str = "public, max-age=3600";

#[get("/static/{name}")]
async fn asset(request: HttpRequest, name: web::Path<String>) -> Result<HttpResponse, PageError> {
    let wanted = format!("/static/{name}");
    let found = ASSETS.iter().find_map(|asset| {
        if asset.path == wanted {
            Some((asset, FOREVER))
        } else if asset.plain_name == name.as_str() {
            Some((asset, A_WHILE))
        } else {
            None
        }
    });
    let Some((asset, cache)) = found else {
        return Err(PageError::NotFound);
    };
    let takes_gzip = super::compress::accepts_gzip(request.headers().get(header::ACCEPT_ENCODING));
    let mut response = HttpResponse::Ok();
    response
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, cache))
        .insert_header((header::VARY, HeaderValue::from_static("accept-encoding")));
    Ok(if takes_gzip && !asset.gzipped.is_empty() {
        response
            .insert_header((header::CONTENT_ENCODING, HeaderValue::from_static("gzip")))
            .body(asset.gzipped.clone())
    } else {
        response.body(asset.body)
    })
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(asset);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_content_hash() {
        assert!(style().starts_with("/static/style."));
        assert!(style().ends_with(".css"));
        assert_eq!(style().len(), "/static/style.12345678.css".len());
        assert_ne!(style(), admin_style());
    }
}
