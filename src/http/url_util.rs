//! URL parsing with requests' error classes, and redaction for messages.

use url::Url;

use super::error::{Error, ErrorKind, Result};

thread_local! {
    /// The last URL this thread parsed well: batches and paging loops send many
    /// requests to one URL, and parsing (with IDNA checks) is a few microseconds.
    static LAST: std::cell::RefCell<Option<(Box<str>, Url)>> = const { std::cell::RefCell::new(None) };
}

/// Parse an absolute http(s) URL the way requests judges it.
pub fn parse(raw: &str) -> Result<Url> {
    let hit = LAST.with(|last| {
        last.try_borrow().ok().and_then(|l| {
            l.as_ref()
                .filter(|(k, _)| &**k == raw)
                .map(|(_, u)| u.clone())
        })
    });
    if let Some(url) = hit {
        return Ok(url);
    }
    let url = parse_uncached(raw)?;
    LAST.with(|last| {
        if let Ok(mut l) = last.try_borrow_mut() {
            *l = Some((raw.into(), url.clone()));
        }
    });
    Ok(url)
}

fn parse_uncached(raw: &str) -> Result<Url> {
    let trimmed = raw.trim_start();
    match Url::parse(trimmed) {
        Ok(url) => {
            match url.scheme() {
                "http" | "https" => {}
                _ => {
                    return Err(Error::new(
                        ErrorKind::InvalidSchema,
                        format!("No connection adapters were found for '{}'", redact(&url)),
                    ))
                }
            }
            if url.host_str().map(str::is_empty).unwrap_or(true) {
                return Err(Error::new(
                    ErrorKind::InvalidUrl,
                    format!("Invalid URL '{}': No host supplied", redact(&url)),
                ));
            }
            Ok(url)
        }
        Err(url::ParseError::RelativeUrlWithoutBase) => Err(Error::new(
            ErrorKind::MissingSchema,
            format!(
                "Invalid URL '{}': No scheme supplied. Perhaps you meant https://{}?",
                redact_str(trimmed),
                redact_str(trimmed)
            ),
        )),
        Err(e) => Err(Error::new(
            ErrorKind::InvalidUrl,
            format!("Invalid URL '{}': {e}", redact_str(trimmed)),
        )),
    }
}

/// The URL without any password in its userinfo.
pub fn redact(url: &Url) -> String {
    if url.password().is_none() {
        return url.to_string();
    }
    let mut clean = url.clone();
    let _ = clean.set_password(Some("***"));
    clean.to_string()
}

/// Redact `user:password@` in a URL-ish string that did not parse.
pub fn redact_str(raw: &str) -> String {
    let Some(scheme_end) = raw.find("://").map(|i| i + 3) else {
        return raw.to_string();
    };
    let rest = &raw[scheme_end..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    match authority.rfind('@') {
        Some(at) => {
            let userinfo = &authority[..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{}:***@{}", &raw[..scheme_end], user, &rest[at + 1..])
        }
        None => raw.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_like_requests() {
        assert_eq!(
            parse("example.com/x").map_err(|e| e.kind).err(),
            Some(ErrorKind::MissingSchema)
        );
        assert_eq!(
            parse("ftp://example.com").map_err(|e| e.kind).err(),
            Some(ErrorKind::InvalidSchema)
        );
        assert_eq!(
            parse("http://").map_err(|e| e.kind).err(),
            Some(ErrorKind::InvalidUrl)
        );
        assert_eq!(
            parse("http://[::1").map_err(|e| e.kind).err(),
            Some(ErrorKind::InvalidUrl)
        );
        assert!(parse("https://acme.petro.ai/api/data").is_ok());
    }

    #[test]
    fn the_last_url_cache_gives_what_parsing_gives() {
        let a = "http://127.0.0.1:8080/api/data/query?x=1";
        let b = "https://acme.petro.ai/api/Wells";
        for raw in [a, a, b, a, "  http://h/x", "  http://h/x", "http://h/ü"] {
            let cached = parse(raw).map(|u| u.to_string()).ok();
            let fresh = parse_uncached(raw).map(|u| u.to_string()).ok();
            assert_eq!(cached, fresh, "{raw}");
        }
        // An error is never cached as a success, nor a success as an error.
        assert!(parse(a).is_ok());
        assert!(parse("ftp://x").is_err());
        assert!(parse("ftp://x").is_err());
        assert!(parse(a).is_ok());
    }

    #[test]
    fn redacts_passwords() {
        let url = Url::parse("http://user:s3cret@host/x").unwrap_or_else(|e| unreachable!("{e}"));
        assert!(!redact(&url).contains("s3cret"));
        assert!(!redact_str("http://user:s3cret@host:bad/x").contains("s3cret"));
        let err = parse("http://user:s3cret@[::1/x")
            .err()
            .map(|e| e.message)
            .unwrap_or_default();
        assert!(!err.contains("s3cret"), "{err}");
    }
}
