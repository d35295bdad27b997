//! Compresses pages in place, on the worker that rendered them. actix-web's
//! own `Compress` hands every chunk over 1 KiB to the blocking thread pool,
//! so each page cost two thread switches and waited in that pool's queue:
//! under load most of a page's time went there while the CPU idled. A page
//! is a few kilobytes already in memory; gzip at its fastest level takes
//! tens of microseconds on it, less than the hop cost.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use flate2::Crc;
use std::cell::RefCell;

mod chunked;

/// Below this a compressed body is hardly smaller than its headers cost.
const WORTH_IT: usize = 1024;

/// Gzips a whole response body when the client takes gzip and the body is
/// text of a known size.
pub async fn gzip<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let accepts = accepts_gzip(req.headers().get(header::ACCEPT_ENCODING));
    let res = next.call(req).await?.map_into_boxed_body();
    if !accepts || !compressible(&res) {
        return Ok(vary(res));
    }
    let (req, res) = res.into_parts();
    let (mut head, body) = res.into_parts();
    let bytes = match body.try_into_bytes() {
        Ok(bytes) if bytes.len() >= WORTH_IT => bytes,
        Ok(bytes) => {
            let res = head.set_body(BoxBody::new(bytes));
            return Ok(vary(ServiceResponse::new(req, res)));
        }
        Err(body) => {
            let res = head.set_body(body);
            return Ok(vary(ServiceResponse::new(req, res)));
        }
    };
    let res = match gzip_bytes(&bytes) {
        Some(zipped) => {
            let headers = head.headers_mut();
            headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            headers.remove(header::CONTENT_LENGTH);
            head.set_body(BoxBody::new(zipped))
        }
        // A bug in the encoder: send it as it was.
        None => head.set_body(BoxBody::new(bytes)),
    };
    Ok(vary(ServiceResponse::new(req, res)))
}

thread_local! {
    /// One deflate state per worker, and the chunks of pages it keeps
    /// compressed: a new state costs a quarter of a megabyte allocated
    /// and cleared, more than the compression itself.
    static DEFLATER: RefCell<chunked::Deflater> = RefCell::new(chunked::Deflater::new());
}

/// The gzip header (RFC 1952): deflate, no name, no time, unknown OS.
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];

/// `input` as a gzip member: the header, raw deflate, CRC-32 and size.
pub(crate) fn gzip_bytes(input: &[u8]) -> Option<Vec<u8>> {
    let size = u32::try_from(input.len()).ok()?;
    let mut out = Vec::with_capacity(input.len() / 3 + 64);
    out.extend_from_slice(&GZIP_HEADER);
    DEFLATER.with_borrow_mut(|deflater| deflater.deflate(input, &mut out))?;
    let mut crc = Crc::new();
    crc.update(input);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    out.extend_from_slice(&size.to_le_bytes());
    Some(out)
}

/// Whether an `Accept-Encoding` value allows gzip (and does not give it
/// `q=0`).
pub(crate) fn accepts_gzip(value: Option<&HeaderValue>) -> bool {
    let Some(value) = value.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    value.split(',').any(|part| {
        let mut params = part.split(';').map(str::trim);
        let coding = params.next().unwrap_or_default();
        let refused = params.any(|p| {
            p.strip_prefix("q=")
                .and_then(|q| q.parse::<f32>().ok())
                .is_some_and(|q| q <= 0.0)
        });
        (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
    })
}

/// Text bodies that are not already encoded.
fn compressible<B>(res: &ServiceResponse<B>) -> bool {
    !res.headers().contains_key(header::CONTENT_ENCODING) && is_text(res)
}

fn is_text<B>(res: &ServiceResponse<B>) -> bool {
    let Some(kind) = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    ["text/", "application/json", "image/svg+xml"]
        .iter()
        .any(|prefix| kind.starts_with(prefix))
}

/// Caches must key on the encoding of whatever this middleware may compress.
fn vary<B>(mut res: ServiceResponse<B>) -> ServiceResponse<B> {
    if is_text(&res) {
        res.headers_mut()
            .append(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepts(value: &str) -> bool {
        accepts_gzip(Some(&HeaderValue::from_str(value).unwrap()))
    }

    #[test]
    fn gzips_what_a_gzip_reader_reads_back_again_and_again() {
        use std::io::Read;
        let page: Vec<u8> = (0..20_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        // Noise does not shrink: the output outgrows its first buffer.
        let mut seed = 7u64;
        let noise: Vec<u8> = (0..50_000)
            .map(|_| {
                seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                (seed >> 56) as u8
            })
            .collect();
        for input in [&page[..], b"short", &noise[..], &page[..7_000], &[][..]] {
            let zipped = gzip_bytes(input).unwrap();
            let mut back = Vec::new();
            flate2::read::GzDecoder::new(&zipped[..])
                .read_to_end(&mut back)
                .unwrap();
            assert_eq!(back, input);
        }
    }

    #[test]
    fn reads_accept_encoding_as_browsers_send_it() {
        assert!(accepts("gzip, deflate, br, zstd"));
        assert!(accepts("br;q=1.0, GZIP;q=0.5"));
        assert!(accepts("*"));
        assert!(!accepts("gzip;q=0"));
        assert!(!accepts("br, zstd"));
        assert!(!accepts("identity"));
        assert!(!accepts_gzip(None));
    }
}
