//! The import rules of ARCHITECTURE.md, checked on the source: `src/web`
//! reaches the store, the adapters (payment, registration, mail) and the
//! sandbox only through `src/application`, and `src/domain` depends on
//! nothing outside itself and does no I/O. A failure names each offending file:line.

use std::path::{Path, PathBuf};

/// What `src/web` may not name: the layers below `src/application`.
const NOT_FROM_WEB: &[&str] = &["store", "sandbox", "payment", "registration", "mail"];

/// Crates (or parts of them) that do I/O or belong to another layer; the
/// domain names none of them.
const NOT_IN_DOMAIN: &[&[&str]] = &[
    &["actix_web"],
    &["actix_session"],
    &["actix_rt"],
    &["askama"],
    &["diesel"],
    &["diesel_async"],
    &["diesel_migrations"],
    &["reqwest"],
    &["redis"],
    &["tokio", "net"],
    &["tokio", "fs"],
    &["std", "fs"],
    &["std", "net"],
];

#[test]
fn web_reaches_storage_and_adapters_only_through_application() {
    let files = sources_under("web");
    assert!(files.len() >= 5, "src/web not found: {files:?}");
    let violations: Vec<String> = files
        .iter()
        .flat_map(|(path, source)| web_violations(path, source))
        .collect();
    assert!(
        violations.is_empty(),
        "src/web must go through a use case in src/application:\n{}",
        violations.join("\n")
    );
}

/// HTTP stays in `src/web`: use cases return their own outcomes and
/// errors, and the status code is chosen by the page.
const NOT_IN_APPLICATION: &[&[&str]] = &[&["actix_web"], &["actix_session"], &["askama"]];

#[test]
fn application_knows_no_http() {
    let files = sources_under("application");
    assert!(files.len() >= 10, "src/application not found: {files:?}");
    let violations: Vec<String> = files
        .iter()
        .flat_map(|(path, source)| application_violations(path, source))
        .collect();
    assert!(
        violations.is_empty(),
        "src/application must not name web or HTTP crates:\n{}",
        violations.join("\n")
    );
}

fn application_violations(path: &Path, source: &str) -> Vec<String> {
    let tokens = tokenize(&strip_comments_and_literals(source));
    let module = module_path(path);
    let mut found = Vec::new();
    for used in paths(&tokens, &module) {
        let problem = match &used.resolved {
            Some(Resolved::InCrate(segments))
                if segments.first().map(String::as_str) == Some("web") =>
            {
                Some(format!("names crate::{}", segments.join("::")))
            }
            Some(Resolved::External(segments)) => NOT_IN_APPLICATION
                .iter()
                .find(|banned| banned.iter().zip(segments).all(|(b, s)| *b == s))
                .map(|_| format!("names {}", segments.join("::"))),
            _ => None,
        };
        if let Some(problem) = problem {
            found.push(format!("{}:{}: {problem}", path.display(), used.line));
        }
    }
    found
}

#[test]
fn domain_depends_on_nothing_outside_itself() {
    let files = sources_under("domain");
    assert!(files.len() >= 10, "src/domain not found: {files:?}");
    let violations: Vec<String> = files
        .iter()
        .flat_map(|(path, source)| domain_violations(path, source))
        .collect();
    assert!(
        violations.is_empty(),
        "src/domain must not depend on other layers or do I/O:\n{}",
        violations.join("\n")
    );
}

/// The checker itself finds what it must, so the two tests above cannot
/// pass by overlooking a path.
#[test]
fn the_checker_sees_every_way_of_naming_a_module() {
    let web = Path::new("src/web/shop.rs");
    let found = |source: &str| web_violations(web, source);
    assert_eq!(found("use crate::store::Store;").len(), 1);
    assert_eq!(found("use crate::{domain::cart::Cart, sandbox};").len(), 1);
    assert_eq!(
        found("use crate::{payment::{hosted::CODE, offline}, store as s};").len(),
        3
    );
    assert_eq!(found("fn f() { crate::store::orders::f(); }").len(), 1);
    assert_eq!(found("use super::super::store::Store;").len(), 1);
    assert_eq!(found("let p = shop.store().list_products();").len(), 1);
    assert_eq!(
        found("mod tests {\n    use super::super::super::registration::X;\n}").len(),
        1
    );
    let line = &found("//! crate::store\n\nuse crate::store::Store;")[0];
    assert!(line.starts_with("src/web/shop.rs:3:"), "{line}");
    for fine in [
        "use crate::application::{Shop, cart};",
        "use super::session::ShopSession;",
        "// crate::store::Store in a comment",
        "let s = \"crate::store::Store\";",
        "let c = '\"'; let s = \"crate::store\";",
        "use actix_session::storage::SessionStore;",
        "store.load(key).await",
        "fn f<'a>(x: &'a str) -> &'a str { x }",
    ] {
        assert_eq!(found(fine), Vec::<String>::new(), "{fine}");
    }

    let domain = Path::new("src/domain/placeorder/new.rs");
    let found = |source: &str| domain_violations(domain, source);
    assert_eq!(found("use crate::error::AppError;").len(), 1);
    assert_eq!(found("use super::super::super::store::Store;").len(), 1);
    assert_eq!(found("use reqwest::Client;").len(), 1);
    assert_eq!(found("use diesel_async::RunQueryDsl;").len(), 1);
    assert_eq!(found("let s = tokio::net::TcpStream::connect(a);").len(), 1);
    assert_eq!(
        found("use tokio::{net::TcpListener, sync::Mutex};").len(),
        1
    );
    assert_eq!(found("use ::actix_web::HttpResponse;").len(), 1);
    for fine in [
        "use crate::domain::money::Money;",
        "use super::super::cart::Cart;",
        "use super::{Context, State};",
        "#[tokio::test] async fn t() {}",
        "use std::fmt;",
        "use crate::{domain::order::Order};",
    ] {
        assert_eq!(found(fine), Vec::<String>::new(), "{fine}");
    }
    let root = Path::new("src/domain/mod.rs");
    assert_eq!(domain_violations(root, "use super::store::Store;").len(), 1);

    let application = Path::new("src/application/cart.rs");
    let found = |source: &str| application_violations(application, source);
    assert_eq!(found("use actix_web::HttpResponse;").len(), 1);
    assert_eq!(found("use crate::web::error::PageError;").len(), 1);
    assert_eq!(found("use super::super::web::layout;").len(), 1);
    assert_eq!(found("fn f() -> askama::Result<()> { Ok(()) }").len(), 1);
    for fine in [
        "use crate::store::carts::LineChange;",
        "use super::Shop;",
        "use crate::domain::cart::Cart;",
    ] {
        assert_eq!(found(fine), Vec::<String>::new(), "{fine}");
    }
}

fn web_violations(path: &Path, source: &str) -> Vec<String> {
    let tokens = tokenize(&strip_comments_and_literals(source));
    let module = module_path(path);
    let mut found = Vec::new();
    for used in paths(&tokens, &module) {
        if let Some(Resolved::InCrate(segments)) = &used.resolved
            && let Some(top) = segments.first()
            && NOT_FROM_WEB.contains(&top.as_str())
        {
            found.push(format!(
                "{}:{}: names crate::{}",
                path.display(),
                used.line,
                segments.join("::")
            ));
        }
    }
    // `Shop::store()` exists for the tests; web must not reach through it.
    for pair in tokens.windows(2) {
        if pair[0].text == "." && pair[1].text == "store" {
            found.push(format!(
                "{}:{}: reaches the store through `.store`",
                path.display(),
                pair[1].line
            ));
        }
    }
    found.sort_by_key(|v| line_of(v));
    found
}

fn domain_violations(path: &Path, source: &str) -> Vec<String> {
    let tokens = tokenize(&strip_comments_and_literals(source));
    let module = module_path(path);
    let mut found = Vec::new();
    for used in paths(&tokens, &module) {
        let problem = match &used.resolved {
            Some(Resolved::InCrate(segments))
                if segments.first().map(String::as_str) != Some("domain") =>
            {
                Some(format!("names crate::{}", segments.join("::")))
            }
            Some(Resolved::External(segments)) => NOT_IN_DOMAIN
                .iter()
                .find(|banned| {
                    segments.len() >= banned.len()
                        && banned.iter().zip(segments).all(|(b, s)| *b == s)
                })
                .map(|_| format!("names {}", segments.join("::"))),
            _ => None,
        };
        if let Some(problem) = problem {
            found.push(format!("{}:{}: {problem}", path.display(), used.line));
        }
    }
    found
}

fn line_of(violation: &str) -> usize {
    violation
        .split(':')
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Every `.rs` file under `src/<layer>`, with its path relative to the
/// crate (`src/web/shop.rs`).
fn sources_under(layer: &str) -> Vec<(PathBuf, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    let mut dirs = vec![root.join("src").join(layer)];
    while let Some(dir) = dirs.pop() {
        let entries =
            std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()));
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let source = std::fs::read_to_string(&path)
                    .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
                files.push((path.strip_prefix(root).unwrap().to_owned(), source));
            }
        }
    }
    files.sort();
    files
}

/// The module a file under `src/` defines: `src/web/shop.rs` is
/// `["web", "shop"]`, `src/domain/placeorder/mod.rs` is
/// `["domain", "placeorder"]`.
fn module_path(path: &Path) -> Vec<String> {
    let mut parts: Vec<String> = path
        .with_extension("")
        .iter()
        .skip(1)
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
        parts.pop();
    }
    parts
}

/// The source with comments, string and char literals blanked out, line
/// breaks kept, so text inside them is not read as code.
fn strip_comments_and_literals(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
        } else if c == 'r' && (next == Some('"') || next == Some('#')) && is_raw_string(&chars, i) {
            let hashes = chars[i + 1..].iter().take_while(|&&h| h == '#').count();
            let closing: String = std::iter::once('"')
                .chain("#".repeat(hashes).chars())
                .collect();
            let start = i + 2 + hashes;
            let body: String = chars[start..].iter().collect();
            let end = body
                .find(&closing)
                .map(|at| start + body[..at].chars().count() + closing.len())
                .unwrap_or(chars.len());
            out.extend(chars[i..end].iter().map(|&c| blank(c)));
            i = end;
        } else if c == '"' {
            out.push(' ');
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if i < chars.len() {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
            out.push(' ');
            i += 1;
        } else if c == '\'' && is_char_literal(&chars, i) {
            out.push(' ');
            i += 1;
            while i < chars.len() && chars[i] != '\'' {
                if chars[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                out.push(' ');
                i += 1;
            }
            out.push(' ');
            i += 1;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// `r"…"` or `r#"…"#`, not an identifier ending in r.
fn is_raw_string(chars: &[char], at: usize) -> bool {
    let starts_word = at == 0 || !(chars[at - 1].is_alphanumeric() || chars[at - 1] == '_');
    let hashes = chars[at + 1..].iter().take_while(|&&h| h == '#').count();
    starts_word && chars.get(at + 1 + hashes) == Some(&'"')
}

/// `'x'` or `'\n'`, not a lifetime such as `'a`.
fn is_char_literal(chars: &[char], at: usize) -> bool {
    match chars.get(at + 1) {
        Some('\\') => true,
        Some(_) => chars.get(at + 2) == Some(&'\''),
        None => false,
    }
}

#[derive(Debug, Clone)]
struct Token {
    text: String,
    line: usize,
}

/// Identifiers, `::`, and single punctuation characters.
fn tokenize(code: &str) -> Vec<Token> {
    let chars: Vec<char> = code.chars().collect();
    let mut tokens = Vec::new();
    let mut line = 1;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            tokens.push(Token {
                text: chars[start..i].iter().collect(),
                line,
            });
        } else if c == ':' && chars.get(i + 1) == Some(&':') {
            tokens.push(Token {
                text: "::".into(),
                line,
            });
            i += 2;
        } else {
            tokens.push(Token {
                text: c.to_string(),
                line,
            });
            i += 1;
        }
    }
    tokens
}

fn is_ident(text: &str) -> bool {
    text.chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_')
}

#[derive(Debug, Clone, PartialEq)]
enum Resolved {
    /// A path inside this crate, from its root: `["store", "Store"]`.
    InCrate(Vec<String>),
    /// A path into another crate: `["reqwest", "Client"]`.
    External(Vec<String>),
}

#[derive(Debug)]
struct UsedPath {
    line: usize,
    /// `None` for a path that starts at a name in scope (`money::Money`).
    resolved: Option<Resolved>,
}

/// Every path in the code that starts at the crate root, at a parent
/// module, or at another crate's name, with `{…}` groups spelled out.
/// Inline `mod name { … }` blocks count for `super`.
fn paths(tokens: &[Token], file_module: &[String]) -> Vec<UsedPath> {
    let mut found = Vec::new();
    let mut module: Vec<String> = file_module.to_vec();
    // Inline modules open at these brace depths.
    let mut inline: Vec<usize> = Vec::new();
    let mut depth: usize = 0;
    let mut i = 0;
    while i < tokens.len() {
        let text = tokens[i].text.as_str();
        match text {
            "{" => depth += 1,
            "}" => {
                depth = depth.saturating_sub(1);
                if inline.last() == Some(&depth) {
                    inline.pop();
                    module.pop();
                }
            }
            "mod" if tokens.get(i + 2).is_some_and(|t| t.text == "{") => {
                module.push(tokens[i + 1].text.clone());
                inline.push(depth);
                depth += 1;
                i += 3;
                continue;
            }
            _ => {}
        }
        let after_path = i > 0 && tokens[i - 1].text == "::";
        let leading_colons = text == "::"
            && (i == 0
                || !is_ident(&tokens[i - 1].text)
                || KEYWORDS.contains(&tokens[i - 1].text.as_str()));
        let starts_path = (is_ident(text)
            && !KEYWORDS.contains(&text)
            && !after_path
            && next_is(tokens, i, "::"))
            || leading_colons;
        if !starts_path {
            i += 1;
            continue;
        }
        let start = if leading_colons { i + 1 } else { i };
        let (leaves, end) = path_leaves(tokens, start);
        for leaf in leaves {
            found.push(UsedPath {
                line: tokens[start].line,
                resolved: resolve(&leaf, &module, leading_colons),
            });
        }
        i = end.max(i + 1);
    }
    found
}

/// Words after which `::name` starts a path at another crate.
const KEYWORDS: &[&str] = &[
    "use", "return", "in", "dyn", "impl", "match", "if", "else", "for", "where", "as",
];

fn next_is(tokens: &[Token], i: usize, text: &str) -> bool {
    tokens.get(i + 1).is_some_and(|t| t.text == text)
}

/// The paths a (possibly grouped) path at `start` names, and where it ends.
fn path_leaves(tokens: &[Token], start: usize) -> (Vec<Vec<String>>, usize) {
    let mut prefix = Vec::new();
    let mut i = start;
    loop {
        match tokens.get(i).map(|t| t.text.as_str()) {
            Some(text) if is_ident(text) => {
                prefix.push(text.to_owned());
                i += 1;
                if next_is(tokens, i - 1, "::") {
                    i += 1;
                } else {
                    return (vec![prefix], i);
                }
            }
            Some("{") => {
                let mut leaves = Vec::new();
                i += 1;
                while let Some(token) = tokens.get(i) {
                    match token.text.as_str() {
                        "}" => {
                            i += 1;
                            break;
                        }
                        "," => i += 1,
                        text if is_ident(text) || text == "{" => {
                            let (inner, end) = path_leaves(tokens, i);
                            for leaf in inner {
                                let mut full = prefix.clone();
                                full.extend(leaf.into_iter().filter(|s| s != "self"));
                                leaves.push(full);
                            }
                            i = end;
                            // `as alias`
                            if tokens.get(i).is_some_and(|t| t.text == "as") {
                                i += 2;
                            }
                        }
                        _ => i += 1,
                    }
                }
                return (leaves, i);
            }
            // `*`, `<…>` or the end: the path so far.
            _ => return (vec![prefix], i),
        }
    }
}

/// Where a path leads from the module it is written in.
fn resolve(path: &[String], module: &[String], leading_colons: bool) -> Option<Resolved> {
    let first = path.first()?;
    if leading_colons {
        return Some(Resolved::External(path.to_vec()));
    }
    match first.as_str() {
        "crate" => Some(Resolved::InCrate(path[1..].to_vec())),
        "self" => Some(Resolved::InCrate(
            module
                .iter()
                .cloned()
                .chain(path[1..].iter().cloned())
                .collect(),
        )),
        "super" => {
            let ups = path.iter().take_while(|s| *s == "super").count();
            let base = &module[..module.len().saturating_sub(ups)];
            Some(Resolved::InCrate(
                base.iter()
                    .cloned()
                    .chain(path[ups..].iter().cloned())
                    .collect(),
            ))
        }
        // A name in scope (a child module, an import, a type) or another
        // crate: only the latter's names matter here.
        _ => Some(Resolved::External(path.to_vec())),
    }
}
