//! `plantdb-auth healthcheck`: asks a running server whether it is ready
//! (or alive), for container and systemd probes: exit 0 if so, else 1.
//!
//! One plain-HTTP GET to the local server is written by hand: it needs no
//! TLS, redirects or pooling, and an HTTP client crate in the binary for
//! this one request would cost more than these lines.

use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Debug, Clone, Args)]
pub struct HealthcheckArgs {
    /// The server's address, as given to `serve` (0.0.0.0 and :: mean this host).
    #[arg(long, env = "PLANTDB_HOST", default_value = "127.0.0.1")]
    pub host: String,
    /// The server's port.
    #[arg(long, env = "PLANTDB_PORT", default_value_t = 5000)]
    pub port: u16,
    /// The deployment prefix, as given to `serve`.
    #[arg(long, env = "PLANTDB_URL_PREFIX")]
    pub url_prefix: Option<String>,
    /// Check liveness (the process answers) instead of readiness.
    #[arg(long)]
    pub live: bool,
    /// Seconds to wait for the answer.
    #[arg(long, default_value_t = 5)]
    pub timeout: u64,
}

pub async fn execute(args: HealthcheckArgs) -> anyhow::Result<()> {
    let host = match args.host.as_str() {
        "0.0.0.0" => "127.0.0.1",
        "::" | "[::]" => "::1",
        other => other,
    };
    let prefix = args
        .url_prefix
        .as_deref()
        .unwrap_or("")
        .trim_end_matches('/');
    let which = if args.live { "live" } else { "ready" };
    let path = format!("{prefix}/api/v1/health/{which}");
    let address = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{}", args.port)
    } else {
        format!("{host}:{}", args.port)
    };
    let ask = async {
        let mut stream = TcpStream::connect(&address).await.with_context(|| {
            format!("no server answers on {address}: is it running (check --host and --port)?")
        })?;
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut answer = Vec::new();
        stream.take(64 * 1024).read_to_end(&mut answer).await?;
        Ok::<_, anyhow::Error>(answer)
    };
    let answer = tokio::time::timeout(Duration::from_secs(args.timeout), ask)
        .await
        .with_context(|| format!("{address} did not answer within {} s", args.timeout))??;
    let text = String::from_utf8_lossy(&answer);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .with_context(|| format!("{address} did not answer HTTP"))?;
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("").trim();
    if status == 200 {
        println!("{which}: {body}");
        Ok(())
    } else {
        bail!("not {which} (HTTP {status}): {body}")
    }
}
