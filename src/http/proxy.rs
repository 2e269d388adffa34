//! Proxy selection, merged from `proxies=` and the environment the way
//! requests does it.
//!
//! reqwest stops reading the environment as soon as one proxy is set
//! explicitly, so petro does the merge itself and hands reqwest one resolved
//! proxy (or none) per request: explicit entries win per key; for the
//! request's scheme, `HTTP(S)_PROXY` / `ALL_PROXY` fill in when
//! no explicit entry exists and `NO_PROXY` does not exclude the host.
//! Lookup order of keys is requests': `scheme://host`, `scheme`,
//! `all://host`, `all`.

use std::net::IpAddr;

use url::Url;

/// Read a proxy variable: lower case wins over upper case, as in urllib.
fn env_var(name: &str) -> Option<String> {
    env_pair(&name.to_ascii_lowercase(), &name.to_ascii_uppercase())
}

/// [`env_var`] for a name given in both cases (no case conversion: these are
/// read for every request). Trimmed; empty counts as unset.
fn env_pair(lower: &str, upper: &str) -> Option<String> {
    let value = std::env::var(lower)
        .ok()
        .or_else(|| std::env::var(upper).ok())?;
    match value.trim() {
        "" => None,
        t if t.len() == value.len() => Some(value),
        t => Some(t.to_string()),
    }
}

/// The environment's proxy variables, read once for many requests (a
/// `request_many` batch reads them once, not eight `getenv`s per request).
#[derive(Debug)]
pub struct ProxyEnv {
    http: Option<String>,
    https: Option<String>,
    all: Option<String>,
    no_proxy: Option<String>,
}

impl ProxyEnv {
    /// Read `HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY` and `NO_PROXY` now.
    pub fn read() -> Self {
        ProxyEnv {
            http: env_pair("http_proxy", "HTTP_PROXY"),
            https: env_pair("https_proxy", "HTTPS_PROXY"),
            all: env_pair("all_proxy", "ALL_PROXY"),
            no_proxy: env_pair("no_proxy", "NO_PROXY"),
        }
    }

    /// The proxy for a scheme, falling back to ALL_PROXY.
    fn proxy_for(&self, scheme: &str) -> Option<String> {
        match scheme {
            "http" => self.http.clone().or_else(|| self.all.clone()),
            "https" => self.https.clone().or_else(|| self.all.clone()),
            _ => env_var(&format!("{scheme}_proxy")).or_else(|| self.all.clone()),
        }
    }
}

/// True when `NO_PROXY`-style `list` excludes the URL's host.
pub fn bypass(url: &Url, list: &str) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    let port = url.port_or_known_default();
    for entry in list
        .split([',', ' '])
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        if entry == "*" {
            return true;
        }
        let entry = entry.to_ascii_lowercase();
        // CIDR block or plain IP.
        if let Ok(ip) = host.parse::<IpAddr>() {
            if let Some((net, bits)) = entry.split_once('/') {
                if let (Ok(net), Ok(bits)) = (net.parse::<IpAddr>(), bits.parse::<u8>()) {
                    if in_cidr(ip, net, bits) {
                        return true;
                    }
                }
                continue;
            }
            if entry.parse::<IpAddr>().map(|e| e == ip).unwrap_or(false) {
                return true;
            }
            continue;
        }
        // host[:port], with an optional leading "." or "*."
        let (name, entry_port) = match entry.rsplit_once(':') {
            Some((n, p)) if p.chars().all(|c| c.is_ascii_digit()) => (n, p.parse::<u16>().ok()),
            _ => (entry.as_str(), None),
        };
        if let Some(p) = entry_port {
            if Some(p) != port {
                continue;
            }
        }
        let name = name.trim_start_matches("*.").trim_start_matches('.');
        if host == name || host.ends_with(&format!(".{name}")) {
            return true;
        }
    }
    false
}

fn in_cidr(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) if bits <= 32 => {
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            (u32::from(a) & mask) == (u32::from(b) & mask)
        }
        (IpAddr::V6(a), IpAddr::V6(b)) if bits <= 128 => {
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits)
            };
            (u128::from(a) & mask) == (u128::from(b) & mask)
        }
        _ => false,
    }
}

/// Give a scheme-less proxy address requests' default `http://`.
fn normalise(proxy: &str) -> String {
    if proxy.contains("://") {
        proxy.to_string()
    } else {
        format!("http://{proxy}")
    }
}

/// The `proxies=` entry for `key` (keys compared without case).
fn lookup_in(explicit: &[(String, String)], key: &str) -> Option<String> {
    explicit
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v.clone())
}

/// The proxy URL to use for `url`, or None for a direct connection.
///
/// `explicit` is the `proxies=` mapping (keys as in requests; a `no_proxy`
/// key replaces the environment's NO_PROXY).
///
/// `env`: the environment as read earlier for a batch; None reads it now.
pub fn resolve(
    url: &Url,
    explicit: &[(String, String)],
    trust_env: bool,
    env: Option<&ProxyEnv>,
) -> Option<String> {
    if explicit.is_empty() && !trust_env {
        return None;
    }
    let scheme = url.scheme();
    let env_fill = || {
        if !trust_env {
            return None;
        }
        let fresh;
        let env = match env {
            Some(e) => e,
            None => {
                fresh = ProxyEnv::read();
                &fresh
            }
        };
        let no_proxy = lookup_in(explicit, "no_proxy").or_else(|| env.no_proxy.clone());
        if let Some(list) = no_proxy {
            if bypass(url, &list) {
                return None;
            }
        }
        env.proxy_for(scheme)
    };
    if explicit.is_empty() {
        // Only the environment can name a proxy: no keys to build.
        return env_fill().map(|v| normalise(&v));
    }
    let lookup = |key: &str| lookup_in(explicit, key);
    let host = url.host_str().unwrap_or("").to_ascii_lowercase();
    let keys = [
        format!("{scheme}://{host}"),
        scheme.to_string(),
        format!("all://{host}"),
        "all".to_string(),
    ];
    // requests only fills the bare scheme key from the environment, so an
    // explicit `scheme://host` or the env scheme key are checked in order.
    for (i, key) in keys.iter().enumerate() {
        if let Some(v) = lookup(key) {
            return (!v.trim().is_empty()).then(|| normalise(v.trim()));
        }
        if i == 1 {
            if let Some(v) = env_fill() {
                return Some(normalise(&v));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> Url {
        Url::parse(s).unwrap_or_else(|e| unreachable!("{e}"))
    }

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn explicit_key_order() {
        let p = pairs(&[
            ("all", "http://all:1"),
            ("https", "p2:2"),
            ("https://a.com", "http://host:3"),
        ]);
        assert_eq!(
            resolve(&u("https://a.com/x"), &p, false, None).as_deref(),
            Some("http://host:3")
        );
        assert_eq!(
            resolve(&u("https://b.com/x"), &p, false, None).as_deref(),
            Some("http://p2:2")
        );
        assert_eq!(
            resolve(&u("http://b.com/x"), &p, false, None).as_deref(),
            Some("http://all:1")
        );
        assert_eq!(resolve(&u("http://b.com/x"), &[], false, None), None);
    }

    #[test]
    fn a_snapshot_of_the_environment_decides_as_the_environment_would() {
        let env = ProxyEnv {
            http: Some("http://hp:1".into()),
            https: None,
            all: Some("all:2".into()),
            no_proxy: Some("skip.example".into()),
        };
        let at =
            |url: &str, explicit: &[(String, String)]| resolve(&u(url), explicit, true, Some(&env));
        assert_eq!(at("http://a.com/", &[]).as_deref(), Some("http://hp:1"));
        assert_eq!(at("https://a.com/", &[]).as_deref(), Some("http://all:2"));
        assert_eq!(at("http://skip.example/", &[]), None);
        // An explicit no_proxy replaces the environment's.
        let own = pairs(&[("no_proxy", "a.com")]);
        assert_eq!(at("http://a.com/", &own), None);
        assert_eq!(
            at("http://skip.example/", &own).as_deref(),
            Some("http://hp:1")
        );
        // trust_env=False ignores it; explicit entries still apply.
        assert_eq!(resolve(&u("http://a.com/"), &[], false, Some(&env)), None);
        let p = pairs(&[("http", "http://mine:3")]);
        assert_eq!(
            resolve(&u("http://a.com/"), &p, false, Some(&env)).as_deref(),
            Some("http://mine:3")
        );
    }

    #[test]
    fn no_proxy_matching() {
        assert!(bypass(&u("http://api.example.com/"), "example.com"));
        assert!(bypass(&u("http://api.example.com/"), ".example.com"));
        assert!(bypass(&u("http://example.com/"), "*.example.com"));
        assert!(!bypass(&u("http://badexample.com/"), "example.com"));
        assert!(bypass(&u("http://10.1.2.3/"), "10.0.0.0/8"));
        assert!(!bypass(&u("http://11.1.2.3/"), "10.0.0.0/8"));
        assert!(bypass(&u("http://127.0.0.1:8080/"), "localhost,127.0.0.1"));
        assert!(bypass(&u("http://host:8080/"), "host:8080"));
        assert!(!bypass(&u("http://host:9090/"), "host:8080"));
        assert!(bypass(&u("http://anything/"), "*"));
        assert!(bypass(&u("http://[::1]:80/"), "::1"));
    }
}
