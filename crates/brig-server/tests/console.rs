//! The web console without a browser: sign-in and sessions, cookie flags, CSRF, the auditor's
//! read-only pages and refused writes, the kill switch's confirmation, escaping of what
//! agents control, and the timeline of a large incident read a page at a time.
//!
//! Each test runs `brig serve`'s server in-process on a fresh data directory (SQLite, or the
//! PostgreSQL database `BRIG_TEST_DATABASE` names when `BRIG_TEST_BACKEND=postgresql`) and
//! talks HTTP to it on loopback, as a browser would (cookies carried by hand).

use std::sync::Arc;

use brig_ledger::Prepared;
use brig_model::{EventKind, NewEvent, Timestamp};
use brig_server::auth::{self, Role};
use brig_store::{Approval, DataDir, Store};
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::StatusCode;
use serde_json::json;

struct Console {
    base: String,
    data: DataDir,
    http: reqwest::Client,
    operator: String,
    auditor: String,
    agent: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    served: Option<tokio::task::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

fn data_dir(root: &std::path::Path) -> DataDir {
    let url = match (
        std::env::var("BRIG_TEST_BACKEND").as_deref(),
        std::env::var("BRIG_TEST_DATABASE"),
    ) {
        (Ok("postgresql"), Ok(admin)) => Some(brig_store::scratch_database(&admin).unwrap()),
        _ => None,
    };
    let opts = brig_store::InitOptions {
        database: url.as_deref(),
        ..Default::default()
    };
    DataDir::init_with(root, &opts).unwrap().0
}

impl Console {
    /// A data directory with three tokens; `before` records what the test needs first.
    async fn start(before: impl FnOnce(&DataDir) + Send + 'static) -> Console {
        Console::start_with(before, None).await
    }

    /// [`Console::start`], with the built-in rules and incident response running by the
    /// risk register `register` (TOML), as `brig serve --register` does.
    async fn start_with(
        before: impl FnOnce(&DataDir) + Send + 'static,
        register: Option<&str>,
    ) -> Console {
        let dir = tempfile::Builder::new()
            .prefix("brig-test-")
            .tempdir()
            .unwrap();
        let root = dir.path().join("data");
        let (data, operator, auditor, agent) = tokio::task::spawn_blocking(move || {
            let data = data_dir(&root);
            let mut s = data.store().unwrap();
            let operator = auth::create(&mut s, "alice", Role::Operator, None, "test").unwrap();
            let auditor = auth::create(&mut s, "audrey", Role::Auditor, None, "test").unwrap();
            let agent = auth::create(&mut s, "bot", Role::Agent, Some("a1"), "test").unwrap();
            before(&data);
            (data, operator, auditor, agent)
        })
        .await
        .unwrap();
        let state = match register {
            None => brig_server::State::open(data.clone(), None).unwrap(),
            Some(text) => {
                let reg = Arc::new(brig_register::Register::parse(text, "brig.toml").unwrap());
                let detection = brig_gateway::detection::Detection::new(
                    &brig_detect::rules::Rules::builtin(),
                    Some(reg.clone()),
                    &[],
                    Some(&data),
                )
                .unwrap();
                let response = brig_gateway::response::ResponseConfig {
                    register: Some(reg),
                    policies: None,
                };
                brig_server::State::open_with(data.clone(), None, Some(detection), Some(response))
                    .unwrap()
            }
        };
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let served = tokio::spawn(async move {
            brig_server::serve(
                state,
                "127.0.0.1:0".parse().unwrap(),
                async move {
                    let _ = rx.await;
                },
                move |addr| {
                    let _ = ready_tx.send(addr);
                },
            )
            .await
            .unwrap();
        });
        let addr = ready_rx.await.unwrap();
        Console {
            base: format!("http://{addr}"),
            data,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            operator,
            auditor,
            agent,
            stop: Some(tx),
            served: Some(served),
            _dir: dir,
        }
    }

    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.served.take().unwrap().await.unwrap();
    }

    /// Signs in with `token`: the answer and the session cookie it set, if any.
    async fn login(&self, token: &str) -> (reqwest::Response, Option<String>) {
        let res = self
            .http
            .post(format!("{}/ui/login", self.base))
            .form(&[("token", token)])
            .send()
            .await
            .unwrap();
        let cookie = res
            .headers()
            .get(SET_COOKIE)
            .map(|v| v.to_str().unwrap().to_string());
        (res, cookie)
    }

    /// A signed-in session's cookie header value.
    async fn session(&self, token: &str) -> String {
        let (res, cookie) = self.login(token).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        cookie.unwrap().split(';').next().unwrap().to_string()
    }

    async fn get(&self, cookie: &str, path: &str) -> (StatusCode, String) {
        let res = self
            .http
            .get(format!("{}{path}", self.base))
            .header(COOKIE, cookie)
            .send()
            .await
            .unwrap();
        let status = res.status();
        (status, res.text().await.unwrap())
    }

    async fn post(&self, cookie: &str, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.base))
            .header(COOKIE, cookie)
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// The session's CSRF value, from a page's form.
    async fn csrf(&self, cookie: &str) -> String {
        let (_, page) = self.get(cookie, "/ui/ledger").await;
        between(&page, "name=\"csrf\" value=\"", "\"")
            .expect("every signed-in page carries the CSRF value in its sign-out form")
            .to_string()
    }

    fn store(&self) -> Store {
        self.data.store().unwrap()
    }
}

fn between<'a>(s: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = s.find(start)? + start.len();
    let len = s[from..].find(end)?;
    Some(&s[from..from + len])
}

fn location(res: &reqwest::Response) -> &str {
    res.headers()
        .get(LOCATION)
        .map(|v| v.to_str().unwrap())
        .unwrap_or("")
}

fn call(
    agent: &str,
    session: &str,
    tool: &str,
    args: serde_json::Value,
    ts: Option<i64>,
) -> Prepared {
    let mut e = NewEvent::new("test", agent, EventKind::ToolCall);
    e.session = Some(session.into());
    e.workflow = Some("wf-docs".into());
    e.tool = Some(tool.into());
    e.call = Some("1".into());
    e.ts = ts.map(Timestamp::from_unix_nanos);
    e.payload.insert("arguments".into(), args);
    Prepared::new(e).unwrap()
}

/// An incident over `sessions` of `agent`, filed as the desk would store it.
fn file_incident(s: &mut Store, id: &str, agent: &str, sessions: &[&str], at: i64) {
    let i: brig_incident::Incident = serde_json::from_value(json!({
        "id": id, "title": "test incident", "agent": agent, "sessions": sessions,
        "workflow": "wf-docs", "severity": "security_incident",
        "reasons": ["rule level high", "secrets were read"], "state": "open", "owner": null,
        "verdict": null, "legal_hold": false, "classes": ["secrets"], "outcomes": ["exposed"],
        "resources": [], "identities": [], "rules": ["test-rule"], "alerts": [],
        "times": {"first_harmful": at, "detected": at, "acknowledged": null, "contained": null,
                  "eradicated": null, "recovered": null, "closed": null}
    }))
    .unwrap();
    s.put_incident(&brig_incident::desk::row_of(
        &i,
        &format!("agent:{agent}"),
        at,
    ))
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_sets_a_strict_http_only_cookie_and_sign_out_or_revocation_ends_it() {
    let c = Console::start(|_| {}).await;
    // Not signed in: every page sends you to the login page; / goes to the console.
    for path in [
        "/ui/",
        "/ui/incidents",
        "/ui/agents",
        "/ui/ledger",
        "/ui/live",
    ] {
        let res = c
            .http
            .get(format!("{}{path}", c.base))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(location(&res), "/ui/login", "{path}");
    }
    let res = c.http.get(format!("{}/", c.base)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/ui/");

    // A wrong token, and an agent's token: refused alike.
    for bad in ["brig_nothing", c.agent.as_str()] {
        let (res, cookie) = c.login(bad).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert!(cookie.is_none());
        let body = res.text().await.unwrap();
        assert!(body.contains("role=\"alert\""), "{body}");
        assert!(body.contains("That token is not valid."));
    }

    let (res, cookie) = c.login(&c.operator).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/ui/");
    let set = cookie.unwrap();
    assert!(set.starts_with("brig_console="), "{set}");
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set.split("; ").any(|f| f == flag), "{flag} missing: {set}");
    }
    let cookie = set.split(';').next().unwrap().to_string();
    let (status, page) = c.get(&cookie, "/ui/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Signed in as alice (operator)"));
    assert!(page.contains("<nav aria-label=\"Main\">"));
    for link in [
        "Overview",
        "Incidents",
        "Agents",
        "Approvals",
        "Rollback",
        "Evidence",
        "Metrics",
        "Ledger",
    ] {
        assert!(page.contains(&format!(">{link}</a>")), "nav link {link}");
    }
    assert_eq!(page.matches("<h1").count(), 1);
    assert!(page.contains("Skip to content"));
    // No inline script may run and no other site may frame the kill switch.
    let res = c
        .http
        .get(format!("{}/ui/agents", c.base))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    let csp = res.headers()["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert_eq!(res.headers()["x-frame-options"], "DENY");

    // Sign-out needs the CSRF value too.
    let res = c.post(&cookie, "/ui/logout", &[]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let csrf = c.csrf(&cookie).await;
    let res = c.post(&cookie, "/ui/logout", &[("csrf", &csrf)]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/ui/login");
    let (status, _) = c.get(&cookie, "/ui/").await;
    assert_eq!(status, StatusCode::SEE_OTHER);

    // Revoking the token ends the sessions it opened, from the next request on.
    let cookie = c.session(&c.operator).await;
    assert_eq!(c.get(&cookie, "/ui/").await.0, StatusCode::OK);
    assert!(c.store().revoke_token("alice", 1).unwrap());
    assert_eq!(c.get(&cookie, "/ui/").await.0, StatusCode::SEE_OTHER);
    c.stop().await;
}

/// Data for every page: an agent seen, a held call, an incident.
fn seed(d: &DataDir) {
    let mut ledger = d.ledger().unwrap();
    let r = ledger
        .append(&[call(
            "a1",
            "s1",
            "write_file",
            json!({"path": "/tmp/x"}),
            None,
        )])
        .unwrap();
    let mut s = d.store().unwrap();
    s.add_approval(&Approval {
        id: "ap-1".into(),
        event_index: r[0].index,
        agent: "a1".into(),
        workflow: Some("wf-docs".into()),
        tool: "write_file".into(),
        summary: "file.write /tmp/x".into(),
        policies: "hold-writes".into(),
        status: "pending".into(),
        created_nanos: Timestamp::now().unix_nanos(),
        decided_nanos: None,
        decided_by: None,
        reason: None,
    })
    .unwrap();
    file_incident(
        &mut s,
        "INC-test-1",
        "a1",
        &["s1"],
        Timestamp::now().unix_nanos(),
    );
}

/// The controls that change something. Verifying the ledger and exporting evidence change
/// nothing (the API lets auditors export too): auditors have those.
const WRITE_CONTROLS: [&str; 6] = [
    ">Contain<",
    ">Freeze<",
    ">Release<",
    ">Approve<",
    ">Deny<",
    ">Apply rollback<",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_auditor_sees_no_write_control_and_every_write_is_refused_but_verifies_and_exports() {
    let c = Console::start(seed).await;
    // The operator sees the controls the auditor must not.
    let op = c.session(&c.operator).await;
    let (_, agents) = c.get(&op, "/ui/agents").await;
    assert!(
        agents.contains(">Contain<") && agents.contains(">Freeze<"),
        "{agents}"
    );
    let (_, approvals) = c.get(&op, "/ui/approvals").await;
    assert!(approvals.contains(">Approve<") && approvals.contains(">Deny<"));

    let au = c.session(&c.auditor).await;
    let pages = [
        "/ui/",
        "/ui/incidents",
        "/ui/incidents/INC-test-1",
        "/ui/agents",
        "/ui/approvals",
        "/ui/rollback?incident=INC-test-1",
        "/ui/evidence",
        "/ui/metrics",
        "/ui/ledger",
    ];
    for path in pages {
        let (status, page) = c.get(&au, path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {page}");
        assert!(
            page.contains("Read-only: signed in as an auditor"),
            "{path}"
        );
        for control in WRITE_CONTROLS {
            assert!(!page.contains(control), "{path} shows {control}");
        }
    }
    // Forged writes, with the auditor's own valid CSRF value: 403 each, nothing changed.
    let csrf = c.csrf(&au).await;
    let writes: [(&str, Vec<(&str, &str)>); 3] = [
        (
            "/ui/confirm",
            vec![
                ("action", "contain"),
                ("scope", "agent:a1"),
                ("reason", "forged"),
            ],
        ),
        (
            "/ui/approvals/ap-1",
            vec![("decision", "approve"), ("reason", "forged")],
        ),
        (
            "/ui/rollback/apply",
            vec![("incident", "INC-test-1"), ("canary", "1")],
        ),
    ];
    for (path, mut form) in writes {
        form.push(("csrf", &csrf));
        let res = c.post(&au, path, &form).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{path}");
    }
    let (status, _) = c
        .get(&au, "/ui/confirm?action=contain&scope=agent:a1")
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let mut s = c.store();
    assert!(s.containments().unwrap().is_empty());
    assert_eq!(s.approval("ap-1").unwrap().unwrap().status, "pending");

    // What changes nothing, the auditor does: verify the ledger, export evidence (recorded
    // with the auditor's token as the one who took it).
    for page in ["/ui/ledger", "/ui/evidence"] {
        let (_, html) = c.get(&au, page).await;
        assert!(
            html.contains(">Verify now<") || html.contains(">Export evidence<"),
            "{page}: {html}"
        );
    }
    let res = c.post(&au, "/ui/ledger/verify", &[("csrf", &csrf)]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let page = res.text().await.unwrap();
    assert!(page.contains("Ledger verified:"), "{page}");
    let res = c
        .post(
            &au,
            "/ui/evidence/export",
            &[("csrf", &csrf), ("incident", "INC-test-1")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (_, page) = c.get(&au, "/ui/evidence").await;
    assert!(page.contains(">verified<"), "{page}");
    let exports: Vec<_> = std::fs::read_dir(c.data.root().join("exports"))
        .unwrap()
        .collect();
    assert_eq!(exports.len(), 1);
    let mut s = c.store();
    let recorded: Vec<_> = s
        .kinds_since(0, &["operator.action"], 100)
        .unwrap()
        .into_iter()
        .map(|i| {
            use brig_ledger::store::LedgerStore;
            brig_model::Event::from_leaf(&s.leaf(i).unwrap().unwrap().leaf).unwrap()
        })
        .filter(|e| e.attrs["action"] == "evidence.export")
        .map(|e| e.attrs["actor"].clone())
        .collect();
    assert_eq!(recorded, vec![serde_json::json!("token:audrey")]);
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_without_the_session_csrf_value_is_refused() {
    let c = Console::start(seed).await;
    let op = c.session(&c.operator).await;
    let order = [
        ("action", "contain"),
        ("scope", "agent:a1"),
        ("reason", "test"),
    ];
    let res = c.post(&op, "/ui/confirm", &order).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let mut wrong = order.to_vec();
    wrong.push(("csrf", "not-the-value"));
    let res = c.post(&op, "/ui/confirm", &wrong).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // Another session's value does not do either.
    let other = c.session(&c.operator).await;
    let theirs = c.csrf(&other).await;
    let mut borrowed = order.to_vec();
    borrowed.push(("csrf", &theirs));
    let res = c.post(&op, "/ui/confirm", &borrowed).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(c.store().containments().unwrap().is_empty());
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn containing_needs_a_reason_and_records_it_with_the_token() {
    let c = Console::start(seed).await;
    let op = c.session(&c.operator).await;
    let (status, page) = c
        .get(&op, "/ui/confirm?action=contain&scope=agent:a1")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("<h1>Contain agent a1?</h1>"), "{page}");
    assert!(page.contains("<label for=\"reason\">Reason</label>"));
    assert!(page.contains("required"));
    assert!(page.contains(">Contain agent a1</button>"));
    assert!(page.contains(">Cancel</a>"));
    let csrf = c.csrf(&op).await;

    let res = c
        .post(
            &op,
            "/ui/confirm",
            &[
                ("csrf", &csrf),
                ("action", "contain"),
                ("scope", "agent:a1"),
                ("reason", "  "),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let body = res.text().await.unwrap();
    assert!(
        body.contains("role=\"alert\">A reason is required.<"),
        "{body}"
    );
    assert!(c.store().containments().unwrap().is_empty());

    let res = c
        .post(
            &op,
            "/ui/confirm",
            &[
                ("csrf", &csrf),
                ("action", "contain"),
                ("scope", "agent:a1"),
                ("reason", "exfiltration suspected"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/ui/agents");
    let (_, agents) = c.get(&op, "/ui/agents").await;
    assert!(
        agents.contains("role=\"status\">Agent a1 contained.<"),
        "{agents}"
    );
    assert!(agents.contains(">Release<"));
    let cs = c.store().containments().unwrap();
    assert_eq!(cs.len(), 1);
    assert_eq!(cs[0].actor, "token:alice");
    assert_eq!(cs[0].reason, "exfiltration suspected");
    // The order is in the ledger as the API's are: an operator.action naming the token.
    let mut s = c.store();
    let idx = s.kinds_since(0, &["operator.action"], 10).unwrap();
    let e = {
        use brig_ledger::store::LedgerStore;
        brig_model::Event::from_leaf(&s.leaf(*idx.last().unwrap()).unwrap().unwrap().leaf).unwrap()
    };
    assert_eq!(e.attrs["action"], "contain");
    assert_eq!(e.attrs["actor"], "token:alice");

    // Released the same way; the message says so.
    let res = c
        .post(
            &op,
            "/ui/confirm",
            &[
                ("csrf", &csrf),
                ("action", "release"),
                ("scope", "agent:a1"),
                ("reason", "cleared"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (_, agents) = c.get(&op, "/ui/agents").await;
    assert!(agents.contains("Agent a1 released."));
    assert!(c.store().containments().unwrap().is_empty());
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_agents_control_is_escaped() {
    const EVIL: &str = "<script>alert(1)</script>";
    let c = Console::start(|d| {
        let mut ledger = d.ledger().unwrap();
        let r = ledger
            .append(&[call(
                EVIL,
                "s-evil",
                EVIL,
                json!({"path": EVIL, "note": "\"><img src=x onerror=alert(2)>"}),
                None,
            )])
            .unwrap();
        let mut s = d.store().unwrap();
        s.add_approval(&Approval {
            id: "ap-evil".into(),
            event_index: r[0].index,
            agent: EVIL.into(),
            workflow: None,
            tool: EVIL.into(),
            summary: EVIL.into(),
            policies: EVIL.into(),
            status: "pending".into(),
            created_nanos: Timestamp::now().unix_nanos(),
            decided_nanos: None,
            decided_by: None,
            reason: None,
        })
        .unwrap();
        file_incident(
            &mut s,
            "INC-evil",
            EVIL,
            &["s-evil"],
            Timestamp::now().unix_nanos(),
        );
    })
    .await;
    let op = c.session(&c.operator).await;
    for path in [
        "/ui/",
        "/ui/agents",
        "/ui/approvals",
        "/ui/incidents",
        "/ui/incidents/INC-evil",
    ] {
        let (status, page) = c.get(&op, path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(
            !page.contains("<script>alert"),
            "{path} carries the agent's script"
        );
        assert!(
            !page.contains("<img src=x"),
            "{path} carries the agent's markup"
        );
        assert!(
            page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{path}: {page}"
        );
    }
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_incident_s_timeline_is_paged_and_counted_in_buckets() {
    const EVENTS: i64 = 20_000;
    let t0 = 1_700_000_000_000_000_000i64;
    let c = Console::start(move |d| {
        let mut ledger = d.ledger().unwrap();
        for chunk in (0..EVENTS).collect::<Vec<_>>().chunks(2000) {
            let batch: Vec<Prepared> = chunk
                .iter()
                .map(|n| {
                    call(
                        "a1",
                        "big",
                        "read_file",
                        json!({"path": format!("/w/{n}")}),
                        Some(t0 + n * 1_000_000_000),
                    )
                })
                .collect();
            ledger.append(&batch).unwrap();
        }
        // Another session's events are not the incident's.
        ledger
            .append(&[call("a1", "other", "read_file", json!({}), Some(t0))])
            .unwrap();
        let mut s = d.store().unwrap();
        file_incident(&mut s, "INC-big", "a1", &["big"], t0);
    })
    .await;
    let op = c.session(&c.operator).await;
    let (status, page) = c.get(&op, "/ui/incidents/INC-big").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("<h1>Incident INC-big</h1>"));
    for h2 in [
        "Severity",
        "Commander&#39;s questions",
        "Reporting clocks",
        "Playbook",
        "Alerts",
        "Timeline",
    ] {
        assert!(
            page.contains(&format!(">{h2}</h2>"))
                || page.contains(&format!(">{}</h2>", h2.replace("&#39;", "'"))),
            "h2 {h2}"
        );
    }
    assert!(page.contains("<caption>Events</caption>"));
    // The NIS2 early warning (any data, security incident): due 24 h after detection, a
    // <time> the script counts down; overdue long ago for a detection in 2023.
    assert!(
        page.contains("<time class=\"countdown\" datetime=\"2023-11-15T22:13:20Z\""),
        "{page}"
    );
    assert!(page.contains("overdue by "));
    assert_eq!(
        page.matches("<details><summary>").count(),
        200,
        "one page of events"
    );
    // The newest page first: the last event is on it, and there are older ones.
    assert!(
        page.contains(">#19999<"),
        "the incident's latest event, index 19999"
    );
    assert!(
        !page.contains(">#20000<"),
        "another session's event is not the incident's"
    );
    assert!(page.contains(">Older events<"));
    assert!(!page.contains(">Newer events<"));
    // The overview's bars count every event of the incident, once.
    let mut total = 0u64;
    let mut first_zoom = None;
    for part in page.split("<a href=\"").skip(1) {
        let Some(label) = between(part, "aria-label=\"Zoom to ", "\"") else {
            continue;
        };
        let n: u64 = between(label, "(", " events)").unwrap().parse().unwrap();
        total += n;
        if first_zoom.is_none() {
            let href = part[..part.find('"').unwrap()].replace("&amp;", "&");
            first_zoom = Some((href, n));
        }
    }
    assert_eq!(
        total, EVENTS as u64,
        "bucket counts sum to the incident's events"
    );

    // Older events: the 200 before.
    let older = between(&page, "href=\"", "\" rel=\"prev\"")
        .map(|h| h[h.rfind("href=\"").map_or(0, |i| i + 6)..].replace("&amp;", "&"))
        .unwrap();
    let (_, page2) = c.get(&op, &older).await;
    assert_eq!(page2.matches("<details><summary>").count(), 200);
    assert!(page2.contains(">#19799<") && page2.contains(">#19600<"));
    assert!(!page2.contains(">#19800<") && !page2.contains(">#19599<"));
    assert!(page2.contains(">Newer events<") && page2.contains(">Older events<"));

    // Zoomed to the first bar: only its events, and a way back out.
    // The commander's questions read every event: on a page of their own for an incident
    // this large, so the incident's page does not wait for them.
    assert!(page.contains("href=\"/ui/incidents/INC-big/questions\""));
    let (status, answers) = c.get(&op, "/ui/incidents/INC-big/questions").await;
    assert_eq!(status, StatusCode::OK);
    assert!(answers.contains("What did the agent do?"), "{answers}");
    assert!(
        answers.contains("20000 events, 20000 tool calls"),
        "{answers}"
    );
    // Asked again with nothing new: the same answer (from the cache).
    let (_, again) = c.get(&op, "/ui/frag/incidents/INC-big/questions").await;
    assert!(again.contains("20000 events, 20000 tool calls"));

    let (href, n) = first_zoom.unwrap();
    let (_, zoomed) = c.get(&op, &href).await;
    assert!(zoomed.contains(">Zoom out<"));
    assert!(
        zoomed.contains(&format!("; {n} between ")),
        "the bar's {n} events"
    );
    let rows = zoomed.matches("<details><summary>").count();
    assert_eq!(rows as u64, n.min(200));
    // The first bar's newest event is the incident's (n-1)th; nothing after it.
    assert!(zoomed.contains(&format!(">#{}<", n - 1)));
    assert!(!zoomed.contains(&format!(">#{}<", n)));
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_call_is_decided_in_the_console_with_a_reason_and_the_token() {
    let c = Console::start(seed).await;
    let op = c.session(&c.operator).await;
    let (_, page) = c.get(&op, "/ui/approvals").await;
    assert!(page.contains("<caption>Pending approvals</caption>"));
    assert!(
        page.contains("&quot;path&quot;: &quot;/tmp/x&quot;")
            || page.contains("\"path\": \"/tmp/x\""),
        "{page}"
    );
    assert!(page.contains("hold-writes"), "the policy that held it");
    let csrf = c.csrf(&op).await;
    // No reason: refused, still pending.
    let res = c
        .post(
            &op,
            "/ui/approvals/ap-1",
            &[("csrf", &csrf), ("decision", "approve"), ("reason", "")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (_, page) = c.get(&op, "/ui/approvals").await;
    assert!(page.contains("role=\"alert\""), "{page}");
    assert_eq!(
        c.store().approval("ap-1").unwrap().unwrap().status,
        "pending"
    );
    let res = c
        .post(
            &op,
            "/ui/approvals/ap-1",
            &[
                ("csrf", &csrf),
                ("decision", "approve"),
                ("reason", "the task says so"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (_, page) = c.get(&op, "/ui/approvals").await;
    assert!(page.contains("role=\"status\">Approved ap-1.<"), "{page}");
    let a = c.store().approval("ap-1").unwrap().unwrap();
    assert_eq!(a.status, "approved");
    assert_eq!(a.decided_by.as_deref(), Some("token:alice"));
    assert_eq!(a.reason.as_deref(), Some("the task says so"));
    // Decided once: a second decision is refused with a message, not a change.
    let res = c
        .post(
            &op,
            "/ui/approvals/ap-1",
            &[("csrf", &csrf), ("decision", "deny"), ("reason", "late")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (_, page) = c.get(&op, "/ui/approvals").await;
    assert!(page.contains("role=\"alert\""));
    assert_eq!(
        c.store().approval("ap-1").unwrap().unwrap().status,
        "approved"
    );
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evidence_is_exported_verified_and_only_bundles_are_downloadable() {
    let c = Console::start(seed).await;
    let op = c.session(&c.operator).await;
    let csrf = c.csrf(&op).await;
    let res = c
        .post(
            &op,
            "/ui/evidence/export",
            &[("csrf", &csrf), ("incident", "INC-test-1")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (_, page) = c.get(&op, "/ui/evidence").await;
    assert!(
        page.contains("role=\"status\">Exported INC-test-1-"),
        "{page}"
    );
    assert!(page.contains(">verified<"), "{page}");
    let name = between(&page, "href=\"/ui/evidence/files/", "\"")
        .unwrap()
        .to_string();
    let res = c
        .http
        .get(format!("{}/ui/evidence/files/{name}", c.base))
        .header(COOKIE, &op)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let disposition = res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(disposition, format!("attachment; filename=\"{name}\""));
    let bytes = res.bytes().await.unwrap();
    let on_disk = std::fs::read(c.data.root().join("exports").join(&name)).unwrap();
    assert_eq!(bytes.as_ref(), on_disk.as_slice());
    // The downloaded bundle verifies offline against the ledger's key.
    let saved = c.data.root().join("downloaded.tar");
    std::fs::write(&saved, &bytes).unwrap();
    let report = brig_evidence::verify::verify_file(&saved, Some(&c.data.verifier().unwrap()));
    assert!(report.ok, "{:?}", report.problems);
    // Nothing outside exports/ is served, whatever the name says.
    for bad in [
        "..%2Fledger.db",
        "%2E%2E%2Fkeys%2Fledger.key",
        ".hidden",
        "a%2Fb",
    ] {
        let (status, _) = c.get(&op, &format!("/ui/evidence/files/{bad}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{bad}");
    }
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_stream_names_new_events_alerts_and_containment() {
    let c = Console::start(seed).await;
    let op = c.session(&c.operator).await;
    let mut res = c
        .http
        .get(format!("{}/ui/live", c.base))
        .header(COOKIE, &op)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    // Another writer appends an alert; an operator contains the agent through the API's
    // switch: both arrive, named.
    let data = c.data.clone();
    tokio::task::spawn_blocking(move || {
        let mut e = NewEvent::new("test", "a1", EventKind::Alert);
        e.session = Some("s1".into());
        data.ledger()
            .unwrap()
            .append(&[Prepared::new(e).unwrap()])
            .unwrap();
        let order = brig_incident::switch::Order {
            scope: brig_store::Scope::Agent("a1".into()),
            reason: "test".into(),
            actor: "token:alice".into(),
            kill_upstream: false,
        };
        brig_incident::switch::contain(&data, &order).unwrap();
    })
    .await
    .unwrap();
    let mut seen = String::new();
    let wanted = [
        "event: alert",
        "event: containment",
        "\"agent\":\"a1\"",
        "\"kind\":\"alert\"",
    ];
    let read = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        while !wanted.iter().all(|w| seen.contains(w)) {
            match res.chunk().await.unwrap() {
                Some(b) => seen.push_str(&String::from_utf8_lossy(&b)),
                None => break,
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the stream did not announce both: {seen}");
    for w in wanted {
        assert!(seen.contains(w), "{w} missing from {seen}");
    }
    drop(res);
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_register_s_workflows_are_listed_and_frozen_by_name() {
    const REGISTER: &str =
        "[[workflow]]\nname = \"support\"\nagents = [\"helpdesk\"]\ntools = [\"get_ticket\"]\n";
    let c = Console::start_with(
        |d| {
            // The agent's events name no workflow: the register says which it serves.
            let mut e = NewEvent::new("test", "helpdesk", EventKind::ToolCall);
            e.tool = Some("get_ticket".into());
            d.ledger()
                .unwrap()
                .append(&[Prepared::new(e).unwrap()])
                .unwrap();
        },
        Some(REGISTER),
    )
    .await;
    let op = c.session(&c.operator).await;
    let (_, page) = c.get(&op, "/ui/agents").await;
    let workflows = &page[page.find("<caption>Workflows</caption>").unwrap()..];
    assert!(
        workflows.contains("<th scope=\"row\">support</th>"),
        "{page}"
    );
    assert!(workflows.contains(">Freeze<"));
    let agents = &page[..page.find("<caption>Workflows</caption>").unwrap()];
    assert!(agents.contains("<td>support</td>"), "{agents}");
    // Freezing the workflow contains its agent.
    let csrf = c.csrf(&op).await;
    let res = c
        .post(
            &op,
            "/ui/confirm",
            &[
                ("csrf", &csrf),
                ("action", "freeze"),
                ("scope", "workflow:support"),
                ("reason", "drill"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (_, page) = c.get(&op, "/ui/agents").await;
    assert!(
        page.contains("role=\"status\">Workflow support frozen.<"),
        "{page}"
    );
    let agents = &page[..page.find("<caption>Workflows</caption>").unwrap()];
    assert!(
        agents.contains(">contained<") && agents.contains("workflow:support"),
        "{agents}"
    );
    c.stop().await;
}

/// Incidents keep rule ids; the metrics page names a built-in rule by its title, and a rule
/// it does not know by its id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metrics_page_names_rules_by_title() {
    const STEALTH_BACKUP: &str = "5f4e3d2c-1b0a-4f9e-8d7c-6b5a4f3e2d06";
    let c = Console::start(|d| {
        let mut s = d.store().unwrap();
        let at = 1_765_000_000_000_000_000;
        file_incident(&mut s, "INC-t1", "a1", &["s1"], at);
        let mut i: brig_incident::Incident = serde_json::from_value(json!({
            "id": "INC-t2", "title": "stealth copy", "agent": "a2", "sessions": ["s2"],
            "workflow": null, "severity": "security_incident", "reasons": [], "state": "open",
            "owner": null, "verdict": null, "legal_hold": false, "classes": [], "outcomes": [],
            "resources": [], "identities": [], "rules": [], "alerts": [],
            "times": {"first_harmful": at, "detected": at, "acknowledged": null,
                      "contained": null, "eradicated": null, "recovered": null, "closed": null}
        }))
        .unwrap();
        i.rules.insert(STEALTH_BACKUP.into());
        s.put_incident(&brig_incident::desk::row_of(&i, "agent:a2", at))
            .unwrap();
    })
    .await;
    let op = c.session(&c.operator).await;
    let (status, page) = c.get(&op, "/ui/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("Copy or archive to a hidden, temporary or volatile place"),
        "{page}"
    );
    assert!(!page.contains(STEALTH_BACKUP));
    assert!(page.contains("test-rule"));
}
