//! HTTP collectors: Splunk HEC (`hec+http(s)://…/services/collector/event`) and generic JSON.
//!
//! HEC: one POST per batch whose body is the batch's envelopes concatenated, one per line,
//! `{"time":…,"host":…,"source":"brig","sourcetype":"ocsf","event":{OCSF}}` (`time` in
//! seconds with milliseconds), with `Authorization: Splunk <token>`. Generic: one POST per
//! batch of a JSON array of the OCSF objects, with `Authorization: Bearer <token>` when a
//! token is given. A 2xx answer acknowledges the batch; 408, 429 and 5xx (and transport
//! failures) are retried; any other status is a rejection.

use std::io::Read;

use serde_json::{json, Value};

use crate::records::Record;
use crate::sink::{SendError, SinkOptions};
use crate::SiemError;

pub struct HttpSink {
    url: String,
    hec: bool,
    host: String,
    token: Option<String>,
    client: reqwest::blocking::Client,
}

impl HttpSink {
    pub fn new(url: &str, hec: bool, opts: &SinkOptions) -> Result<Self, SiemError> {
        let mut b = reqwest::blocking::Client::builder()
            .timeout(opts.timeout)
            .connect_timeout(opts.timeout)
            // A batch must reach the collector it was meant for, not wherever it points.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("brig/", env!("CARGO_PKG_VERSION")));
        if let Some(ca) = &opts.ca {
            let pem = std::fs::read(ca).map_err(crate::io_err(ca))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| SiemError::Tls(format!("{}: {e}", ca.display())))?;
            b = b.tls_certs_only(certs);
        }
        let client = b.build().map_err(|e| SiemError::Tls(chain(&e)))?;
        Ok(HttpSink {
            url: url.to_string(),
            hec,
            host: opts.hostname.clone(),
            token: opts.token.clone(),
            client,
        })
    }

    pub fn send(&mut self, records: &[Record]) -> Result<(), SendError> {
        let body = if self.hec {
            hec_body(records, &self.host)
        } else {
            let all: Vec<&Value> = records.iter().map(|r| &r.ocsf).collect();
            serde_json::to_vec(&all).expect("JSON serializes")
        };
        let mut req = self
            .client
            .post(&self.url)
            .header("Content-Type", "application/json")
            .body(body);
        if let Some(t) = &self.token {
            let scheme = if self.hec { "Splunk" } else { "Bearer" };
            req = req.header("Authorization", format!("{scheme} {t}"));
        }
        let resp = req
            .send()
            .map_err(|e| SendError::Retry(format!("POST {}: {}", self.url, chain(&e))))?;
        let status = resp.status().as_u16();
        if resp.status().is_success() {
            return Ok(());
        }
        let detail = format!(
            "POST {} answered HTTP {status}: {}",
            self.url,
            excerpt(resp)
        );
        if matches!(status, 408 | 429) || status >= 500 {
            Err(SendError::Retry(detail))
        } else {
            Err(SendError::Reject(detail))
        }
    }
}

/// HEC's batch format: envelopes one after the other.
fn hec_body(records: &[Record], host: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for r in records {
        let time = r.ts_nanos.div_euclid(1_000_000) as f64 / 1000.0;
        let env = json!({
            "time": time, "host": host, "source": "brig", "sourcetype": "ocsf", "event": r.ocsf,
        });
        serde_json::to_writer(&mut out, &env).expect("JSON serializes");
        out.push(b'\n');
    }
    out
}

/// The start of an error body (collectors may answer with whole pages).
fn excerpt(resp: reqwest::blocking::Response) -> String {
    let mut bytes = Vec::new();
    let _ = resp.take(2048).read_to_end(&mut bytes);
    let text = String::from_utf8_lossy(&bytes);
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    text.chars().take(300).collect()
}

/// reqwest's message hides the cause ("error sending request"): add the sources.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text += &format!(": {s}");
        source = s.source();
    }
    text
}
