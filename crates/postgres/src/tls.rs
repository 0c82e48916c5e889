//! TLS to PostgreSQL with rustls, set by libpq's URL parameters.
//!
//! tokio-postgres knows `sslmode` = disable | prefer | require only and
//! refuses any other parameter it does not know (`sslrootcert` included),
//! so both are taken out of the URL here; the stronger modes reach it as
//! `require`, with a certificate verifier that does the checking:
//!
//! | sslmode              | encrypted               | certificate checked          |
//! |----------------------|-------------------------|------------------------------|
//! | disable              | no                      | -                            |
//! | prefer (the default) | if the server offers it | no                           |
//! | require              | yes                     | no; with sslrootcert: as verify-ca |
//! | verify-ca            | yes                     | chain, not the host name     |
//! | verify-full          | yes                     | chain and host name (or IP)  |
//!
//! `sslrootcert=PATH` names a PEM file of CA certificates;
//! `sslrootcert=system` the system's trust store (`/etc/ssl/certs` on
//! Debian, read by rustls-native-certs; `SSL_CERT_FILE`/`SSL_CERT_DIR`
//! override it). These follow libpq, with two differences: libpq reads
//! `~/.postgresql/root.crt` when `sslrootcert` is absent, and a service
//! account has no such home, so verify-full then uses the system store
//! instead; and verify-ca needs `sslrootcert=PATH`, as libpq refuses
//! verify-ca with the system store (any publicly issued certificate, for
//! any name, would pass).
//!
//! The crypto provider is ring: rustls' default, aws-lc, is a slow C build.
//! One connector serves the pool and the listener connection.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use plantdb_auth_core::store::StoreError;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore};
use tokio_postgres_rustls::MakeRustlsConnect;

/// libpq's `sslmode` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    fn parse(value: &str) -> Result<SslMode, StoreError> {
        Ok(match value {
            "disable" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            // libpq's `allow` tries plaintext first: a downgrade we do not offer.
            other => {
                return Err(StoreError::Backend(format!(
                    "sslmode={other} is not a valid sslmode: use disable, prefer, require, verify-ca or verify-full"
                )))
            }
        })
    }

    /// What tokio-postgres is told: it only knows whether TLS is required.
    pub(crate) fn wire(self) -> tokio_postgres::config::SslMode {
        use tokio_postgres::config::SslMode as Wire;
        match self {
            SslMode::Disable => Wire::Disable,
            SslMode::Prefer => Wire::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => Wire::Require,
        }
    }
}

/// Where trusted CA certificates come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootCerts {
    File(PathBuf),
    System,
}

/// The TLS parameters of a connection URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsParams {
    pub mode: SslMode,
    pub roots: Option<RootCerts>,
}

/// Takes `sslmode` and `sslrootcert` out of `url`'s query: the URL that
/// remains is for tokio-postgres. Other parameters stay as they were.
pub fn split_url(url: &str) -> Result<(String, TlsParams), StoreError> {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, query),
        None => (url, ""),
    };
    let (mut mode, mut root) = (None, None);
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match decode(key)?.as_str() {
            "sslmode" => mode = Some(decode(value)?),
            "sslrootcert" => root = Some(decode(value)?),
            _ => kept.push(pair),
        }
    }
    let rest = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((rest, tls_params(mode.as_deref(), root.as_deref())?))
}

fn decode(s: &str) -> Result<String, StoreError> {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| StoreError::Backend("a URL parameter is not valid UTF-8".into()))
}

fn tls_params(mode: Option<&str>, root: Option<&str>) -> Result<TlsParams, StoreError> {
    let roots = match root {
        None | Some("") => None,
        Some("system") => Some(RootCerts::System),
        Some(path) => Some(RootCerts::File(PathBuf::from(path))),
    };
    let mode = match (mode, &roots) {
        (Some(m), _) => SslMode::parse(m)?,
        // libpq: the system store implies verify-full.
        (None, Some(RootCerts::System)) => SslMode::VerifyFull,
        (None, _) => SslMode::Prefer,
    };
    match (mode, &roots) {
        (SslMode::VerifyFull, _) | (_, Some(RootCerts::File(_))) | (_, None) => {}
        (_, Some(RootCerts::System)) => {
            return Err(StoreError::Backend(
                "sslrootcert=system needs sslmode=verify-full (with the system's trusted roots, any publicly issued certificate would pass a weaker check): set sslmode=verify-full, or name a CA file with sslrootcert=PATH".into(),
            ))
        }
    }
    if mode == SslMode::VerifyCa && roots.is_none() {
        return Err(StoreError::Backend(
            "sslmode=verify-ca needs sslrootcert=PATH, the PEM file of the CA that signed the server's certificate (or use sslmode=verify-full, which can check against the system's trusted roots)".into(),
        ));
    }
    Ok(TlsParams { mode, roots })
}

/// The connector for `params`, its CA certificates read now.
pub(crate) fn connector(params: &TlsParams) -> Result<MakeRustlsConnect, StoreError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier: Arc<dyn ServerCertVerifier> = match (params.mode, &params.roots) {
        (SslMode::Disable, _) | (SslMode::Prefer, _) | (SslMode::Require, None) => {
            Arc::new(Unchecked(provider.clone()))
        }
        (SslMode::VerifyFull, roots) => webpki(roots.as_ref(), &provider)?,
        (SslMode::Require | SslMode::VerifyCa, roots) => {
            Arc::new(ChainOnly(webpki(roots.as_ref(), &provider)?))
        }
    };
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::Backend(format!("TLS setup: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

fn webpki(
    roots: Option<&RootCerts>,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<WebPkiServerVerifier>, StoreError> {
    let store = match roots {
        Some(RootCerts::File(path)) => file_roots(path)?,
        Some(RootCerts::System) | None => system_roots()?,
    };
    WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider.clone())
        .build()
        .map_err(|e| StoreError::Backend(format!("TLS setup: {e}")))
}

fn file_roots(path: &Path) -> Result<RootCertStore, StoreError> {
    let shown = path.display();
    let bytes = std::fs::read(path).map_err(|e| {
        StoreError::Backend(format!(
            "cannot read sslrootcert={shown}: {e}: name the PEM file of the CA that signed the server's certificate, or use sslrootcert=system"
        ))
    })?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            StoreError::Backend(format!(
                "sslrootcert={shown} is not a PEM certificate file ({e}): name the PEM file of the CA that signed the server's certificate"
            ))
        })?;
    if certs.is_empty() {
        return Err(StoreError::Backend(format!(
            "sslrootcert={shown} holds no certificate (no -----BEGIN CERTIFICATE----- block): name the PEM file of the CA that signed the server's certificate"
        )));
    }
    let mut store = RootCertStore::empty();
    for cert in certs {
        store.add(cert).map_err(|e| {
            StoreError::Backend(format!(
                "sslrootcert={shown} holds a certificate that cannot be a trust anchor: {e}"
            ))
        })?;
    }
    Ok(store)
}

fn system_roots() -> Result<RootCertStore, StoreError> {
    let found = rustls_native_certs::load_native_certs();
    let mut store = RootCertStore::empty();
    store.add_parsable_certificates(found.certs);
    if store.is_empty() {
        let why = found
            .errors
            .first()
            .map(|e| format!(" ({e})"))
            .unwrap_or_default();
        return Err(StoreError::Backend(format!(
            "no trusted CA certificate found in the system store{why}: install them (Debian: apt-get install ca-certificates) or name a CA file with sslrootcert=PATH"
        )));
    }
    Ok(store)
}

/// `prefer`, and `require` without `sslrootcert`: encrypted, but any
/// certificate is taken (libpq's meaning); the handshake signatures are
/// still checked, so the peer holds the key of the certificate it sent.
#[derive(Debug)]
struct Unchecked(Arc<CryptoProvider>);

impl ServerCertVerifier for Unchecked {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
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
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca`: the chain must lead to a trusted CA; the name in the
/// certificate is not compared with the host. webpki checks the chain
/// before the name, so a name mismatch means the chain passed.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let checked =
            self.0
                .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now);
        match checked {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(url: &str) -> Result<(String, TlsParams), String> {
        split_url(url).map_err(|e| e.to_string())
    }

    #[test]
    fn tls_parameters_leave_the_url_and_others_stay() {
        let (rest, params) =
            split("postgres://u:p@h/db?application_name=x&sslmode=verify-full&sslrootcert=%2Fca.pem&options=-c%20a%3Db")
                .unwrap();
        assert_eq!(
            rest,
            "postgres://u:p@h/db?application_name=x&options=-c%20a%3Db"
        );
        assert_eq!(params.mode, SslMode::VerifyFull);
        assert_eq!(params.roots, Some(RootCerts::File("/ca.pem".into())));
        let (rest, params) = split("postgres://u:p@h/db?sslmode=require").unwrap();
        assert_eq!(rest, "postgres://u:p@h/db");
        assert_eq!((params.mode, params.roots), (SslMode::Require, None));
    }

    #[test]
    fn defaults_follow_libpq() {
        assert_eq!(split("postgres://h/db").unwrap().1.mode, SslMode::Prefer);
        let system = split("postgres://h/db?sslrootcert=system").unwrap().1;
        assert_eq!(system.mode, SslMode::VerifyFull);
        assert_eq!(system.roots, Some(RootCerts::System));
    }

    #[test]
    fn bad_tls_parameters_are_refused_with_what_to_do() {
        let e = split("postgres://u:secret@h/db?sslmode=allow").unwrap_err();
        assert!(e.contains("sslmode=allow is not a valid sslmode"), "{e}");
        assert!(e.contains("verify-full") && !e.contains("secret"), "{e}");
        let e = split("postgres://h/db?sslmode=require&sslrootcert=system").unwrap_err();
        assert!(e.contains("needs sslmode=verify-full"), "{e}");
        let e = split("postgres://h/db?sslmode=verify-ca").unwrap_err();
        assert!(e.contains("needs sslrootcert=PATH"), "{e}");
    }

    #[test]
    fn a_missing_or_empty_ca_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.pem");
        let params = TlsParams {
            mode: SslMode::VerifyFull,
            roots: Some(RootCerts::File(missing.clone())),
        };
        let e = connector(&params).err().unwrap().to_string();
        assert!(
            e.contains("cannot read sslrootcert=") && e.contains("nope.pem"),
            "{e}"
        );
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let params = TlsParams {
            roots: Some(RootCerts::File(empty)),
            ..params
        };
        let e = connector(&params).err().unwrap().to_string();
        assert!(e.contains("holds no certificate"), "{e}");
    }
}
