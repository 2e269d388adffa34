//! TLS configuration: trust roots, verification switch, client certificates.
//!
//! rustls with the *ring* provider (aws-lc-rs would need cmake). Trust roots
//! for `verify=True` are the OS store (rustls-native-certs, which also honours
//! `SSL_CERT_FILE` / `SSL_CERT_DIR`) plus the bundles named by
//! `REQUESTS_CA_BUNDLE` and `CURL_CA_BUNDLE` (neither reqwest nor
//! rustls-native-certs reads those), with Mozilla's roots as the fallback when
//! the OS store is empty. `verify="path"` trusts exactly that bundle (file or
//! directory), as requests does.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use super::error::{Error, ErrorKind, Result};

/// How to verify the server's certificate.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Verify {
    /// Don't verify (requests' `verify=False`).
    Off,
    /// The OS store plus the CA bundles named in the environment.
    Default,
    /// Exactly the certificates in this PEM file or directory.
    Bundle(PathBuf),
}

/// A client certificate: a PEM chain and its key (the key may sit in the same file).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientCert {
    pub cert: PathBuf,
    pub key: Option<PathBuf>,
}

fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
}

/// The OS trust store, loaded once per process (it costs tens of milliseconds).
fn native_roots() -> &'static [CertificateDer<'static>] {
    static ROOTS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();
    ROOTS.get_or_init(|| rustls_native_certs::load_native_certs().certs)
}

fn file_error(path: &Path, what: &str, detail: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorKind::InvalidFile,
        format!("Could not read {what} '{}': {detail}", path.display()),
    )
}

/// All certificates in a PEM file, or in every file of a directory.
fn load_certs(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>> {
    let meta = std::fs::metadata(path).map_err(|e| file_error(path, what, e))?;
    let files: Vec<PathBuf> = if meta.is_dir() {
        let entries = std::fs::read_dir(path).map_err(|e| file_error(path, what, e))?;
        entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect()
    } else {
        vec![path.to_path_buf()]
    };
    let mut certs = Vec::new();
    for file in &files {
        let iter = CertificateDer::pem_file_iter(file).map_err(|e| file_error(file, what, e))?;
        for cert in iter {
            match cert {
                Ok(c) => certs.push(c),
                Err(e) if !meta.is_dir() => return Err(file_error(file, what, e)),
                Err(_) => {}
            }
        }
    }
    if certs.is_empty() && !meta.is_dir() {
        return Err(file_error(path, what, "no PEM certificates found in it"));
    }
    Ok(certs)
}

/// The environment's extra CA bundles (read at each client build, so a
/// variable set after the first request still counts).
pub fn env_bundles() -> Vec<PathBuf> {
    ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"]
        .iter()
        .filter_map(std::env::var_os)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .collect()
}

fn root_store(verify: &Verify) -> Result<RootCertStore> {
    let mut store = RootCertStore::empty();
    match verify {
        Verify::Off => {}
        Verify::Bundle(path) => {
            let certs = load_certs(path, "the CA bundle")?;
            store.add_parsable_certificates(certs);
        }
        Verify::Default => {
            store.add_parsable_certificates(native_roots().iter().cloned());
            for path in env_bundles() {
                let certs = load_certs(
                    &path,
                    "the CA bundle named by REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE",
                )?;
                store.add_parsable_certificates(certs);
            }
            if store.is_empty() {
                store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            }
        }
    }
    Ok(store)
}

fn client_identity(
    cert: &ClientCert,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> {
    let chain = load_certs(&cert.cert, "the client certificate")?;
    let key_path = cert.key.as_ref().unwrap_or(&cert.cert);
    let key = PrivateKeyDer::from_pem_file(key_path)
        .map_err(|e| file_error(key_path, "the client certificate's private key", e))?;
    Ok((chain, key))
}

/// Build the rustls configuration for one combination of options.
/// The TLS setup of a client that only ever speaks plain HTTP (reqwest wants
/// one): no trust store, no client certificate.
pub fn plain_config() -> Result<ClientConfig> {
    Ok(ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::new(ErrorKind::Ssl, format!("TLS setup failed: {e}")))?
        .with_root_certificates(RootCertStore::empty())
        .with_no_client_auth())
}

pub fn client_config(verify: &Verify, cert: Option<&ClientCert>) -> Result<ClientConfig> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::new(ErrorKind::Ssl, format!("TLS setup failed: {e}")))?;
    let builder = match verify {
        Verify::Off => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification(provider))),
        _ => builder.with_root_certificates(root_store(verify)?),
    };
    let config = match cert {
        None => builder.with_no_client_auth(),
        Some(cert) => {
            let (chain, key) = client_identity(cert)?;
            builder.with_client_auth_cert(chain, key).map_err(|e| {
                Error::new(
                    ErrorKind::InvalidFile,
                    format!("The client certificate cannot be used: {e}"),
                )
            })?
        }
    };
    Ok(config)
}

/// `verify=False`: accept any certificate, still check handshake signatures.
#[derive(Debug)]
struct NoVerification(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_bundle_is_a_clear_error() {
        let err = client_config(&Verify::Bundle("/nonexistent/ca.pem".into()), None).err();
        let err = err.unwrap_or_else(|| unreachable!("expected an error"));
        assert_eq!(err.kind, ErrorKind::InvalidFile);
        assert!(err.message.contains("/nonexistent/ca.pem"));
    }

    #[test]
    fn default_and_off_build() {
        assert!(client_config(&Verify::Default, None).is_ok());
        assert!(client_config(&Verify::Off, None).is_ok());
    }
}
