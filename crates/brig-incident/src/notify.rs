//! Notifications: incidents pushed to a signed webhook, TheHive 5 or DFIR-IRIS.
//!
//! A [`Notifier`] owns one background thread. [`Notifier::notify`] only queues (it is called
//! right after containment, on the security path) and only for the targets whose `at` the
//! incident's severity reaches; the thread delivers, retrying with exponential backoff and
//! jitter on connection errors, timeouts, 429 and 5xx, and reports every outcome as a
//! [`Delivery`] to the callback given at start, so the caller can record it in the ledger.
//! [`send_now`] delivers one notice synchronously (for `brig incidents notify ID`).
//!
//! # Webhook
//!
//! `POST <url>` with `Content-Type: application/json` and the body of [`webhook_body`]:
//!
//! ```json
//! {"type": "incident.contained", "version": 1, "sent_at": "2026-01-02T03:04:05.678Z",
//!  "url": "https://brig.example/incidents/INC-…" or null,
//!  "incident": { …the Incident as the store keeps it… }}
//! ```
//!
//! Headers:
//! - `X-Brig-Event`: the `type` above;
//! - `X-Brig-Delivery`: an id unique to the notice, the same on every retry (deduplicate on it);
//! - `X-Brig-Timestamp`: Unix seconds when this attempt was sent;
//! - `X-Brig-Signature`: `sha256=` and the lowercase hex HMAC-SHA256, keyed by the secret in
//!   the environment variable `secret_env` names, of the ASCII timestamp, a `.`, and the exact
//!   body bytes (see [`sign`]). A receiver recomputes it over the raw body before parsing,
//!   compares in constant time, and rejects timestamps too old (say 5 minutes) to stop
//!   replays. The body is the same bytes on every retry; the timestamp and signature are not.
//!
//! A target whose `secret_env` is named but unset (or empty) is misconfigured: it is reported
//! as failed and nothing is sent, never unsigned. A webhook with no `secret_env` at all is
//! sent without signature (the register chose so).
//!
//! # TheHive 5
//!
//! `POST <url>/api/v1/alert` with `Authorization: Bearer <key>` and [`thehive_alert`]. Shape
//! confirmed against thehive4py 2.x `types/alert.py` (`InputAlert`: `type`, `source`,
//! `sourceRef`, `title`, `description` required; `date` in ms, `externalLink`, `severity`
//! 1 low … 4 critical, `tags`, `observables` optional) and `types/observable.py`
//! (`{dataType, data}`); data types from TheHive's built-in observable types (`url`, `other`,
//! `mail`, `domain`, `ip`, `filename`, `fqdn`, `hostname`, …; `file` is an attachment, so not
//! used). TheHive keys alerts on `type`+`source`+`sourceRef` (TheHive issue #1302) and answers
//! a second alert with the same key with 400 "already exists" (issue #1094): `sourceRef` is the
//! incident id, and that answer counts as delivered (`ok` with `status` 400). TheHive's alert
//! is therefore not updated by later notices (severity raised, contained, closed); that needs
//! a lookup of its `_id` and a `PATCH`, not done here.
//!
//! # DFIR-IRIS
//!
//! `POST <url>/alerts/add` with `Authorization: Bearer <key>`, `Content-Type:
//! application/json` and [`iris_alert`]. Fields confirmed against iris-web's
//! `source/app/blueprints/alerts/alerts_routes.py` (the route pops `alert_iocs` and
//! `alert_assets`, loads the rest with `AlertSchema`), `source/app/models/alerts.py` (field
//! names) and `source/app/post_init.py` (severities 1 Unspecified, 2 Informational, 3 Low,
//! 4 Medium, 5 High, 6 Critical; alert status 2 New). IRIS answers every error with 400, so
//! its errors are not retried. IRIS does not deduplicate: each notice makes a new alert (the
//! title says which). `alert_iocs`/`alert_assets` are not sent: their type ids differ from one
//! IRIS instance to another; the resources are in the description and the source content.

use std::collections::BTreeSet;
use std::io::Read;
use std::net::IpAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use hmac::{Hmac, Mac};
use serde::Serialize;
use serde_json::{json, Value};
use sha2::Sha256;

use brig_register::{NotifyKind, NotifyTarget};

use crate::{Incident, Severity};

pub const EVENT_HEADER: &str = "X-Brig-Event";
pub const DELIVERY_HEADER: &str = "X-Brig-Delivery";
pub const TIMESTAMP_HEADER: &str = "X-Brig-Timestamp";
pub const SIGNATURE_HEADER: &str = "X-Brig-Signature";

/// How long [`Notifier::finish`] (and drop) wait for queued deliveries.
pub const FINISH_WITHIN: Duration = Duration::from_secs(10);

/// What happened to an incident that receivers are told.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Event {
    #[serde(rename = "incident.opened")]
    Opened,
    #[serde(rename = "incident.severity_raised")]
    SeverityRaised,
    #[serde(rename = "incident.contained")]
    Contained,
    #[serde(rename = "incident.closed")]
    Closed,
}

impl Event {
    pub fn as_str(&self) -> &'static str {
        match self {
            Event::Opened => "incident.opened",
            Event::SeverityRaised => "incident.severity_raised",
            Event::Contained => "incident.contained",
            Event::Closed => "incident.closed",
        }
    }
}

impl std::fmt::Display for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One thing to tell the receivers about an incident.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    pub event: Event,
    pub incident: Incident,
    /// A link to the incident (Brig's console, a ticket), if there is one.
    pub url: Option<String>,
}

impl Notice {
    pub fn new(event: Event, incident: Incident) -> Self {
        Notice {
            event,
            incident,
            url: None,
        }
    }
}

/// How hard to try: `attempts` in all, waiting `first`, then twice as long each time up to
/// `max` (each wait jittered down to half, so receivers coming back are not hit in step);
/// each request gives up after `timeout`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Retry {
    pub attempts: u32,
    pub first: Duration,
    pub max: Duration,
    pub timeout: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            attempts: 5,
            first: Duration::from_millis(200),
            max: Duration::from_secs(10),
            timeout: Duration::from_secs(10),
        }
    }
}

impl Retry {
    /// The wait after failed attempt `n` (1-based): the backoff, jittered into its upper half
    /// by `random`, but at least what the receiver asked with `Retry-After` (capped at `max`).
    fn delay(&self, n: u32, random: u64, asked: Option<Duration>) -> Duration {
        let doubled = self.first.saturating_mul(1u32 << (n - 1).min(20));
        let backoff = doubled.min(self.max);
        let half = backoff / 2;
        let spread = half.as_nanos().min(u64::MAX as u128) as u64;
        let wait = half + Duration::from_nanos(random % spread.max(1));
        asked.map_or(wait, |a| wait.max(a.min(self.max)))
    }
}

/// The outcome of one notice to one target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Delivery {
    /// The target's kind and URL (`webhook https://…`).
    pub target: String,
    /// The notice's delivery id (the webhook's `X-Brig-Delivery`).
    pub delivery: String,
    pub event: Event,
    /// The incident's id.
    pub incident: String,
    /// Requests sent (0 when the target is misconfigured).
    pub attempts: u32,
    pub ok: bool,
    /// The last attempt's HTTP status (`None` if it got no answer). For TheHive, `ok` with
    /// 400 means it already had the alert.
    pub status: Option<u16>,
    /// Why it failed (the last attempt's reason); `None` when `ok`.
    pub error: Option<String>,
    pub elapsed_ms: u64,
}

/// Why a delivery failed.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("the webhook secret variable `{var}` is not set (nothing sent unsigned)")]
    SecretUnset { var: String },
    #[error("{kind} needs `api_key_env`, the variable holding its API key")]
    NoApiKeyEnv { kind: &'static str },
    #[error("the API key variable `{var}` is not set")]
    ApiKeyUnset { var: String },
    #[error("HTTP {status}: {body}")]
    Refused { status: u16, body: String },
    #[error("HTTP {status} (will retry): {body}")]
    Unavailable { status: u16, body: String },
    #[error("cannot reach the receiver: {0}")]
    Transport(String),
    #[error("cannot build the request: {0}")]
    Request(String),
    #[error("cannot start the HTTP client: {0}")]
    Client(String),
    #[error("abandoned: the notifier was stopped")]
    Stopped,
}

/// The kind and URL of a target, as deliveries name it.
pub fn target_name(target: &NotifyTarget) -> String {
    format!("{} {}", kind_name(target.kind), target.url)
}

fn kind_name(kind: NotifyKind) -> &'static str {
    match kind {
        NotifyKind::Webhook => "webhook",
        NotifyKind::TheHive => "thehive",
        NotifyKind::Iris => "iris",
    }
}

// ---------------------------------------------------------------------------------------
// Payloads

/// The webhook's JSON body (see the module docs). `sent_at` is when it was built; retries
/// resend the same bytes.
pub fn webhook_body(notice: &Notice) -> Value {
    json!({
        "type": notice.event.as_str(),
        "version": 1,
        "sent_at": Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
        "url": notice.url,
        "incident": notice.incident,
    })
}

/// `sha256=<hex>` of HMAC-SHA256(secret, timestamp + "." + body).
pub fn sign(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts any key length");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// TheHive 5's alert (`POST /api/v1/alert`) for a notice.
pub fn thehive_alert(notice: &Notice) -> Value {
    let inc = &notice.incident;
    let mut alert = json!({
        "type": "brig-incident",
        "source": "brig",
        "sourceRef": inc.id,
        "title": headline(notice),
        "description": description(notice),
        "severity": thehive_severity(inc.severity),
        "date": event_time(inc).timestamp_millis(),
        "tags": tags(inc),
        "observables": observables(&inc.resources),
    });
    if let Some(url) = &notice.url {
        alert["externalLink"] = url.as_str().into();
    }
    alert
}

/// DFIR-IRIS's alert (`POST /alerts/add`) for a notice, for IRIS customer `customer_id`.
pub fn iris_alert(notice: &Notice, customer_id: u32) -> Value {
    let inc = &notice.incident;
    let mut alert = json!({
        "alert_title": headline(notice),
        "alert_description": description(notice),
        "alert_source": "brig",
        "alert_source_ref": inc.id,
        "alert_severity_id": iris_severity(inc.severity),
        "alert_status_id": 2,
        "alert_customer_id": customer_id,
        // IRIS stores a naive timestamp; Brig's are UTC.
        "alert_source_event_time": event_time(inc).format("%Y-%m-%dT%H:%M:%S").to_string(),
        // IRIS splits tags on commas.
        "alert_tags": tags(inc).iter().map(|t| t.replace(',', " ")).collect::<Vec<_>>().join(","),
        "alert_source_content": inc,
    });
    if let Some(url) = &notice.url {
        alert["alert_source_link"] = url.as_str().into();
    }
    alert
}

/// TheHive's severity: 1 low, 2 medium, 3 high, 4 critical.
pub fn thehive_severity(severity: Severity) -> u8 {
    match severity {
        Severity::Advisory => 1,
        Severity::PolicyViolation => 2,
        Severity::SecurityIncident => 3,
        Severity::ReportableBreach => 4,
    }
}

/// IRIS's severity: 3 Low, 4 Medium, 5 High, 6 Critical (the same steps as TheHive's;
/// IRIS's 1 Unspecified and 2 Informational are below anything Brig raises).
pub fn iris_severity(severity: Severity) -> u8 {
    thehive_severity(severity) + 2
}

/// The TheHive observable type and value for a resource: `url` (any `scheme://` but
/// `file://`), `filename` (paths), `mail`, `ip` and `domain` (the host, without port), else
/// `other` (datasets, names).
pub fn observable(resource: &str) -> (&'static str, String) {
    let r = resource.trim();
    if let Some((scheme, rest)) = r.split_once("://") {
        if scheme.eq_ignore_ascii_case("file") {
            return ("filename", rest.to_string());
        }
        return ("url", r.to_string());
    }
    if r.contains(['/', '\\']) || r.starts_with(['~', '.']) {
        return ("filename", r.to_string());
    }
    if is_mail(r) {
        return ("mail", r.to_string());
    }
    if r.parse::<IpAddr>().is_ok() {
        return ("ip", r.to_string());
    }
    let host = brig_model::net::host_part(r);
    if host.parse::<IpAddr>().is_ok() {
        return ("ip", host);
    }
    if is_domain(&host) && !r.contains(char::is_whitespace) {
        return ("domain", host);
    }
    ("other", r.to_string())
}

fn is_mail(s: &str) -> bool {
    let Some((user, domain)) = s.split_once('@') else {
        return false;
    };
    !user.is_empty() && !user.contains([':', ' ']) && is_domain(domain)
}

fn is_domain(host: &str) -> bool {
    let labels: Vec<&str> = host.split('.').collect();
    let tld = labels.last().copied().unwrap_or("");
    labels.len() >= 2
        && labels
            .iter()
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        && tld.len() >= 2
        && tld.chars().all(|c| c.is_ascii_alphabetic())
}

/// One observable per distinct (type, value): TheHive refuses alerts with duplicates.
fn observables(resources: &BTreeSet<String>) -> Vec<Value> {
    let distinct: BTreeSet<(&str, String)> = resources.iter().map(|r| observable(r)).collect();
    distinct
        .into_iter()
        .map(|(kind, data)| json!({"dataType": kind, "data": data}))
        .collect()
}

/// `brig`, the severity, then `rule:`, `class:` and `outcome:` tags, so a case tool can
/// filter on each.
fn tags(inc: &Incident) -> Vec<String> {
    let mut tags = vec!["brig".to_string(), format!("severity:{}", inc.severity)];
    tags.extend(inc.rules.iter().map(|r| format!("rule:{r}")));
    tags.extend(inc.classes.iter().map(|c| format!("class:{c}")));
    tags.extend(
        inc.outcomes
            .iter()
            .map(|o| format!("outcome:{}", o.as_str())),
    );
    tags
}

/// The incident's title, with what changed when the notice is not the opening one (IRIS
/// makes one alert per notice, so its titles must tell them apart).
fn headline(notice: &Notice) -> String {
    let title = &notice.incident.title;
    match notice.event {
        Event::Opened => title.clone(),
        Event::SeverityRaised => format!("{title} (raised to {})", notice.incident.severity),
        Event::Contained => format!("{title} (contained)"),
        Event::Closed => format!("{title} (closed)"),
    }
}

/// When the incident was detected (else its first harmful event, else now).
fn event_time(inc: &Incident) -> DateTime<Utc> {
    inc.times
        .detected
        .or(inc.times.first_harmful)
        .map_or_else(Utc::now, DateTime::from_timestamp_nanos)
}

/// The Markdown both case tools show: who, why this severity, what was reached, when.
fn description(notice: &Notice) -> String {
    let inc = &notice.incident;
    let mut md = format!(
        "**Brig incident {}**: {}, {} ({})\n\n",
        inc.id,
        inc.severity,
        inc.state.as_str(),
        notice.event
    );
    md += &format!("- Agent: {}\n", code(&inc.agent));
    if let Some(w) = &inc.workflow {
        md += &format!("- Workflow: {}\n", code(w));
    }
    md += &line("Sessions", inc.sessions.iter().map(|s| code(s)));
    md += &line("Data classes", inc.classes.iter().cloned());
    md += &line("Outcomes", inc.outcomes.iter().map(|o| o.as_str().into()));
    md += &line("Rules", inc.rules.iter().map(|r| code(r)));
    md += &section("Why this severity", inc.reasons.iter().cloned());
    md += &section("Resources reached", inc.resources.iter().map(|r| code(r)));
    md += &section("Identities", inc.identities.iter().map(|i| code(i)));
    md += &section("Timeline (UTC)", timeline(inc).into_iter());
    if let Some(url) = &notice.url {
        md += &format!("\n[Open in Brig]({url})\n");
    }
    md
}

fn line(name: &str, items: impl Iterator<Item = String>) -> String {
    let items: Vec<String> = items.collect();
    if items.is_empty() {
        return String::new();
    }
    format!("- {name}: {}\n", items.join(", "))
}

/// A list, cut at [`SECTION_ITEMS`] (TheHive's observables and IRIS's source content carry
/// every resource).
fn section(name: &str, items: impl ExactSizeIterator<Item = String>) -> String {
    let total = items.len();
    if total == 0 {
        return String::new();
    }
    let mut md = format!("\n### {name}\n\n");
    for item in items.take(SECTION_ITEMS) {
        md += &format!("- {item}\n");
    }
    if total > SECTION_ITEMS {
        md += &format!("- … and {} more\n", total - SECTION_ITEMS);
    }
    md
}

const SECTION_ITEMS: usize = 50;

fn timeline(inc: &Incident) -> Vec<String> {
    inc.times
        .steps()
        .into_iter()
        .filter_map(|(name, at)| {
            let at = DateTime::from_timestamp_nanos(at?);
            Some(format!(
                "{name}: {}",
                at.to_rfc3339_opts(SecondsFormat::Secs, true)
            ))
        })
        .collect()
}

/// Inline code; backticks in untrusted names would end it early.
fn code(s: &str) -> String {
    format!("`{}`", s.replace('`', "'"))
}

// ---------------------------------------------------------------------------------------
// Delivery

/// A request ready to send, the same on every attempt.
struct Prepared {
    url: String,
    body: Vec<u8>,
    headers: Vec<(&'static str, String)>,
    secret: Option<Vec<u8>>,
}

/// Builds the request, reading secrets and keys from the environment now (so a rotated key
/// is picked up without restart).
fn prepare(target: &NotifyTarget, notice: &Notice, id: &str) -> Result<Prepared, NotifyError> {
    let base = target.url.trim_end_matches('/');
    let mut headers = vec![
        (EVENT_HEADER, notice.event.as_str().to_string()),
        (DELIVERY_HEADER, id.to_string()),
    ];
    let (url, body, secret) = match target.kind {
        // A webhook's URL is used as written: its path may end with a slash on purpose.
        NotifyKind::Webhook => (
            target.url.clone(),
            webhook_body(notice),
            webhook_secret(target)?,
        ),
        NotifyKind::TheHive => {
            headers.push(("Authorization", bearer(target)?));
            (format!("{base}/api/v1/alert"), thehive_alert(notice), None)
        }
        NotifyKind::Iris => {
            headers.push(("Authorization", bearer(target)?));
            let customer = target.customer_id.unwrap_or(1);
            (
                format!("{base}/alerts/add"),
                iris_alert(notice, customer),
                None,
            )
        }
    };
    let body = serde_json::to_vec(&body).map_err(|e| NotifyError::Request(e.to_string()))?;
    Ok(Prepared {
        url,
        body,
        headers,
        secret,
    })
}

fn webhook_secret(target: &NotifyTarget) -> Result<Option<Vec<u8>>, NotifyError> {
    let Some(var) = &target.secret_env else {
        return Ok(None);
    };
    // An empty key would sign with a key anyone knows: as bad as unsigned.
    match env_value(var) {
        Some(secret) => Ok(Some(secret.into_bytes())),
        None => Err(NotifyError::SecretUnset { var: var.clone() }),
    }
}

fn bearer(target: &NotifyTarget) -> Result<String, NotifyError> {
    let var = target
        .api_key_env
        .as_ref()
        .ok_or(NotifyError::NoApiKeyEnv {
            kind: kind_name(target.kind),
        })?;
    let key = env_value(var).ok_or_else(|| NotifyError::ApiKeyUnset { var: var.clone() })?;
    Ok(format!("Bearer {key}"))
}

fn env_value(var: &str) -> Option<String> {
    std::env::var(var).ok().filter(|v| !v.is_empty())
}

/// What one attempt came to.
enum Attempt {
    Delivered(u16),
    /// Worth trying again, perhaps after the receiver's `Retry-After`.
    Retry(Option<u16>, NotifyError, Option<Duration>),
    /// Trying again would get the same answer.
    Fail(Option<u16>, NotifyError),
}

fn attempt(client: &reqwest::blocking::Client, req: &Prepared, kind: NotifyKind) -> Attempt {
    let timestamp = Utc::now().timestamp().to_string();
    let mut rb = client
        .post(&req.url)
        .header("Content-Type", "application/json")
        .header(TIMESTAMP_HEADER, &timestamp)
        .body(req.body.clone());
    for (name, value) in &req.headers {
        rb = rb.header(*name, value);
    }
    if let Some(secret) = &req.secret {
        rb = rb.header(SIGNATURE_HEADER, sign(secret, &timestamp, &req.body));
    }
    match rb.send() {
        Ok(resp) => judge(resp, kind),
        Err(e) => transport_failure(&e),
    }
}

fn judge(resp: reqwest::blocking::Response, kind: NotifyKind) -> Attempt {
    let status = resp.status().as_u16();
    if resp.status().is_success() {
        return Attempt::Delivered(status);
    }
    let asked = retry_after(&resp);
    let body = excerpt(resp);
    let already = body.to_ascii_lowercase().contains("already exists");
    if kind == NotifyKind::TheHive && matches!(status, 400 | 409) && already {
        return Attempt::Delivered(status);
    }
    if status == 429 || status >= 500 {
        return Attempt::Retry(
            Some(status),
            NotifyError::Unavailable { status, body },
            asked,
        );
    }
    // Redirects are not followed (a signed body must not go elsewhere): they land here too.
    Attempt::Fail(Some(status), NotifyError::Refused { status, body })
}

fn retry_after(resp: &reqwest::blocking::Response) -> Option<Duration> {
    let value = resp.headers().get("Retry-After")?.to_str().ok()?;
    value.trim().parse().ok().map(Duration::from_secs)
}

/// The start of an error body, for the report (receivers may answer with whole pages).
fn excerpt(resp: reqwest::blocking::Response) -> String {
    let mut bytes = Vec::new();
    let _ = resp.take(2048).read_to_end(&mut bytes);
    let text = String::from_utf8_lossy(&bytes);
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    text.chars().take(300).collect()
}

fn transport_failure(e: &reqwest::Error) -> Attempt {
    let chain = error_chain(e);
    if e.is_builder() {
        return Attempt::Fail(None, NotifyError::Request(chain));
    }
    // Refused connections, timeouts, resets mid-request: the receiver may be back soon.
    Attempt::Retry(None, NotifyError::Transport(chain), None)
}

/// reqwest's own message hides the cause ("error sending request"): add the sources.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text += &format!(": {s}");
        source = s.source();
    }
    text
}

fn client(retry: &Retry) -> Result<reqwest::blocking::Client, NotifyError> {
    reqwest::blocking::Client::builder()
        .timeout(retry.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("brig/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| NotifyError::Client(error_chain(&e)))
}

/// Set when the notifier stops waiting; wakes backoff sleeps.
#[derive(Default)]
struct Stop {
    stopped: Mutex<bool>,
    wake: Condvar,
}

impl Stop {
    fn set(&self) {
        *self.stopped.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.wake.notify_all();
    }

    fn is_set(&self) -> bool {
        *self.stopped.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sleeps `d` unless stopped; false if stopped.
    fn sleep(&self, d: Duration) -> bool {
        let guard = self.stopped.lock().unwrap_or_else(|p| p.into_inner());
        let (guard, _) = self
            .wake
            .wait_timeout_while(guard, d, |stopped| !*stopped)
            .unwrap_or_else(|p| p.into_inner());
        !*guard
    }
}

fn new_delivery(target: &NotifyTarget, notice: &Notice, id: &str) -> Delivery {
    Delivery {
        target: target_name(target),
        delivery: id.to_string(),
        event: notice.event,
        incident: notice.incident.id.clone(),
        attempts: 0,
        ok: false,
        status: None,
        error: None,
        elapsed_ms: 0,
    }
}

fn failed(target: &NotifyTarget, notice: &Notice, id: &str, e: &NotifyError) -> Delivery {
    Delivery {
        error: Some(e.to_string()),
        ..new_delivery(target, notice, id)
    }
}

/// One notice to one target, with retries.
fn deliver(
    client: &reqwest::blocking::Client,
    target: &NotifyTarget,
    notice: &Notice,
    id: &str,
    retry: &Retry,
    stop: &Stop,
) -> Delivery {
    let started = Instant::now();
    let mut d = new_delivery(target, notice, id);
    match prepare(target, notice, id) {
        Ok(req) => try_all(client, &req, target.kind, retry, stop, &mut d),
        Err(e) => d.error = Some(e.to_string()),
    }
    d.elapsed_ms = started.elapsed().as_millis().try_into().unwrap_or(u64::MAX);
    d
}

fn try_all(
    client: &reqwest::blocking::Client,
    req: &Prepared,
    kind: NotifyKind,
    retry: &Retry,
    stop: &Stop,
    d: &mut Delivery,
) {
    let attempts = retry.attempts.max(1);
    for n in 1..=attempts {
        d.attempts = n;
        let (status, error, asked) = match attempt(client, req, kind) {
            Attempt::Delivered(status) => {
                (d.ok, d.status, d.error) = (true, Some(status), None);
                return;
            }
            Attempt::Fail(status, e) => {
                (d.status, d.error) = (status, Some(e.to_string()));
                return;
            }
            Attempt::Retry(status, e, asked) => (status, e, asked),
        };
        (d.status, d.error) = (status, Some(error.to_string()));
        if n == attempts {
            return;
        }
        let random = uuid::Uuid::now_v7().as_u128() as u64;
        if !stop.sleep(retry.delay(n, random, asked)) {
            d.error = Some(format!("{error}; {}", NotifyError::Stopped));
            return;
        }
    }
}

/// Delivers one notice to one target now, on this thread (not inside an async runtime:
/// the client is a blocking one).
pub fn send_now(target: &NotifyTarget, notice: &Notice, retry: &Retry) -> Delivery {
    let id = uuid::Uuid::now_v7().to_string();
    match client(retry) {
        Ok(client) => deliver(&client, target, notice, &id, retry, &Stop::default()),
        Err(e) => failed(target, notice, &id, &e),
    }
}

/// A notice queued for some of the targets.
struct Job {
    notice: Notice,
    targets: Vec<usize>,
    id: String,
}

/// Delivers notices on one background thread (see the module docs).
pub struct Notifier {
    targets: Vec<NotifyTarget>,
    queue: Option<mpsc::Sender<Job>>,
    /// Disconnects when the worker ends.
    done: Option<mpsc::Receiver<()>>,
    worker: Option<JoinHandle<()>>,
    stop: Arc<Stop>,
}

impl Notifier {
    /// Starts the worker with the default [`Retry`]; `on_result` gets every delivery.
    pub fn start(targets: &[NotifyTarget], on_result: impl Fn(Delivery) + Send + 'static) -> Self {
        Self::start_with(targets, Retry::default(), on_result)
    }

    pub fn start_with(
        targets: &[NotifyTarget],
        retry: Retry,
        on_result: impl Fn(Delivery) + Send + 'static,
    ) -> Self {
        let (queue, jobs) = mpsc::channel();
        let (done_tx, done) = mpsc::channel();
        let stop = Arc::new(Stop::default());
        let worker = Worker {
            targets: targets.to_vec(),
            retry,
            stop: stop.clone(),
            _done: done_tx,
        };
        let worker = std::thread::Builder::new()
            .name("brig-notify".into())
            .spawn(move || worker.run(jobs, on_result))
            .ok();
        Notifier {
            targets: targets.to_vec(),
            // Without a worker, notices are dropped rather than queued forever.
            queue: worker.as_ref().map(|_| queue),
            done: Some(done),
            worker,
            stop,
        }
    }

    /// Queues the notice for the targets its incident's severity reaches; never blocks.
    pub fn notify(&self, notice: Notice) {
        let severity = notice.incident.severity;
        let targets: Vec<usize> = (0..self.targets.len())
            .filter(|&i| self.targets[i].at <= severity)
            .collect();
        if targets.is_empty() {
            return;
        }
        if let Some(queue) = &self.queue {
            let id = uuid::Uuid::now_v7().to_string();
            let _ = queue.send(Job {
                notice,
                targets,
                id,
            });
        }
    }

    /// Waits up to [`FINISH_WITHIN`] for the queued deliveries, then stops; true if all
    /// were done.
    pub fn finish(self) -> bool {
        self.finish_within(FINISH_WITHIN)
    }

    /// Waits up to `bound` for the queued deliveries. Past it, the worker abandons what is
    /// left (each reported as failed once its request in flight, if any, ends) and is
    /// left to end on its own; false then.
    pub fn finish_within(mut self, bound: Duration) -> bool {
        self.close(bound)
    }

    fn close(&mut self, bound: Duration) -> bool {
        self.queue = None;
        let Some(done) = self.done.take() else {
            return true;
        };
        match done.recv_timeout(bound) {
            Err(RecvTimeoutError::Disconnected) | Ok(()) => {
                if let Some(worker) = self.worker.take() {
                    let _ = worker.join();
                }
                true
            }
            Err(RecvTimeoutError::Timeout) => {
                self.stop.set();
                false
            }
        }
    }
}

impl Drop for Notifier {
    fn drop(&mut self) {
        self.close(FINISH_WITHIN);
    }
}

struct Worker {
    targets: Vec<NotifyTarget>,
    retry: Retry,
    stop: Arc<Stop>,
    /// Dropped when the worker ends, which is what `finish` waits for.
    _done: mpsc::Sender<()>,
}

impl Worker {
    fn run(self, jobs: mpsc::Receiver<Job>, on_result: impl Fn(Delivery)) {
        // Built on the first notice: a process that never notifies keeps no client thread.
        let mut client = None;
        for job in jobs {
            let client = client.get_or_insert_with(|| client_for(&self.retry));
            for &i in &job.targets {
                let d = self.one(client, &self.targets[i], &job);
                // A panicking recorder must not end notifications.
                let _ = catch_unwind(AssertUnwindSafe(|| on_result(d)));
            }
        }
    }

    fn one(
        &self,
        client: &Result<reqwest::blocking::Client, String>,
        target: &NotifyTarget,
        job: &Job,
    ) -> Delivery {
        let (notice, id) = (&job.notice, job.id.as_str());
        if self.stop.is_set() {
            return failed(target, notice, id, &NotifyError::Stopped);
        }
        match client {
            Ok(c) => deliver(c, target, notice, id, &self.retry, &self.stop),
            Err(e) => failed(target, notice, id, &NotifyError::Client(e.clone())),
        }
    }
}

fn client_for(retry: &Retry) -> Result<reqwest::blocking::Client, String> {
    client(retry).map_err(|e| match e {
        NotifyError::Client(msg) => msg,
        other => other.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_is_capped_and_jittered_into_its_upper_half() {
        let r = Retry {
            attempts: 10,
            first: Duration::from_millis(200),
            max: Duration::from_secs(10),
            timeout: Duration::from_secs(1),
        };
        for (n, full) in [(1, 200), (2, 400), (3, 800), (7, 10_000), (40, 10_000)] {
            let full = Duration::from_millis(full);
            for random in [0, 1, 12_345_678_901, u64::MAX] {
                let d = r.delay(n, random, None);
                assert!(d >= full / 2 && d <= full, "attempt {n}: {d:?}");
            }
        }
        let asked = Some(Duration::from_secs(3));
        assert!(r.delay(1, 0, asked) >= Duration::from_secs(3));
        assert!(r.delay(1, 0, Some(Duration::from_secs(99))) <= r.max);
    }

    #[test]
    fn resources_become_observables() {
        for (resource, kind, data) in [
            (
                "https://u@evil.example.com:8443/x",
                "url",
                "https://u@evil.example.com:8443/x",
            ),
            (
                "postgres://db.corp:5432/app",
                "url",
                "postgres://db.corp:5432/app",
            ),
            ("file:///etc/passwd", "filename", "/etc/passwd"),
            (
                "/srv/data/customers.csv",
                "filename",
                "/srv/data/customers.csv",
            ),
            (
                "C:\\Users\\x\\secrets.txt",
                "filename",
                "C:\\Users\\x\\secrets.txt",
            ),
            ("~/.aws/credentials", "filename", "~/.aws/credentials"),
            ("ana@contoso.com", "mail", "ana@contoso.com"),
            ("10.0.0.5", "ip", "10.0.0.5"),
            ("10.0.0.5:22", "ip", "10.0.0.5"),
            ("::1", "ip", "::1"),
            ("Files.Example.com:443", "domain", "files.example.com"),
            ("invoices", "other", "invoices"),
            ("a name with spaces", "other", "a name with spaces"),
        ] {
            assert_eq!(observable(resource), (kind, data.to_string()), "{resource}");
        }
    }
}
