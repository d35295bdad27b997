//! Pages are gzipped for clients that take gzip, and sent as they are to
//! the others; both decode to the same page.

use crate::helpers::*;
use reqwest::header::{ACCEPT_ENCODING, CONTENT_ENCODING, VARY};
use std::io::Read;

#[tokio::test]
async fn a_browser_gets_the_same_page_gzipped() {
    let app = spawn_app(Backend::Sqlite).await;
    app.add_to_cart("hand-grinder", 1).await;
    // The next page shows the "added" notice once; both copies come after.
    app.get("/").await;
    for path in [
        "/",
        "/products/hand-grinder",
        "/checkout",
        "/static/style.css",
    ] {
        let plain = app.get(path).await;
        assert!(plain.headers().get(CONTENT_ENCODING).is_none(), "{path}");
        let plain = plain.text().await.unwrap();

        let zipped = app
            .client
            .get(app.url(path))
            .header(ACCEPT_ENCODING, "gzip, deflate, br, zstd")
            .send()
            .await
            .unwrap();
        assert_eq!(
            zipped
                .headers()
                .get(CONTENT_ENCODING)
                .map(|v| v.to_str().unwrap()),
            Some("gzip"),
            "{path}: {:?}",
            zipped.headers()
        );
        assert!(
            zipped.headers().get_all(VARY).iter().any(|v| v
                .to_str()
                .unwrap()
                .to_ascii_lowercase()
                .contains("accept-encoding")),
            "{path}: {:?}",
            zipped.headers()
        );
        let bytes = zipped.bytes().await.unwrap();
        assert!(
            bytes.len() < plain.len(),
            "{path}: {} of {}",
            bytes.len(),
            plain.len()
        );
        let mut unzipped = String::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_string(&mut unzipped)
            .unwrap();
        // The pages carry a fresh CSRF token each time; the rest is equal.
        assert_eq!(without_tokens(&unzipped), without_tokens(&plain), "{path}");
    }
}

#[tokio::test]
async fn small_answers_and_clients_without_gzip_get_plain_bodies() {
    let app = spawn_app(Backend::Sqlite).await;
    let health = app
        .client
        .get(app.url("/healthz"))
        .header(ACCEPT_ENCODING, "gzip")
        .send()
        .await
        .unwrap();
    assert!(health.headers().get(CONTENT_ENCODING).is_none());
    let refused = app
        .client
        .get(app.url("/"))
        .header(ACCEPT_ENCODING, "gzip;q=0, br")
        .send()
        .await
        .unwrap();
    assert!(refused.headers().get(CONTENT_ENCODING).is_none());
    assert!(refused.text().await.unwrap().contains("</html>"));
}

fn without_tokens(page: &str) -> String {
    page.lines()
        .filter(|l| !l.contains("csrf"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn pages_link_style_sheets_by_content_hash_cached_for_good() {
    let app = spawn_app(Backend::Sqlite).await;
    let page = app.get_html("/").await;
    let href = page
        .split("rel=\"stylesheet\" href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a style sheet link")
        .to_owned();
    assert!(
        href.starts_with("/static/style.") && href != "/static/style.css",
        "{href}"
    );
    let sheet = app.get(&href).await;
    assert_eq!(sheet.status(), reqwest::StatusCode::OK);
    assert_eq!(
        sheet.headers()[reqwest::header::CACHE_CONTROL],
        "public, max-age=31536000, immutable"
    );
    let hashed = sheet.text().await.unwrap();
    assert_eq!(
        hashed,
        app.get("/static/style.css").await.text().await.unwrap()
    );
    let other = href.replace("/static/style.", "/static/style.0");
    assert_eq!(
        app.get(&other).await.status(),
        reqwest::StatusCode::NOT_FOUND
    );
}
