//! Credentials the emulator accepts, and their checks.
//!
//! - Petro.ai API keys: an App ID and a Secret Key (32 hex characters each),
//!   sent as HTTP Basic. Keys can be disabled, enabled and deleted; every
//!   change takes effect on the next request.
//! - Petro.ai user JWTs: HS256, signed with a per-start random secret, `exp`
//!   four hours after issue by default, checked against the emulator clock.
//! - Petra Security keys: `petra_<40 hex>` (organisation keys) and
//!   `petra_var_<40 hex>` (Multi-MSP keys), sent as `Authorization: Bearer`.
//!
//! Secrets are compared in constant time and never appear in messages.

use std::collections::HashMap;
use std::sync::Mutex;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use serde_json::{json, Value};

use super::error::ApiError;

/// Default lifetime of an issued JWT: four hours, as documented.
pub const JWT_LIFETIME_SECS: i64 = 4 * 3600;

/// `n` random bytes as lower-case hex.
pub fn random_hex(n: usize) -> String {
    let mut buf = vec![0u8; n];
    // SystemRandom only fails if the OS has no entropy source at all; fall
    // back to a time-based fill rather than panic.
    if SystemRandom::new().fill(&mut buf).is_err() {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        for (i, b) in buf.iter_mut().enumerate() {
            *b = (t >> ((i % 16) * 8)) as u8 ^ (i as u8).wrapping_mul(151);
        }
    }
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

struct ApiKey {
    secret: String,
    enabled: bool,
}

/// What a Petra key may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PetraKey {
    /// The organisation the key belongs to.
    pub org_id: String,
    /// True for a Multi-MSP (`petra_var_`) key.
    pub multi_msp: bool,
}

/// Who made a request: used as the rate-limit bucket key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Principal(pub String);

/// The emulator's credential registry.
pub struct Auth {
    api_keys: Mutex<HashMap<String, ApiKey>>,
    petra_keys: Mutex<HashMap<String, PetraKey>>,
    jwt_key: hmac::Key,
    /// Token for the `/_admin` surface (random per start).
    pub admin_token: String,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Auth { .. }")
    }
}

impl Default for Auth {
    fn default() -> Self {
        Self::new()
    }
}

impl Auth {
    /// An empty registry with a fresh JWT secret and admin token.
    pub fn new() -> Self {
        let secret = random_hex(32);
        Self {
            api_keys: Mutex::new(HashMap::new()),
            petra_keys: Mutex::new(HashMap::new()),
            jwt_key: hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes()),
            admin_token: random_hex(24),
        }
    }

    // ----- Petro.ai API keys -----

    /// Create an enabled API key; returns `(app_id, secret_key)`.
    pub fn create_api_key(&self) -> (String, String) {
        let app_id = random_hex(16);
        let secret = random_hex(16);
        let mut keys = self.api_keys.lock().unwrap_or_else(|e| e.into_inner());
        keys.insert(
            app_id.clone(),
            ApiKey {
                secret: secret.clone(),
                enabled: true,
            },
        );
        (app_id, secret)
    }

    /// Enable or disable a key; false if no such key.
    pub fn set_api_key_enabled(&self, app_id: &str, enabled: bool) -> bool {
        let mut keys = self.api_keys.lock().unwrap_or_else(|e| e.into_inner());
        match keys.get_mut(app_id) {
            Some(k) => {
                k.enabled = enabled;
                true
            }
            None => false,
        }
    }

    /// Delete a key; false if no such key.
    pub fn delete_api_key(&self, app_id: &str) -> bool {
        let mut keys = self.api_keys.lock().unwrap_or_else(|e| e.into_inner());
        keys.remove(app_id).is_some()
    }

    /// Issue a JWT valid for `expires_in` seconds from `now`.
    pub fn issue_jwt(&self, now: i64, expires_in: i64) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let claims = json!({
            "sub": "emulator-user@petro.ai",
            "iss": "petro-emulator",
            "iat": now,
            "exp": now + expires_in,
            "jti": random_hex(8),
        });
        let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
        let signing_input = format!("{header}.{payload}");
        let sig = hmac::sign(&self.jwt_key, signing_input.as_bytes());
        format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
    }

    fn check_jwt(&self, token: &str, now: i64) -> Result<Principal, ApiError> {
        let invalid = || ApiError::unauthorized("invalid token (bad format or signature)");
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid());
        };
        let header: Value = URL_SAFE_NO_PAD
            .decode(h)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(invalid)?;
        if header.get("alg").and_then(Value::as_str) != Some("HS256") {
            return Err(ApiError::unauthorized(
                "invalid token (only HS256 is accepted)",
            ));
        }
        let sig = URL_SAFE_NO_PAD.decode(s).map_err(|_| invalid())?;
        hmac::verify(&self.jwt_key, format!("{h}.{p}").as_bytes(), &sig).map_err(|_| invalid())?;
        let claims: Value = URL_SAFE_NO_PAD
            .decode(p)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(invalid)?;
        let exp = claims
            .get("exp")
            .and_then(Value::as_i64)
            .ok_or_else(invalid)?;
        if now >= exp {
            return Err(ApiError::unauthorized("token expired"));
        }
        let sub = claims.get("sub").and_then(Value::as_str).unwrap_or("user");
        Ok(Principal(format!("jwt:{sub}")))
    }

    /// Check a Petro.ai request's `Authorization` header (Basic key or Bearer JWT).
    pub fn check_petro(
        &self,
        authorization: Option<&str>,
        now: i64,
    ) -> Result<Principal, ApiError> {
        let Some(value) = authorization else {
            return Err(ApiError::unauthorized(
                "missing credentials: send the App ID and Secret Key as HTTP Basic auth, \
                 or a JWT as 'Authorization: Bearer <token>'",
            ));
        };
        let value = value.trim();
        let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
        if scheme.eq_ignore_ascii_case("bearer") {
            return self.check_jwt(rest.trim(), now);
        }
        if !scheme.eq_ignore_ascii_case("basic") {
            return Err(ApiError::unauthorized(
                "unsupported Authorization scheme (use Basic or Bearer)",
            ));
        }
        let decoded = STANDARD
            .decode(rest.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| ApiError::unauthorized("malformed Basic credentials"))?;
        let (app_id, secret) = decoded
            .split_once(':')
            .ok_or_else(|| ApiError::unauthorized("malformed Basic credentials"))?;
        let keys = self.api_keys.lock().unwrap_or_else(|e| e.into_inner());
        match keys.get(app_id) {
            Some(k) if ct_eq(k.secret.as_bytes(), secret.as_bytes()) => {
                if k.enabled {
                    Ok(Principal(format!("key:{app_id}")))
                } else {
                    Err(ApiError::unauthorized("API key is disabled"))
                }
            }
            _ => Err(ApiError::unauthorized(
                "invalid API key (unknown or deleted App ID, or wrong Secret Key)",
            )),
        }
    }

    // ----- Petra Security keys -----

    /// Create a Petra key for `org_id`; a `petra_var_` key when `multi_msp`.
    pub fn create_petra_key(&self, org_id: &str, multi_msp: bool) -> String {
        let key = if multi_msp {
            format!("petra_var_{}", random_hex(20))
        } else {
            format!("petra_{}", random_hex(20))
        };
        let mut keys = self.petra_keys.lock().unwrap_or_else(|e| e.into_inner());
        keys.insert(
            key.clone(),
            PetraKey {
                org_id: org_id.to_owned(),
                multi_msp,
            },
        );
        key
    }

    /// Delete a Petra key; false if no such key.
    pub fn delete_petra_key(&self, key: &str) -> bool {
        let mut keys = self.petra_keys.lock().unwrap_or_else(|e| e.into_inner());
        keys.remove(key).is_some()
    }

    /// Check a Petra request's `Authorization` header.
    pub fn check_petra(
        &self,
        authorization: Option<&str>,
    ) -> Result<(Principal, PetraKey), ApiError> {
        let Some(value) = authorization else {
            return Err(ApiError::unauthorized(
                "missing API key: send 'Authorization: Bearer <key>'",
            ));
        };
        let value = value.trim();
        let Some(key) = value
            .split_once(' ')
            .filter(|(s, _)| s.eq_ignore_ascii_case("bearer"))
            .map(|(_, k)| k.trim())
        else {
            return Err(ApiError::unauthorized(
                "the Authorization header must be 'Bearer <key>' (the Bearer prefix is missing)",
            ));
        };
        let keys = self.petra_keys.lock().unwrap_or_else(|e| e.into_inner());
        let found = keys
            .iter()
            .find(|(k, _)| ct_eq(k.as_bytes(), key.as_bytes()))
            .map(|(k, v)| (k.clone(), v.clone()));
        match found {
            Some((k, v)) => Ok((Principal(format!("petra:{}", &k[..k.len().min(16)])), v)),
            None => Err(ApiError::unauthorized(
                "invalid, deleted or unknown API key",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(id: &str, secret: &str) -> String {
        format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
    }

    #[test]
    fn api_key_lifecycle() {
        let a = Auth::new();
        let (id, secret) = a.create_api_key();
        assert_eq!(id.len(), 32);
        assert_eq!(secret.len(), 32);
        assert!(a.check_petro(Some(&basic(&id, &secret)), 0).is_ok());
        assert!(a.check_petro(Some(&basic(&id, "nope")), 0).is_err());
        assert!(a.check_petro(None, 0).is_err());
        assert!(a.set_api_key_enabled(&id, false));
        let e = a.check_petro(Some(&basic(&id, &secret)), 0).err();
        assert!(e.is_some_and(|e| e.message.contains("disabled")));
        assert!(a.set_api_key_enabled(&id, true));
        assert!(a.delete_api_key(&id));
        assert!(a.check_petro(Some(&basic(&id, &secret)), 0).is_err());
    }

    #[test]
    fn jwt_expiry_and_tamper() {
        let a = Auth::new();
        let t = a.issue_jwt(1000, JWT_LIFETIME_SECS);
        let h = format!("Bearer {t}");
        assert!(a.check_petro(Some(&h), 1000).is_ok());
        assert!(a.check_petro(Some(&h), 1000 + JWT_LIFETIME_SECS).is_err());
        let mut tampered = t.clone();
        tampered.pop();
        tampered.push(if t.ends_with('A') { 'B' } else { 'A' });
        assert!(a
            .check_petro(Some(&format!("Bearer {tampered}")), 1000)
            .is_err());
        // A token from another emulator does not verify here.
        let other = Auth::new().issue_jwt(1000, 100);
        assert!(a
            .check_petro(Some(&format!("Bearer {other}")), 1000)
            .is_err());
    }

    #[test]
    fn petra_keys() {
        let a = Auth::new();
        let k = a.create_petra_key("org_1", false);
        let v = a.create_petra_key("org_1", true);
        assert!(k.starts_with("petra_") && !k.starts_with("petra_var_"));
        assert!(v.starts_with("petra_var_"));
        let ok = a.check_petra(Some(&format!("Bearer {k}")));
        assert!(ok.is_ok_and(|(_, p)| !p.multi_msp));
        assert!(a.check_petra(Some(&k)).is_err());
        assert!(a.delete_petra_key(&k));
        assert!(a.check_petra(Some(&format!("Bearer {k}"))).is_err());
    }
}
