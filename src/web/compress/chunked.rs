//! Raw deflate of pages by chunks, keeping the compressed form of chunks
//! that come back. Most of a page is the same for every shopper (the
//! header, the form's fields, the country lists): compressing it again for
//! every answer was a fifth of a page's CPU.
//!
//! A page is cut at line ends chosen by their content, so a line added
//! above does not move the cuts below it. A chunk seen before is
//! compressed on its own and kept, ending with a sync flush (the
//! byte-aligned empty stored block), so that kept chunks can be put one
//! after another; an empty final block closes the stream. It may refer
//! back into the chunk before it, given to the compressor as its
//! dictionary: the reader has just written those bytes out, so pages
//! shrink nearly as much as compressed whole. A kept chunk is used only
//! where both its bytes and its dictionary's bytes are the same as when it
//! was compressed. After a chunk that was not kept (the one with the
//! session's form token, say) the next chunk takes no dictionary, so that
//! it can be kept for every shopper, whatever came before it. A chunk seen
//! for the first time goes on the stream of the chunks before it, as a
//! page compressed whole would.

use flate2::{Compress, Compression, FlushCompress};
use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher;

/// Chunks end at a line end, at least this far from their start...
const MIN_CHUNK: usize = 256;
/// ...at the first line end past this, whatever the line...
const MAX_CHUNK: usize = 4096;
/// ...or in between, at one line end in 16, chosen by the line's last bytes.
const CUT_BITS: u32 = 4;
/// The most one worker keeps of chunks, their dictionaries and their
/// compressed forms; when full it forgets them all and starts again.
const KEPT_BYTES: usize = 2 << 20;
/// Chunks are kept the second time they are seen: one seen once is
/// remembered by its key, up to this many.
const SEEN_KEYS: usize = 16_384;
/// What closes a stream after a sync flush: an empty final block with
/// fixed codes (BFINAL 1, BTYPE 01, the end-of-block code).
const FINAL_EMPTY_BLOCK: [u8; 2] = [0x03, 0x00];

/// One worker's compressor and the chunks it keeps.
pub(crate) struct Deflater {
    deflate: Compress,
    hasher: foldhash::fast::RandomState,
    kept: HashMap<Key, Kept>,
    seen: HashSet<Key>,
    kept_bytes: usize,
    #[cfg(test)]
    pub(crate) hits: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    /// The hash of the dictionary, 0 for none.
    dictionary: u64,
    chunk: u64,
}

struct Kept {
    dictionary: Box<[u8]>,
    chunk: Box<[u8]>,
    deflated: Box<[u8]>,
}

impl Kept {
    fn size(&self) -> usize {
        self.dictionary.len() + self.chunk.len() + self.deflated.len()
    }
}

impl Deflater {
    pub(crate) fn new() -> Self {
        Self {
            deflate: Compress::new(Compression::fast(), false),
            hasher: foldhash::fast::RandomState::default(),
            kept: HashMap::new(),
            seen: HashSet::new(),
            kept_bytes: 0,
            #[cfg(test)]
            hits: 0,
        }
    }

    /// Appends `input` to `out` as one whole raw deflate stream. `None` if
    /// the encoder fails.
    pub(crate) fn deflate(&mut self, input: &[u8], out: &mut Vec<u8>) -> Option<()> {
        let mut chunks: Vec<(&[u8], u64)> = Vec::new();
        let mut start = 0;
        for end in chunk_ends(input) {
            let chunk = &input[start..end];
            chunks.push((chunk, self.hasher.hash_one(chunk)));
            start = end;
        }
        // The chunk before, if it came from the kept ones: the dictionary.
        let mut previous: Option<(&[u8], u64)> = None;
        // The chunk before was compressed here, and the stream goes on.
        let mut compressing = false;
        for (i, &(chunk, chunk_hash)) in chunks.iter().enumerate() {
            let (dictionary, dictionary_hash) = previous.unwrap_or((&[], 0));
            let key = Key {
                dictionary: dictionary_hash,
                chunk: chunk_hash,
            };
            if let Some(kept) = self.kept.get(&key)
                && *kept.chunk == *chunk
                && *kept.dictionary == *dictionary
            {
                out.extend_from_slice(&kept.deflated);
                #[cfg(test)]
                {
                    self.hits += 1;
                }
                previous = Some((chunk, chunk_hash));
                compressing = false;
                continue;
            }
            let from = out.len();
            if self.seen.contains(&key) {
                // Seen before: compressed on its own, to be kept.
                self.start(dictionary)?;
                self.compress(chunk, FlushCompress::Sync, out)?;
                self.keep(key, dictionary, chunk, &out[from..]);
            } else {
                // A chunk of this page only, as far as is known (the one
                // with the form's token, say): the stream goes on, sparing
                // a new compressor's state for each, and one begun for it
                // is spared the dictionary. It ends with a flush only
                // where the next chunk does not go on with it.
                if !compressing {
                    self.start(&[])?;
                }
                // Seen now, so that a next chunk just like it is known as
                // seen: it will be compressed on its own, after a flush.
                self.saw(key);
                let next_goes_on = chunks.get(i + 1).is_some_and(|&(_, next)| {
                    let next = Key {
                        dictionary: 0,
                        chunk: next,
                    };
                    !self.kept.contains_key(&next) && !self.seen.contains(&next)
                });
                let flush = if next_goes_on {
                    FlushCompress::None
                } else {
                    FlushCompress::Sync
                };
                self.compress(chunk, flush, out)?;
            }
            previous = None;
            compressing = true;
        }
        out.extend_from_slice(&FINAL_EMPTY_BLOCK);
        Some(())
    }

    /// A fresh stream, which may refer back into `dictionary`.
    fn start(&mut self, dictionary: &[u8]) -> Option<()> {
        self.deflate.reset();
        if !dictionary.is_empty() {
            self.deflate.set_dictionary(dictionary).ok()?;
        }
        Some(())
    }

    /// Compresses `chunk` onto the stream; a sync flush ends it on a byte,
    /// with everything written out.
    fn compress(&mut self, chunk: &[u8], flush: FlushCompress, out: &mut Vec<u8>) -> Option<()> {
        let before = self.deflate.total_in();
        loop {
            out.reserve(chunk.len() / 2 + 64);
            let read = usize::try_from(self.deflate.total_in() - before).ok()?;
            self.deflate.compress_vec(&chunk[read..], out, flush).ok()?;
            let all_read = usize::try_from(self.deflate.total_in() - before).ok()? == chunk.len();
            // A flush is complete once it leaves room in the output.
            if all_read && out.len() < out.capacity() {
                return Some(());
            }
        }
    }

    /// Remembers a chunk seen once, to keep it when it comes back.
    fn saw(&mut self, key: Key) {
        if self.seen.len() >= SEEN_KEYS {
            self.seen.clear();
        }
        self.seen.insert(key);
    }

    fn keep(&mut self, key: Key, dictionary: &[u8], chunk: &[u8], deflated: &[u8]) {
        let kept = Kept {
            dictionary: dictionary.into(),
            chunk: chunk.into(),
            deflated: deflated.into(),
        };
        if self.kept_bytes + kept.size() > KEPT_BYTES {
            self.kept.clear();
            self.kept_bytes = 0;
        }
        self.kept_bytes += kept.size();
        if let Some(replaced) = self.kept.insert(key, kept) {
            self.kept_bytes -= replaced.size();
        }
    }
}

/// Where `page`'s chunks end, the last at its end.
fn chunk_ends(page: &[u8]) -> impl Iterator<Item = usize> + '_ {
    let mut start = 0;
    std::iter::from_fn(move || {
        if start >= page.len() {
            return None;
        }
        // A chunk ends at a line end at least MIN_CHUNK bytes on: the line
        // ends before that are not looked at.
        let mut from = (start + MIN_CHUNK - 1).min(page.len());
        while let Some(at) = memchr::memchr(b'\n', &page[from..]) {
            let newline = from + at;
            let end = newline + 1;
            if end - start >= MAX_CHUNK || cuts_after(&page[..newline]) {
                start = end;
                return Some(end);
            }
            from = end;
        }
        start = page.len();
        Some(start)
    })
}

/// Whether a chunk may end after the line that ends `before`, by the
/// line's last eight bytes.
fn cuts_after(before: &[u8]) -> bool {
    let tail = &before[before.len().saturating_sub(8)..];
    let mut word = [0u8; 8];
    word[..tail.len()].copy_from_slice(tail);
    let mixed = u64::from_le_bytes(word).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    mixed >> (64 - CUT_BITS) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inflate(deflated: &[u8]) -> Vec<u8> {
        use std::io::Read;
        let mut back = Vec::new();
        flate2::read::DeflateDecoder::new(deflated)
            .read_to_end(&mut back)
            .unwrap();
        back
    }

    /// A page of `lines` form fields, with `token` in its first lines.
    fn page(token: &str, lines: usize) -> Vec<u8> {
        let mut page = format!("<form>\n<input name=\"csrf\" value=\"{token}\">\n");
        for i in 0..lines {
            page.push_str(&format!(
                "<div class=\"field\">\n  <label for=\"f{i}\">Field {i}</label>\n  <input id=\"f{i}\" name=\"f{i}\" value=\"\">\n</div>\n"
            ));
        }
        page.into_bytes()
    }

    #[test]
    fn chunks_end_where_the_rule_says_though_short_lines_are_skipped() {
        // The rule read at every line end.
        fn at_every_line_end(page: &[u8]) -> Vec<usize> {
            let mut ends = Vec::new();
            let mut start = 0;
            for (newline, _) in page.iter().enumerate().filter(|(_, b)| **b == b'\n') {
                let len = newline + 1 - start;
                if len >= MAX_CHUNK || (len >= MIN_CHUNK && cuts_after(&page[..newline])) {
                    ends.push(newline + 1);
                    start = newline + 1;
                }
            }
            if start < page.len() {
                ends.push(page.len());
            }
            ends
        }
        let mut varied = String::new();
        for i in 0..3000 {
            varied.push_str(&"x".repeat(i * 7919 % 300));
            varied.push_str(&format!("{i}\n"));
        }
        // Lines of 1 to 13 bytes: a line ends at nearly every offset.
        let mut short = String::new();
        for i in 0..4000 {
            short.push_str(
                &format!("{:016x}", (i as u64).wrapping_mul(2_654_435_761))[..1 + i % 13],
            );
            short.push('\n');
        }
        let long = format!("{}\n{}\n", "a".repeat(MAX_CHUNK + 3), "b".repeat(10));
        for page in [
            page("t", 200),
            page("u", 3),
            varied.into_bytes(),
            short.into_bytes(),
            long.into_bytes(),
            b"\n\n\n".to_vec(),
            // A line end on every byte; lines of exactly 64 bytes.
            "\n".repeat(3 * MIN_CHUNK + 5).into_bytes(),
            format!("{}\n", "y".repeat(63)).repeat(40).into_bytes(),
        ] {
            assert_eq!(
                chunk_ends(&page).collect::<Vec<_>>(),
                at_every_line_end(&page)
            );
        }
    }

    #[test]
    fn chunks_cover_the_page_and_end_at_line_ends() {
        let page = page("t", 200);
        let ends: Vec<usize> = chunk_ends(&page).collect();
        assert!(ends.len() > 3, "{ends:?}");
        assert_eq!(ends.last(), Some(&page.len()));
        let mut start = 0;
        for &end in &ends {
            assert!(end > start && end - start <= MAX_CHUNK + 200);
            assert!(end == page.len() || page[end - 1] == b'\n');
            start = end;
        }
        assert_eq!(chunk_ends(b"").count(), 0);
        assert_eq!(chunk_ends(b"no line end").collect::<Vec<_>>(), [11]);
    }

    #[test]
    fn pages_read_back_whatever_the_deflater_kept_before() {
        let mut deflater = Deflater::new();
        let pages = [
            page("first", 150),
            page("second", 150),
            page("first", 150),
            page("first", 20),
            page("third", 300),
            b"short".to_vec(),
            Vec::new(),
        ];
        for round in 0..4 {
            for page in &pages {
                let mut out = Vec::new();
                deflater.deflate(page, &mut out).unwrap();
                assert_eq!(inflate(&out), *page, "round {round}");
            }
        }
    }

    #[test]
    fn a_chunk_kept_after_one_chunk_is_not_used_after_another() {
        // One line past the longest chunk is a chunk of its own.
        let line = |words: &[&str], seed: usize| {
            let mut line: String = (0..900)
                .map(|i| words[(i * 7 + seed) % words.len()])
                .collect::<Vec<_>>()
                .join(" ");
            line.push('\n');
            line
        };
        let alpha = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"];
        let other = ["golf", "hotel", "india", "juliett", "kilo", "lima"];
        // The shared chunk repeats the first page's words: compressed after
        // that page's first chunk it refers back into it.
        let shared = line(&alpha, 3);
        let opening = line(&alpha, 0);
        let first = format!("{opening}{shared}").into_bytes();
        let second = format!("{}{shared}", line(&other, 0)).into_bytes();
        assert_eq!(chunk_ends(&first).count(), 2);
        let mut deflater = Deflater::new();
        // The first page's opening is kept before the shared chunk is
        // first seen: the shared chunk is kept as compressed after it.
        for page in [opening.as_bytes(), opening.as_bytes(), &first, &first] {
            deflater.deflate(page, &mut Vec::new()).unwrap();
        }
        for round in 0..4 {
            for page in [&second, &first] {
                let mut out = Vec::new();
                deflater.deflate(page, &mut out).unwrap();
                assert_eq!(inflate(&out), *page, "round {round}");
            }
        }
        assert!(deflater.hits > 0);
    }

    #[test]
    fn a_page_seen_again_comes_from_kept_chunks_and_shrinks_as_if_whole() {
        let mut deflater = Deflater::new();
        let page = page("token", 150);
        let chunks = chunk_ends(&page).count();
        let mut whole = Vec::with_capacity(page.len());
        Compress::new(Compression::fast(), false)
            .compress_vec(&page, &mut whole, FlushCompress::Finish)
            .unwrap();
        let mut out = Vec::new();
        for _ in 0..2 * chunks + 2 {
            out.clear();
            deflater.hits = 0;
            deflater.deflate(&page, &mut out).unwrap();
        }
        assert_eq!(deflater.hits, chunks, "every chunk kept");
        assert_eq!(inflate(&out), page);
        assert!(
            out.len() < whole.len() * 11 / 10,
            "{} against {} compressed whole",
            out.len(),
            whole.len()
        );
    }

    #[test]
    fn after_a_chunk_of_its_own_the_rest_of_a_page_is_kept_for_everyone() {
        let mut deflater = Deflater::new();
        let shoppers: Vec<Vec<u8>> = (0..12)
            .map(|i| page(&format!("token-{i}-{}", "x".repeat(300)), 150))
            .collect();
        let chunks = chunk_ends(&shoppers[11]).count();
        for page in &shoppers[..11] {
            deflater.deflate(page, &mut Vec::new()).unwrap();
        }
        deflater.hits = 0;
        let mut out = Vec::new();
        deflater.deflate(&shoppers[11], &mut out).unwrap();
        assert_eq!(inflate(&out), shoppers[11]);
        // The shopper's own first chunk is new; every other one is kept.
        assert_eq!(deflater.hits, chunks - 1);
    }

    #[test]
    fn a_page_new_all_through_is_one_stream_and_nothing_is_kept() {
        let mut deflater = Deflater::new();
        // The form's token in every product's form, as on a new visitor's
        // home page: no chunk comes back.
        let page = |token: usize| {
            let mut page = String::new();
            for i in 0..120 {
                page.push_str(&format!(
                    "<form method=\"post\" action=\"/cart/add\">\n  <input type=\"hidden\" name=\"csrf_token\" value=\"{token:048x}\">\n  <input type=\"hidden\" name=\"product_id\" value=\"p{i}\">\n</form>\n"
                ));
            }
            page.into_bytes()
        };
        for token in 0..8 {
            let page = page(token);
            let mut out = Vec::new();
            deflater.deflate(&page, &mut out).unwrap();
            assert_eq!(inflate(&out), page);
            let mut whole = Vec::with_capacity(page.len());
            Compress::new(Compression::fast(), false)
                .compress_vec(&page, &mut whole, FlushCompress::Finish)
                .unwrap();
            // A sync flush between chunks costs a few bytes each (an empty
            // stored block, and a new block begun).
            let chunks = chunk_ends(&page).count();
            assert!(
                out.len() <= whole.len() + 12 * chunks,
                "{} against {} compressed whole, {chunks} chunks",
                out.len(),
                whole.len()
            );
        }
        assert_eq!(deflater.kept_bytes, 0);
        assert_eq!(deflater.hits, 0);
    }

    #[test]
    fn a_chunk_twice_in_a_row_reads_back() {
        // One line past the longest chunk is a chunk of its own: the page
        // is the same new chunk twice, then a kept one, then new ones.
        let line = |c: char| format!("{}\n", c.to_string().repeat(MAX_CHUNK + 10));
        let mut deflater = Deflater::new();
        let kept = line('k');
        for _ in 0..2 {
            deflater.deflate(kept.as_bytes(), &mut Vec::new()).unwrap();
        }
        for (round, new) in ['a', 'b', 'c'].into_iter().enumerate() {
            let page = format!("{0}{0}{kept}{1}{1}", line(new), line('z')).into_bytes();
            let mut out = Vec::new();
            deflater.deflate(&page, &mut out).unwrap();
            assert_eq!(inflate(&out), page, "round {round}");
        }
    }

    #[test]
    fn what_is_kept_stays_within_its_bound() {
        let mut deflater = Deflater::new();
        for i in 0..400 {
            let page = page(&format!("{i}"), 100 + i % 7);
            for _ in 0..2 {
                deflater.deflate(&page, &mut Vec::new()).unwrap();
            }
            assert!(deflater.kept_bytes <= KEPT_BYTES);
            assert!(deflater.seen.len() <= SEEN_KEYS);
        }
    }
}
