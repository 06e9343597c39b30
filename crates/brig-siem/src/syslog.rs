//! syslog: RFC 5424 messages over UDP (RFC 5426, one per datagram), TCP and TLS (RFC 6587
//! octet counting, RFC 5425).
//!
//! A message: `<PRI>1 TIMESTAMP HOSTNAME brig PROCID MSGID [brig@32473 index="…"
//! event="…"] OCSF-JSON`. PRI is facility 13 (log audit) and the severity from OCSF's
//! `severity_id`; TIMESTAMP the event's time in UTC with microseconds; MSGID the Brig event
//! kind. The SD-ID uses 32473, the enterprise number RFC 5612 sets aside for examples (Brig
//! has none of its own). The JSON is sent as MSG-ANY, without a BOM.

use std::io::Write;
use std::net::{TcpStream, ToSocketAddrs, UdpSocket};

use crate::records::Record;
use crate::sink::{SendError, SinkOptions, Transport};
use crate::{tls, SiemError};

/// syslog facility 13: log audit.
const FACILITY: u64 = 13;
/// The largest UDP payload (IPv4).
const MAX_DATAGRAM: usize = 65_507;

pub struct SyslogSink {
    transport: Transport,
    host: String,
    port: u16,
    hostname: String,
    timeout: std::time::Duration,
    tls: Option<std::sync::Arc<rustls::ClientConfig>>,
    conn: Option<Conn>,
}

enum Conn {
    Udp(UdpSocket),
    Tcp(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl SyslogSink {
    pub fn new(
        transport: Transport,
        host: &str,
        port: u16,
        opts: &SinkOptions,
    ) -> Result<Self, SiemError> {
        let tls = match transport {
            Transport::Tls => Some(tls::client_config(opts.ca.as_deref())?),
            _ => None,
        };
        Ok(SyslogSink {
            transport,
            host: host.to_string(),
            port,
            hostname: opts.hostname.clone(),
            timeout: opts.timeout,
            tls,
            conn: None,
        })
    }

    pub fn send(&mut self, records: &[Record]) -> Result<(), SendError> {
        let msgs: Vec<String> = records.iter().map(|r| message(r, &self.hostname)).collect();
        if self.transport == Transport::Udp {
            if let Some(m) = msgs.iter().find(|m| m.len() > MAX_DATAGRAM) {
                return Err(SendError::Reject(format!(
                    "a {}-byte message does not fit a UDP datagram (use syslog+tcp)",
                    m.len()
                )));
            }
        }
        if self.conn.as_mut().is_some_and(peer_closed) {
            self.conn = None;
        }
        let result = self.write_all(&msgs);
        if result.is_err() {
            // The next attempt starts from a fresh connection.
            self.conn = None;
        }
        result
    }

    fn write_all(&mut self, msgs: &[String]) -> Result<(), SendError> {
        let conn = match &mut self.conn {
            Some(c) => c,
            None => self.conn.insert(self.connect()?),
        };
        let io = |e: std::io::Error| SendError::Retry(format!("syslog write: {e}"));
        match conn {
            Conn::Udp(s) => {
                for m in msgs {
                    s.send(m.as_bytes()).map_err(io)?;
                }
                Ok(())
            }
            Conn::Tcp(s) => write_framed(s, msgs).map_err(io),
            Conn::Tls(s) => write_framed(s.as_mut(), msgs).map_err(io),
        }
    }

    fn connect(&self) -> Result<Conn, SendError> {
        let target = format!("{}:{}", self.host, self.port);
        let fail = |e: std::io::Error| SendError::Retry(format!("connecting to {target}: {e}"));
        let addrs: Vec<_> = (self.host.as_str(), self.port)
            .to_socket_addrs()
            .map_err(fail)?
            .collect();
        let Some(first) = addrs.first().copied() else {
            return Err(SendError::Retry(format!("{target}: no address")));
        };
        if self.transport == Transport::Udp {
            let bind = if first.is_ipv4() {
                "0.0.0.0:0"
            } else {
                "[::]:0"
            };
            let s = UdpSocket::bind(bind).map_err(fail)?;
            s.connect(first).map_err(fail)?;
            return Ok(Conn::Udp(s));
        }
        // Every address the name has (localhost: ::1 and 127.0.0.1), the first that answers.
        let mut last = None;
        let mut conn = None;
        for a in &addrs {
            match TcpStream::connect_timeout(a, self.timeout) {
                Ok(s) => {
                    conn = Some(s);
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        let s = match conn {
            Some(s) => s,
            None => return Err(fail(last.expect("at least one address was tried"))),
        };
        s.set_write_timeout(Some(self.timeout)).map_err(fail)?;
        s.set_read_timeout(Some(self.timeout)).map_err(fail)?;
        let _ = s.set_nodelay(true);
        match &self.tls {
            None => Ok(Conn::Tcp(s)),
            Some(config) => {
                let mut stream = tls::connect(config.clone(), &self.host, s)
                    .map_err(|e| SendError::Retry(format!("TLS with {target}: {e}")))?;
                // Finish the handshake now, so a certificate problem is reported as such.
                while stream.conn.is_handshaking() {
                    stream
                        .conn
                        .complete_io(&mut stream.sock)
                        .map_err(|e| SendError::Retry(format!("TLS with {target}: {e}")))?;
                }
                Ok(Conn::Tls(Box::new(stream)))
            }
        }
    }
}

/// RFC 6587 octet counting: `LEN SP MSG` per message, one write for the batch.
fn write_framed(w: &mut impl Write, msgs: &[String]) -> std::io::Result<()> {
    let mut buf = Vec::new();
    for m in msgs {
        buf.extend_from_slice(format!("{} ", m.len()).as_bytes());
        buf.extend_from_slice(m.as_bytes());
    }
    w.write_all(&buf)?;
    w.flush()
}

/// Whether the peer closed a stream connection since the last batch (syslog receivers never
/// write, so EOF or a reset is all there is to read). Catching it here keeps a batch from
/// being written into a dead connection, where it would be lost without an error.
fn peer_closed(c: &mut Conn) -> bool {
    let sock = match c {
        Conn::Udp(_) => return false,
        Conn::Tcp(s) => s.try_clone(),
        Conn::Tls(s) => s.sock.try_clone(),
    };
    let Ok(sock) = sock else { return true };
    if sock.set_nonblocking(true).is_err() {
        return true;
    }
    let closed = match c {
        Conn::Udp(_) => false,
        Conn::Tcp(_) => {
            let mut byte = [0u8; 1];
            match sock.peek(&mut byte) {
                Ok(n) => n == 0,
                Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
            }
        }
        Conn::Tls(s) => tls_closed(s),
    };
    let _ = sock.set_nonblocking(false);
    closed
}

/// Reads what the TLS peer sent (session tickets, close_notify) without blocking.
fn tls_closed(s: &mut rustls::StreamOwned<rustls::ClientConnection, TcpStream>) -> bool {
    loop {
        match s.conn.read_tls(&mut s.sock) {
            Ok(0) => return true,
            Ok(_) => match s.conn.process_new_packets() {
                Ok(state) if state.peer_has_closed() => return true,
                Ok(_) => {}
                Err(_) => return true,
            },
            Err(e) => return e.kind() != std::io::ErrorKind::WouldBlock,
        }
    }
}

/// The RFC 5424 message of a record.
pub fn message(r: &Record, hostname: &str) -> String {
    let pri = FACILITY * 8 + syslog_severity(r.severity_id());
    let ts = chrono::DateTime::from_timestamp_nanos(r.ts_nanos)
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    format!(
        "<{pri}>1 {ts} {host} brig {pid} {msgid} [brig@32473 index=\"{index}\" event=\"{event}\"] {json}",
        host = header_field(hostname, 255),
        pid = std::process::id(),
        msgid = header_field(r.kind, 32),
        index = r.index,
        event = sd_escape(&r.event_id),
        json = r.ocsf,
    )
}

/// OCSF severity → syslog severity: informational 6, low 5 (notice), medium 4 (warning),
/// high 3 (error), critical 2, fatal 1 (alert).
fn syslog_severity(ocsf: u64) -> u64 {
    match ocsf {
        2 => 5,
        3 => 4,
        4 => 3,
        5 => 2,
        6 => 1,
        _ => 6,
    }
}

/// A header field: printable US-ASCII without spaces, at most `max` characters, `-` if empty.
fn header_field(s: &str, max: usize) -> String {
    let f: String = s
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(max)
        .collect();
    if f.is_empty() {
        "-".into()
    } else {
        f
    }
}

/// SD-PARAM values escape `"`, `\` and `]`.
fn sd_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rfc5424_message() {
        let r = Record {
            index: 42,
            event_id: "01J\"x]".into(),
            kind: "alert",
            ts_nanos: 1_765_000_000_123_456_789,
            ocsf: json!({"class_uid": 2004, "severity_id": 4}),
        };
        let m = message(&r, "host a");
        assert!(
            m.starts_with("<107>1 2025-12-06T05:46:40.123456Z hosta brig "),
            "{m}"
        );
        assert!(m.contains(
            " alert [brig@32473 index=\"42\" event=\"01J\\\"x\\]\"] {\"class_uid\":2004"
        ));
    }
}
