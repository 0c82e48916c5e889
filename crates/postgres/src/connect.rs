//! Reaching the server: the URL read into a configuration and a TLS
//! connector, the wait for a server that is not up yet, and the backoff
//! between attempts.
//!
//! At start, a server that cannot be reached (refused, timed out, still
//! starting) is tried again with backoff (0.5 s doubling to 10 s) for the
//! wait the caller gives (`--store-connect-wait`, 30 s by default), with
//! one warning, then refused with what to do. A refusal that waiting does
//! not cure (a certificate, a password, a missing database) fails at once.
//!
//! While running, the listener connection is the one that reconnects (see
//! `listener`); the pool makes no attempts of its own in the background:
//! a request that needs a new connection makes one, so an outage costs the
//! server no more attempts than it gets requests.

use std::error::Error as _;
use std::io::ErrorKind;
use std::str::FromStr;
use std::time::{Duration, Instant};

use plantdb_auth_core::store::StoreError;
use rustls::CertificateError;
use tokio_postgres::config::Host;
use tokio_postgres::error::SqlState;
use tokio_postgres::Config;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::tls;

pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long opening the stores waits for an unreachable server by default.
pub const DEFAULT_CONNECT_WAIT: Duration = Duration::from_secs(30);
const START_FIRST: Duration = Duration::from_millis(500);
const START_CAP: Duration = Duration::from_secs(10);

/// Where and how to connect: one TLS connector for every connection.
#[derive(Clone)]
pub(crate) struct Target {
    pub(crate) config: Config,
    pub(crate) tls: MakeRustlsConnect,
}

impl Target {
    /// Reads `url`, TLS parameters and CA certificates included.
    pub(crate) fn from_url(url: &str) -> Result<Target, StoreError> {
        let (rest, params) = tls::split_url(url)?;
        let mut config = parse_config(&rest, url)?;
        config.ssl_mode(params.mode.wire());
        Ok(Target {
            config,
            tls: tls::connector(&params)?,
        })
    }

    /// `host:port` of the server(s), for messages (never the password).
    pub(crate) fn server(&self) -> String {
        let ports = self.config.get_ports();
        let hosts = self.config.get_hosts().iter().enumerate().map(|(i, h)| {
            let port = ports.get(i).or(ports.first()).copied().unwrap_or(5432);
            match h {
                Host::Tcp(name) => format!("{name}:{port}"),
                #[cfg(unix)]
                Host::Unix(dir) => format!("{}/.s.PGSQL.{port}", dir.display()),
            }
        });
        let all: Vec<String> = hosts.collect();
        if all.is_empty() {
            "localhost:5432".into()
        } else {
            all.join(",")
        }
    }
}

fn parse_config(rest: &str, url: &str) -> Result<Config, StoreError> {
    // The error text could quote part of the URL: the password goes.
    let mut config = Config::from_str(rest).map_err(|e| {
        StoreError::Backend(format!(
            "invalid PostgreSQL URL ({}): expected postgres://user:password@host:port/database[?sslmode=...]",
            redact(&crate::describe(&e), url)
        ))
    })?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    if config.get_application_name().is_none() {
        config.application_name("plantdb-auth");
    }
    Ok(config)
}

/// `text` without the password of `url` (as written and decoded).
pub(crate) fn redact(text: &str, url: &str) -> String {
    let Some(password) = password_of(url) else {
        return text.to_string();
    };
    let mut out = text.replace(password, "***");
    if let Ok(decoded) = percent_encoding::percent_decode_str(password).decode_utf8() {
        if !decoded.is_empty() {
            out = out.replace(decoded.as_ref(), "***");
        }
    }
    out
}

fn password_of(url: &str) -> Option<&str> {
    let (_, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?']).next()?;
    let (userinfo, _) = authority.rsplit_once('@')?;
    let (_, password) = userinfo.split_once(':')?;
    (!password.is_empty()).then_some(password)
}

/// Doubling pauses up to a cap, each shortened at random by up to half,
/// so that instances that lost the server together do not retry in step.
pub(crate) struct Backoff {
    first: Duration,
    next: Duration,
    cap: Duration,
}

impl Backoff {
    pub(crate) fn new(first: Duration, cap: Duration) -> Backoff {
        Backoff {
            first,
            next: first,
            cap,
        }
    }

    pub(crate) fn pause(&mut self) -> Duration {
        let pause = self.next;
        self.next = (self.next * 2).min(self.cap);
        pause.mul_f64(rand::random_range(0.5..=1.0))
    }

    pub(crate) fn reset(&mut self) {
        self.next = self.first;
    }
}

/// Whether waiting may cure `e`: the server is down, unreachable, starting
/// or full. A TLS, authentication or configuration failure is not.
pub(crate) fn is_transient(e: &tokio_postgres::Error) -> bool {
    if let Some(code) = e.code() {
        return [SqlState::CANNOT_CONNECT_NOW, SqlState::TOO_MANY_CONNECTIONS].contains(code);
    }
    if e.is_closed() {
        return true;
    }
    let mut cause = e.source();
    while let Some(c) = cause {
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            // rustls reports a refused certificate as an I/O error.
            let tls = io
                .get_ref()
                .is_some_and(|inner| inner.is::<rustls::Error>());
            let kind = io.kind();
            return !tls
                && !matches!(
                    kind,
                    ErrorKind::InvalidData | ErrorKind::InvalidInput | ErrorKind::PermissionDenied
                );
        }
        cause = c.source();
    }
    false
}

/// Connects once to check that the server answers, waiting up to `wait`
/// while it cannot be reached; refuses with what to do otherwise.
pub(crate) async fn wait_for_server(target: Target, wait: Duration) -> Result<(), StoreError> {
    let start = Instant::now();
    let mut backoff = Backoff::new(START_FIRST, START_CAP);
    let mut warned = false;
    loop {
        let e = match target.config.connect(target.tls.clone()).await {
            Ok((client, connection)) => {
                // Dropping the client ends the connection cleanly.
                tokio::spawn(connection);
                drop(client);
                if warned {
                    tracing::info!(server = %target.server(), "PostgreSQL answers");
                }
                return Ok(());
            }
            Err(e) => e,
        };
        let pause = backoff.pause();
        if !is_transient(&e) || start.elapsed() + pause > wait {
            return Err(refusal(&target, &e, start.elapsed()));
        }
        if !warned {
            tracing::warn!(
                server = %target.server(),
                error = %crate::describe(&e),
                "PostgreSQL cannot be reached; retrying for up to {} s",
                wait.as_secs()
            );
            warned = true;
        }
        tokio::time::sleep(pause).await;
    }
}

/// Why the first connection failed, and what to do about it.
fn refusal(target: &Target, e: &tokio_postgres::Error, waited: Duration) -> StoreError {
    let server = target.server();
    let cause = crate::describe(e);
    let text = if is_transient(e) {
        format!(
            "PostgreSQL at {server} cannot be reached (waited {} s): {cause}: start it, or correct the host and port in the URL (--store-connect-wait sets how long to wait)",
            waited.as_secs()
        )
    } else if let Some(refused) = certificate_error(e) {
        let fix = match refused {
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                "connect with a host name the certificate holds, or use sslmode=verify-ca to check the chain only"
            }
            _ => "set sslrootcert= to the PEM file of the CA that signed it, or use sslmode=require to encrypt without checking",
        };
        format!("PostgreSQL at {server}: the server's certificate was refused: {cause}: {fix}")
    } else if cause.contains("TLS") {
        format!(
            "PostgreSQL at {server}: {cause}: enable ssl on the server, or lower sslmode (prefer or disable)"
        )
    } else {
        format!("PostgreSQL at {server} refused the connection: {cause}")
    };
    StoreError::Backend(text)
}

fn certificate_error(e: &tokio_postgres::Error) -> Option<&CertificateError> {
    let mut cause = e.source();
    while let Some(c) = cause {
        let inner = c
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<rustls::Error>());
        if let Some(rustls::Error::InvalidCertificate(refused)) = inner {
            return Some(refused);
        }
        cause = c.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_never_shows() {
        let url = "postgres://me:s%40cret@db:5432/x";
        assert_eq!(redact("bad s%40cret and s@cret", url), "bad *** and ***");
        assert_eq!(redact("nothing", "postgres://me@db/x"), "nothing");
        let e = Target::from_url("postgres://me:hunter2@db:notaport/x")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("invalid PostgreSQL URL"), "{e}");
        assert!(!e.contains("hunter2"), "{e}");
    }

    #[test]
    fn backoff_doubles_to_its_cap_with_jitter() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(400));
        let pauses: Vec<Duration> = (0..5).map(|_| b.pause()).collect();
        let caps = [100, 200, 400, 400, 400];
        for (pause, cap) in pauses.iter().zip(caps) {
            let cap = Duration::from_millis(cap);
            assert!(*pause <= cap && *pause >= cap / 2, "{pauses:?}");
        }
        b.reset();
        assert!(b.pause() <= Duration::from_millis(100));
    }

    #[test]
    fn the_server_is_named_without_credentials() {
        let t = Target::from_url("postgres://u:pw@db.example:6543/x?sslmode=disable").unwrap();
        assert_eq!(t.server(), "db.example:6543");
    }
}
