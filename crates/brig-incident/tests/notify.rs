//! Notifications against local receivers: signed webhooks, retries, TheHive 5 and IRIS
//! payloads, severity thresholds, receivers down or slow.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::net::TcpListener;
use std::sync::{mpsc, Arc, Mutex, Once};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State as AxState;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::Router;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use brig_incident::notify::{
    iris_alert, send_now, thehive_alert, webhook_body, Delivery, Event, Notice, Notifier, Retry,
};
use brig_incident::{Incident, Outcome, Severity, State, Times};
use brig_register::{NotifyKind, NotifyTarget};

const SECRET_VAR: &str = "BRIG_NOTIFY_TEST_WEBHOOK_SECRET";
const SECRET: &str = "s3cret-for-tests";
const EMPTY_VAR: &str = "BRIG_NOTIFY_TEST_EMPTY_SECRET";
const UNSET_VAR: &str = "BRIG_NOTIFY_TEST_NEVER_SET";
const THEHIVE_VAR: &str = "BRIG_NOTIFY_TEST_THEHIVE_KEY";
const IRIS_VAR: &str = "BRIG_NOTIFY_TEST_IRIS_KEY";

/// Sets every variable the tests read, once, before any test reads one (tests run in
/// parallel in one process; setting the environment while another thread reads it races).
fn env() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        std::env::set_var(SECRET_VAR, SECRET);
        std::env::set_var(EMPTY_VAR, "");
        std::env::set_var(THEHIVE_VAR, "th-key");
        std::env::set_var(IRIS_VAR, "iris-key");
    });
}

const T0: i64 = 1_767_225_600_000_000_000; // 2026-01-01T00:00:00Z

fn set<const N: usize>(items: [&str; N]) -> BTreeSet<String> {
    items.into_iter().map(String::from).collect()
}

fn incident(severity: Severity) -> Incident {
    Incident {
        id: "INC-0194a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b".into(),
        title: "Customer data sent to an unknown host".into(),
        agent: "devbox-coder".into(),
        sessions: set(["sess-1"]),
        workflow: Some("repo-maintenance".into()),
        severity,
        reasons: vec![
            "rule brig.exfil.classified_to_unknown is high".into(),
            "customer data copied outside its boundary".into(),
        ],
        state: State::Contained,
        owner: None,
        verdict: None,
        legal_hold: false,
        classes: set(["customer", "pii"]),
        outcomes: [Outcome::Exposed, Outcome::CopiedOut].into(),
        resources: set([
            "/srv/data/customers.csv",
            "https://paste.evil.example/up",
            "ana@contoso.com",
            "203.0.113.7:443",
            "invoices",
        ]),
        identities: set(["agent:devbox-coder"]),
        rules: set(["brig.exfil.classified_to_unknown"]),
        alerts: vec!["evt-1".into()],
        times: Times {
            first_harmful: Some(T0),
            detected: Some(T0 + 5_000_000_000),
            contained: Some(T0 + 6_000_000_000),
            ..Times::default()
        },
    }
}

fn notice(event: Event, severity: Severity) -> Notice {
    Notice {
        url: Some("https://brig.example/incidents/1".into()),
        ..Notice::new(event, incident(severity))
    }
}

fn target(kind: NotifyKind, url: &str, at: Severity) -> NotifyTarget {
    NotifyTarget {
        kind,
        url: url.into(),
        secret_env: None,
        api_key_env: None,
        customer_id: None,
        at,
    }
}

fn webhook(url: &str, secret_env: Option<&str>) -> NotifyTarget {
    NotifyTarget {
        secret_env: secret_env.map(String::from),
        ..target(NotifyKind::Webhook, url, Severity::Advisory)
    }
}

fn fast() -> Retry {
    Retry {
        attempts: 5,
        first: Duration::from_millis(10),
        max: Duration::from_millis(40),
        timeout: Duration::from_secs(5),
    }
}

// ---------------------------------------------------------------------------------------
// A local receiver: answers from a script (then 200), records every request.

#[derive(Clone, Debug)]
struct Hit {
    path: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

impl Hit {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", String::as_str)
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

#[derive(Default)]
struct Receiver {
    replies: Mutex<VecDeque<(u16, &'static str)>>,
    hits: Mutex<Vec<Hit>>,
    delay: Duration,
}

impl Receiver {
    fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }
}

async fn record(
    AxState(rx): AxState<Arc<Receiver>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, &'static str) {
    let headers = headers
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let hit = Hit {
        path: uri.path().to_string(),
        headers,
        body: body.to_vec(),
    };
    rx.hits.lock().unwrap().push(hit);
    tokio::time::sleep(rx.delay).await;
    let (status, body) = rx.replies.lock().unwrap().pop_front().unwrap_or((200, ""));
    (StatusCode::from_u16(status).unwrap(), body)
}

/// Serves on 127.0.0.1 from a runtime on its own thread; returns the base URL.
fn serve(replies: &[(u16, &'static str)], delay: Duration) -> (String, Arc<Receiver>) {
    let rx = Arc::new(Receiver {
        replies: Mutex::new(replies.iter().copied().collect()),
        delay,
        ..Receiver::default()
    });
    let app = Router::new().fallback(record).with_state(rx.clone());
    let (tx, addr) = mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    (format!("http://{}", addr.recv().unwrap()), rx)
}

fn receiver(replies: &[(u16, &'static str)]) -> (String, Arc<Receiver>) {
    serve(replies, Duration::ZERO)
}

/// Runs a notifier over `targets` for `notices`, waits for it, returns what it reported.
fn notify_all(targets: &[NotifyTarget], retry: Retry, notices: Vec<Notice>) -> Vec<Delivery> {
    let (tx, rx) = mpsc::channel();
    let notifier = Notifier::start_with(targets, retry, move |d| tx.send(d).unwrap());
    for n in notices {
        notifier.notify(n);
    }
    assert!(notifier.finish(), "deliveries did not finish in time");
    rx.try_iter().collect()
}

fn expected_signature(timestamp: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

// ---------------------------------------------------------------------------------------
// Webhook

#[test]
fn webhook_body_is_signed_over_timestamp_dot_body() {
    env();
    let (base, rx) = receiver(&[]);
    let url = format!("{base}/hook");
    let sent = notice(Event::Contained, Severity::SecurityIncident);
    let d = notify_all(
        &[webhook(&url, Some(SECRET_VAR))],
        fast(),
        vec![sent.clone()],
    );

    assert_eq!(d.len(), 1);
    let d = &d[0];
    assert!(d.ok, "{d:?}");
    assert_eq!(
        (d.attempts, d.status, d.error.as_deref()),
        (1, Some(200), None)
    );
    assert_eq!(d.target, format!("webhook {url}"));
    assert_eq!(
        (d.event, d.incident.as_str()),
        (Event::Contained, sent.incident.id.as_str())
    );

    let hits = rx.hits();
    assert_eq!(hits.len(), 1);
    let hit = &hits[0];
    assert_eq!(hit.path, "/hook");
    assert_eq!(hit.header("content-type"), "application/json");
    assert_eq!(hit.header("x-brig-event"), "incident.contained");
    assert_eq!(hit.header("x-brig-delivery"), d.delivery);
    assert!(!d.delivery.is_empty());
    let ts = hit.header("x-brig-timestamp");
    let age = chrono::Utc::now().timestamp() - ts.parse::<i64>().unwrap();
    assert!((0..60).contains(&age), "timestamp {ts}");
    assert_eq!(
        hit.header("x-brig-signature"),
        expected_signature(ts, &hit.body)
    );

    let body = hit.json();
    assert_eq!(body["type"], "incident.contained");
    assert_eq!(body["version"], 1);
    assert_eq!(body["url"], "https://brig.example/incidents/1");
    assert_eq!(
        body["incident"],
        serde_json::to_value(&sent.incident).unwrap()
    );
    let sent_at = body["sent_at"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(sent_at).is_ok(),
        "{sent_at}"
    );
}

#[test]
fn server_errors_are_retried_with_the_same_delivery_id_and_body() {
    env();
    let (base, rx) = receiver(&[(500, "down"), (429, "slow down"), (503, "busy")]);
    let target = webhook(&base, Some(SECRET_VAR));
    let d = notify_all(
        &[target],
        fast(),
        vec![notice(Event::Opened, Severity::PolicyViolation)],
    );

    assert_eq!(d.len(), 1);
    assert!(d[0].ok, "{:?}", d[0]);
    assert_eq!((d[0].attempts, d[0].status), (4, Some(200)));
    let hits = rx.hits();
    assert_eq!(hits.len(), 4);
    for hit in &hits {
        assert_eq!(hit.header("x-brig-delivery"), d[0].delivery);
        assert_eq!(hit.body, hits[0].body, "retries resend the same bytes");
        let ts = hit.header("x-brig-timestamp");
        assert_eq!(
            hit.header("x-brig-signature"),
            expected_signature(ts, &hit.body)
        );
    }
}

#[test]
fn client_errors_are_reported_and_not_retried() {
    env();
    let (base, rx) = receiver(&[(400, "{\"error\": \"bad payload\"}")]);
    let d = send_now(
        &webhook(&base, Some(SECRET_VAR)),
        &notice(Event::Opened, Severity::SecurityIncident),
        &fast(),
    );
    assert!(!d.ok);
    assert_eq!((d.attempts, d.status), (1, Some(400)));
    let error = d.error.unwrap();
    assert!(
        error.contains("HTTP 400") && error.contains("bad payload"),
        "{error}"
    );
    assert_eq!(rx.hits().len(), 1);
}

#[test]
fn a_named_secret_that_is_unset_or_empty_sends_nothing() {
    env();
    let (base, rx) = receiver(&[]);
    for var in [UNSET_VAR, EMPTY_VAR] {
        let d = send_now(
            &webhook(&base, Some(var)),
            &notice(Event::Opened, Severity::SecurityIncident),
            &fast(),
        );
        assert!(!d.ok);
        assert_eq!((d.attempts, d.status), (0, None));
        let error = d.error.unwrap();
        assert!(error.contains(var) && error.contains("not set"), "{error}");
    }
    // Through the notifier too: reported, never sent unsigned.
    let d = notify_all(
        &[webhook(&base, Some(UNSET_VAR))],
        fast(),
        vec![notice(Event::Opened, Severity::SecurityIncident)],
    );
    assert_eq!(d.len(), 1);
    assert!(!d[0].ok && d[0].error.as_deref().unwrap().contains(UNSET_VAR));
    assert!(rx.hits().is_empty());
}

#[test]
fn a_webhook_without_secret_env_is_sent_unsigned() {
    env();
    let (base, rx) = receiver(&[]);
    let d = send_now(
        &webhook(&base, None),
        &notice(Event::Closed, Severity::Advisory),
        &fast(),
    );
    assert!(d.ok, "{d:?}");
    let hits = rx.hits();
    assert_eq!(hits[0].header("x-brig-signature"), "");
    assert_eq!(hits[0].header("x-brig-event"), "incident.closed");
}

// ---------------------------------------------------------------------------------------
// TheHive and IRIS

fn thehive(base: &str) -> NotifyTarget {
    NotifyTarget {
        api_key_env: Some(THEHIVE_VAR.into()),
        ..target(NotifyKind::TheHive, base, Severity::PolicyViolation)
    }
}

fn iris(base: &str) -> NotifyTarget {
    NotifyTarget {
        api_key_env: Some(IRIS_VAR.into()),
        customer_id: Some(7),
        ..target(NotifyKind::Iris, base, Severity::PolicyViolation)
    }
}

fn observable_set(alert: &Value) -> BTreeSet<(String, String)> {
    let list = alert["observables"].as_array().unwrap();
    let pair = |o: &Value| {
        (
            o["dataType"].as_str().unwrap().into(),
            o["data"].as_str().unwrap().into(),
        )
    };
    list.iter().map(pair).collect()
}

#[test]
fn thehive_gets_its_alert_shape_with_the_bearer_key() {
    env();
    let already = r#"{"type":"CreateError","message":"Alert already exists"}"#;
    let (base, rx) = receiver(&[(201, "{}"), (400, already)]);
    let opened = notice(Event::Opened, Severity::SecurityIncident);
    let d = send_now(&thehive(&format!("{base}/")), &opened, &fast());
    assert!(d.ok, "{d:?}");
    assert_eq!(
        (d.status, d.target.as_str()),
        (Some(201), format!("thehive {base}/").as_str())
    );

    let hits = rx.hits();
    assert_eq!(hits[0].path, "/api/v1/alert");
    assert_eq!(hits[0].header("authorization"), "Bearer th-key");
    assert_eq!(hits[0].header("content-type"), "application/json");
    let alert = hits[0].json();
    assert_eq!(alert, thehive_alert(&opened));
    assert_eq!(alert["type"], "brig-incident");
    assert_eq!(alert["source"], "brig");
    assert_eq!(alert["sourceRef"], opened.incident.id);
    assert_eq!(alert["title"], opened.incident.title);
    assert_eq!(alert["severity"], 3);
    assert_eq!(alert["date"], (T0 + 5_000_000_000) / 1_000_000);
    assert_eq!(alert["externalLink"], "https://brig.example/incidents/1");
    let tags: Vec<&str> = alert["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    for tag in [
        "brig",
        "rule:brig.exfil.classified_to_unknown",
        "class:pii",
        "outcome:copied_out",
    ] {
        assert!(tags.contains(&tag), "{tags:?}");
    }
    let expected: BTreeSet<(String, String)> = [
        ("filename", "/srv/data/customers.csv"),
        ("url", "https://paste.evil.example/up"),
        ("mail", "ana@contoso.com"),
        ("ip", "203.0.113.7"),
        ("other", "invoices"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(observable_set(&alert), expected);
    let description = alert["description"].as_str().unwrap();
    for part in [
        "customer data copied outside its boundary",
        "`/srv/data/customers.csv`",
        "copied_out",
        "pii",
    ] {
        assert!(description.contains(part), "{description}");
    }

    // TheHive refuses a second alert with the same sourceRef: it has the incident already.
    let raised = notice(Event::SeverityRaised, Severity::ReportableBreach);
    let d = send_now(&thehive(&base), &raised, &fast());
    assert!(d.ok && d.error.is_none(), "{d:?}");
    assert_eq!((d.attempts, d.status), (1, Some(400)));
    assert_eq!(rx.hits()[1].json()["sourceRef"], opened.incident.id);
}

#[test]
fn iris_gets_its_alert_shape_with_the_bearer_key() {
    env();
    let (base, rx) = receiver(&[(200, r#"{"status":"success","data":{}}"#)]);
    let raised = notice(Event::SeverityRaised, Severity::SecurityIncident);
    let d = send_now(&iris(&base), &raised, &fast());
    assert!(d.ok, "{d:?}");

    let hits = rx.hits();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].path, "/alerts/add");
    assert_eq!(hits[0].header("authorization"), "Bearer iris-key");
    assert_eq!(hits[0].header("content-type"), "application/json");
    let alert = hits[0].json();
    assert_eq!(alert, iris_alert(&raised, 7));
    assert_eq!(
        alert["alert_title"],
        "Customer data sent to an unknown host (raised to security_incident)"
    );
    assert_eq!(alert["alert_source"], "brig");
    assert_eq!(alert["alert_source_ref"], raised.incident.id);
    assert_eq!(
        alert["alert_source_link"],
        "https://brig.example/incidents/1"
    );
    assert_eq!(alert["alert_severity_id"], 5);
    assert_eq!(alert["alert_status_id"], 2);
    assert_eq!(alert["alert_customer_id"], 7);
    assert_eq!(alert["alert_source_event_time"], "2026-01-01T00:00:05");
    let tags = alert["alert_tags"].as_str().unwrap();
    assert!(
        tags.starts_with("brig,severity:security_incident,rule:brig.exfil."),
        "{tags}"
    );
    assert_eq!(
        alert["alert_source_content"],
        serde_json::to_value(&raised.incident).unwrap()
    );
    let description = alert["alert_description"].as_str().unwrap();
    assert!(description.contains("rule brig.exfil.classified_to_unknown is high"));
}

#[test]
fn case_tools_without_their_api_key_get_nothing() {
    env();
    let (base, rx) = receiver(&[]);
    let n = notice(Event::Opened, Severity::SecurityIncident);
    let unset = NotifyTarget {
        api_key_env: Some(UNSET_VAR.into()),
        ..iris(&base)
    };
    let d = send_now(&unset, &n, &fast());
    assert!(
        !d.ok && d.error.as_deref().unwrap().contains(UNSET_VAR),
        "{d:?}"
    );
    let unnamed = NotifyTarget {
        api_key_env: None,
        ..thehive(&base)
    };
    let d = send_now(&unnamed, &n, &fast());
    assert!(
        !d.ok && d.error.as_deref().unwrap().contains("api_key_env"),
        "{d:?}"
    );
    assert!(rx.hits().is_empty());
}

#[test]
fn severities_map_onto_each_case_tool() {
    let steps = [
        (Severity::Advisory, 1, 3),
        (Severity::PolicyViolation, 2, 4),
        (Severity::SecurityIncident, 3, 5),
        (Severity::ReportableBreach, 4, 6),
    ];
    for (severity, thehive, iris) in steps {
        let n = notice(Event::Opened, severity);
        assert_eq!(thehive_alert(&n)["severity"], thehive);
        assert_eq!(iris_alert(&n, 1)["alert_severity_id"], iris);
    }
}

#[test]
fn payloads_are_stable_and_untrusted_text_stays_inert() {
    let mut n = notice(Event::Opened, Severity::Advisory);
    n.url = None;
    n.incident.rules = set(["a,b"]);
    n.incident.resources = set(["`rm -rf`", "/a", "/a"]);
    let body = webhook_body(&n);
    let keys: BTreeSet<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        ["incident", "sent_at", "type", "url", "version"].into()
    );
    assert_eq!(body["url"], Value::Null);

    let hive = thehive_alert(&n);
    assert!(hive.get("externalLink").is_none());
    assert_eq!(hive["title"], n.incident.title);
    assert!(hive["description"].as_str().unwrap().contains("`'rm -rf'`"));
    let iris = iris_alert(&n, 1);
    assert!(iris.get("alert_source_link").is_none());
    assert!(iris["alert_tags"].as_str().unwrap().contains("rule:a b"));
    assert_eq!(
        observable_set(&hive),
        [
            ("filename".into(), "/a".into()),
            ("other".into(), "`rm -rf`".into())
        ]
        .into()
    );
    n.incident.resources = (0..60).map(|i| format!("/data/{i}")).collect();
    let description = thehive_alert(&n)["description"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(description.contains("- … and 10 more\n"), "{description}");
    assert_eq!(
        thehive_alert(&n)["observables"].as_array().unwrap().len(),
        60
    );
    assert_eq!(
        thehive_alert(&notice(Event::Closed, Severity::Advisory))["title"],
        json!("Customer data sent to an unknown host (closed)")
    );
}

// ---------------------------------------------------------------------------------------
// The notifier

#[test]
fn targets_get_only_incidents_at_or_above_their_threshold() {
    env();
    let (high, high_rx) = receiver(&[]);
    let (low, low_rx) = receiver(&[]);
    let only_breaches = NotifyTarget {
        at: Severity::ReportableBreach,
        ..webhook(&high, None)
    };
    let incidents = NotifyTarget {
        at: Severity::SecurityIncident,
        ..webhook(&low, None)
    };
    let d = notify_all(
        &[only_breaches, incidents],
        fast(),
        vec![
            notice(Event::Opened, Severity::SecurityIncident),
            notice(Event::Opened, Severity::PolicyViolation),
        ],
    );
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].target, format!("webhook {low}"));
    assert!(high_rx.hits().is_empty());
    assert_eq!(low_rx.hits().len(), 1);
}

#[test]
fn a_receiver_down_exhausts_the_attempts_and_notify_does_not_wait() {
    env();
    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let retry = Retry {
        attempts: 3,
        first: Duration::from_millis(100),
        max: Duration::from_secs(1),
        timeout: Duration::from_secs(2),
    };
    let (tx, rx) = mpsc::channel();
    let targets = [webhook(&format!("http://{closed}/hook"), Some(SECRET_VAR))];
    let notifier = Notifier::start_with(&targets, retry, move |d| tx.send(d).unwrap());
    let started = Instant::now();
    notifier.notify(notice(Event::Contained, Severity::SecurityIncident));
    assert!(
        started.elapsed() < Duration::from_millis(50),
        "notify blocked"
    );
    assert!(notifier.finish());

    let d: Vec<Delivery> = rx.try_iter().collect();
    assert_eq!(d.len(), 1);
    assert!(!d[0].ok);
    assert_eq!((d[0].attempts, d[0].status), (3, None));
    let error = d[0].error.as_deref().unwrap();
    assert!(error.contains("cannot reach"), "{error}");
    // Two backoffs: at least 50 + 100 ms with the jitter.
    assert!(d[0].elapsed_ms >= 150, "{:?}", d[0]);
}

#[test]
fn finish_waits_no_longer_than_its_bound() {
    env();
    let (base, rx) = serve(&[], Duration::from_secs(1));
    let notifier = Notifier::start_with(&[webhook(&base, None)], fast(), |_| {});
    notifier.notify(notice(Event::Opened, Severity::SecurityIncident));
    notifier.notify(notice(Event::Closed, Severity::SecurityIncident));
    let started = Instant::now();
    assert!(!notifier.finish_within(Duration::from_millis(200)));
    assert!(started.elapsed() < Duration::from_secs(1));
    // The first was in flight; the second is abandoned, never sent.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(rx.hits().len(), 1);
}

#[test]
fn https_targets_are_spoken_to_over_tls_and_retried_when_unreachable() {
    let d = send_now(
        &webhook("https://127.0.0.1:9/hook", None),
        &notice(Event::Opened, Severity::SecurityIncident),
        &fast(),
    );
    assert!(!d.ok);
    // A transport failure like any other (this build has TLS): retried to the end.
    assert_eq!(d.attempts, fast().attempts, "{d:?}");
}
