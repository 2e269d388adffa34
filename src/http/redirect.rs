//! Redirect rules: requests' method changes and credential stripping.

use http::{HeaderMap, Method};
use url::Url;

/// Status codes that carry a `Location` to follow.
pub fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// The method for the next hop (requests' `rebuild_method`).
pub fn next_method(status: u16, method: &Method) -> Method {
    if status == 303 && method != Method::HEAD {
        return Method::GET;
    }
    if status == 302 && method != Method::HEAD {
        return Method::GET;
    }
    if status == 301 && method == Method::POST {
        return Method::GET;
    }
    method.clone()
}

/// Whether credentials must be dropped going from `old` to `new`
/// (requests' `should_strip_auth`): another host, port or scheme, except
/// http to https on the default ports.
pub fn should_strip_auth(old: &Url, new: &Url) -> bool {
    if old.host_str() != new.host_str() {
        return true;
    }
    if old.scheme() == "http"
        && matches!(old.port(), None | Some(80))
        && new.scheme() == "https"
        && matches!(new.port(), None | Some(443))
    {
        return false;
    }
    let changed_scheme = old.scheme() != new.scheme();
    let changed_port = old.port_or_known_default() != new.port_or_known_default();
    changed_scheme || changed_port
}

/// Remove the headers that go with a body when a redirect turns the request into a GET.
pub fn drop_body_headers(headers: &mut HeaderMap) {
    for name in ["content-type", "content-length", "transfer-encoding"] {
        headers.remove(name);
    }
}

/// Remove credentials: `Authorization`, `Proxy-Authorization`, `Cookie` and
/// any header the caller marked as a credential.
pub fn strip_credentials(headers: &mut HeaderMap, extra: &[String]) {
    for name in ["authorization", "proxy-authorization", "cookie"] {
        headers.remove(name);
    }
    for name in extra {
        headers.remove(name.as_str());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> Url {
        Url::parse(s).unwrap_or_else(|e| unreachable!("{e}"))
    }

    #[test]
    fn strip_rules_match_requests() {
        assert!(should_strip_auth(&u("http://a.com/"), &u("http://b.com/")));
        assert!(!should_strip_auth(
            &u("http://a.com/"),
            &u("https://a.com/")
        ));
        assert!(!should_strip_auth(
            &u("http://a.com:80/"),
            &u("https://a.com:443/")
        ));
        assert!(should_strip_auth(
            &u("http://a.com:8080/"),
            &u("https://a.com/")
        ));
        assert!(should_strip_auth(&u("https://a.com/"), &u("http://a.com/")));
        assert!(should_strip_auth(
            &u("http://a.com:1/"),
            &u("http://a.com:2/")
        ));
        assert!(!should_strip_auth(
            &u("http://a.com/x"),
            &u("http://a.com/y")
        ));
    }

    #[test]
    fn method_rules_match_requests() {
        assert_eq!(next_method(302, &Method::POST), Method::GET);
        assert_eq!(next_method(303, &Method::PUT), Method::GET);
        assert_eq!(next_method(301, &Method::POST), Method::GET);
        assert_eq!(next_method(301, &Method::PUT), Method::PUT);
        assert_eq!(next_method(307, &Method::POST), Method::POST);
        assert_eq!(next_method(302, &Method::HEAD), Method::HEAD);
    }
}
