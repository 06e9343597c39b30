//! Where records go: the sink's text parsed once, then one `send` per batch.

use std::path::PathBuf;
use std::time::Duration;

use crate::records::Record;
use crate::{file, http, syslog, SiemError};

/// A sink as given on the command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SinkSpec {
    /// `file:PATH`: JSON lines.
    File(PathBuf),
    /// `syslog+udp|tcp|tls://HOST:PORT`: RFC 5424.
    Syslog {
        transport: Transport,
        host: String,
        port: u16,
    },
    /// `hec+http(s)://…` (Splunk HEC envelopes) or `http(s)://…` (a JSON array per batch).
    Http { url: String, hec: bool },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
    Tls,
}

impl SinkSpec {
    pub fn parse(spec: &str) -> Result<SinkSpec, SiemError> {
        let bad = |reason: &str| SiemError::BadSink {
            spec: spec.to_string(),
            reason: reason.to_string(),
        };
        if let Some(path) = spec.strip_prefix("file:") {
            if path.is_empty() {
                return Err(bad("no path"));
            }
            return Ok(SinkSpec::File(PathBuf::from(path)));
        }
        let (scheme, rest) = spec.split_once("://").ok_or_else(|| bad("no scheme"))?;
        let transport = match scheme {
            "syslog+udp" => Some(Transport::Udp),
            "syslog+tcp" => Some(Transport::Tcp),
            "syslog+tls" => Some(Transport::Tls),
            _ => None,
        };
        if let Some(transport) = transport {
            let (host, port) = rest
                .trim_end_matches('/')
                .rsplit_once(':')
                .ok_or_else(|| bad("HOST:PORT expected"))?;
            let port = port.parse().map_err(|_| bad("bad port"))?;
            let host = host.trim_start_matches('[').trim_end_matches(']');
            if host.is_empty() {
                return Err(bad("no host"));
            }
            return Ok(SinkSpec::Syslog {
                transport,
                host: host.to_string(),
                port,
            });
        }
        if rest.contains('@') {
            return Err(bad(
                "credentials do not belong in the URL (use --token-file or BRIG_SIEM_TOKEN)",
            ));
        }
        match scheme {
            "hec+http" | "hec+https" => Ok(SinkSpec::Http {
                url: format!("{}://{rest}", &scheme[4..]),
                hec: true,
            }),
            "http" | "https" => Ok(SinkSpec::Http {
                url: spec.to_string(),
                hec: false,
            }),
            _ => Err(bad("unknown scheme")),
        }
    }
}

/// How sinks behave, beyond their address.
#[derive(Clone, Debug)]
pub struct SinkOptions {
    /// file: start a new file when the current one would pass this size.
    pub rotate_bytes: Option<u64>,
    /// file: rotated files kept (`PATH.1` newest … `PATH.N`).
    pub keep: usize,
    /// TLS (syslog+tls, https): trust only these PEM certificates instead of the system roots.
    pub ca: Option<PathBuf>,
    /// HTTP: `Authorization: Splunk <token>` (HEC) or `Bearer <token>`.
    pub token: Option<String>,
    /// syslog's HOSTNAME and HEC's `host`.
    pub hostname: String,
    /// Connect / request timeout.
    pub timeout: Duration,
}

impl Default for SinkOptions {
    fn default() -> Self {
        SinkOptions {
            rotate_bytes: None,
            keep: 5,
            ca: None,
            token: None,
            hostname: hostname(),
            timeout: Duration::from_secs(10),
        }
    }
}

/// This host's name (Linux), or `-` (syslog's nil value).
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "-".into())
}

/// Why a batch was not delivered.
#[derive(Debug)]
pub enum SendError {
    /// Worth trying again (receiver down, timeout, 5xx, 408, 429).
    Retry(String),
    /// Trying again would get the same answer (HTTP 4xx, a record the transport cannot
    /// carry).
    Reject(String),
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::Retry(s) | SendError::Reject(s) => f.write_str(s),
        }
    }
}

/// An open sink.
pub enum Sink {
    File(file::FileSink),
    Syslog(syslog::SyslogSink),
    Http(http::HttpSink),
}

impl Sink {
    /// Opens the sink; network sinks connect lazily, at the first batch.
    pub fn open(spec: &SinkSpec, opts: &SinkOptions) -> Result<Sink, SiemError> {
        Ok(match spec {
            SinkSpec::File(path) => Sink::File(file::FileSink::new(path.clone(), opts)),
            SinkSpec::Syslog {
                transport,
                host,
                port,
            } => Sink::Syslog(syslog::SyslogSink::new(*transport, host, *port, opts)?),
            SinkSpec::Http { url, hec } => Sink::Http(http::HttpSink::new(url, *hec, opts)?),
        })
    }

    /// Delivers a batch (all or nothing, as far as the transport can tell).
    pub fn send(&mut self, records: &[Record]) -> Result<(), SendError> {
        match self {
            Sink::File(s) => s.send(records),
            Sink::Syslog(s) => s.send(records),
            Sink::Http(s) => s.send(records),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_kind() {
        assert_eq!(
            SinkSpec::parse("file:/tmp/x.jsonl").unwrap(),
            SinkSpec::File("/tmp/x.jsonl".into())
        );
        assert_eq!(
            SinkSpec::parse("syslog+tcp://127.0.0.1:514").unwrap(),
            SinkSpec::Syslog {
                transport: Transport::Tcp,
                host: "127.0.0.1".into(),
                port: 514
            }
        );
        assert_eq!(
            SinkSpec::parse("hec+https://splunk:8088/services/collector/event").unwrap(),
            SinkSpec::Http {
                url: "https://splunk:8088/services/collector/event".into(),
                hec: true
            }
        );
        assert!(SinkSpec::parse("syslog+udp://host").is_err());
        assert!(SinkSpec::parse("https://u:p@x/").is_err());
        assert!(SinkSpec::parse("ftp://x").is_err());
    }
}
