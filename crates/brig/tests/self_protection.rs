//! Self-protection: Brig's own files and processes are off limits to every agent, whatever
//! the user's policies say. Each attempt — through the real proxy in front of the real MCP
//! reference filesystem server, through a coding agent's hook (a shell command, a write) — is
//! denied before it runs by the guard, the file is untouched on disk, and the ledger holds a
//! critical "monitoring tampering" alert, which incident response acts on (the agent is
//! contained). The user's policy in every test permits everything. Both backends.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::mcp::McpSession;
use common::*;
use serde_json::{json, Value};

/// The built-in rule that turns a guard denial into a critical alert.
const TAMPERING: &str = "4e37e4a8-df95-4849-a72c-6a71ffce9710";
const GUARD: &str = "brig.guard.brig-owned";

/// A policy directory permitting every action on every resource.
fn permit_all(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("all.cedar"),
        "@id(\"user.permit-all\")\npermit (principal, action, resource);\n",
    )
    .unwrap();
    dir.canonicalize().unwrap()
}

/// An MCP client session through `brig mcp-proxy` in front of the real filesystem server.
fn proxy(data: &Path, agent: &str, policies: &Path, ws: &Path) -> McpSession {
    proxy_with(data, agent, policies, ws, &[])
}

/// The same, with more of the proxy's options (`extra`).
fn proxy_with(
    data: &Path,
    agent: &str,
    policies: &Path,
    ws: &Path,
    extra: &[&std::ffi::OsStr],
) -> McpSession {
    let mut cmd = brig();
    cmd.args(["mcp-proxy", "--agent", agent, "--task", "Tidy the notes"])
        .args(extra)
        .arg("--policy")
        .arg(policies)
        .arg("--data")
        .arg(data)
        .arg("--")
        .arg("node")
        .arg(server_bin())
        .arg(ws);
    McpSession::start(cmd, Duration::from_secs(20))
}

fn text(response: &Value) -> String {
    response["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// The ledger's events.
fn ledger(data: &Path) -> Vec<Value> {
    let o = run(data, &["ledger", "show", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    stdout(&o)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .collect()
}

/// The agent's policy decisions and the tampering alerts raised against it.
fn guarded(data: &Path, agent: &str) -> (Vec<Value>, Vec<Value>) {
    let events = ledger(data);
    let of = |kind: &str| -> Vec<Value> {
        events
            .iter()
            .map(|e| e["event"].clone())
            .filter(|e| e["kind"] == kind && e["agent"] == agent)
            .collect()
    };
    let alerts = of("alert")
        .into_iter()
        .filter(|a| a["attrs"]["rule_id"] == TAMPERING)
        .collect();
    (of("policy.decision"), alerts)
}

/// Asserts `agent`'s first call was denied by the guard and raised one critical alert.
fn denied_by_guard_with_a_critical_alert(data: &Path, agent: &str) {
    let (decisions, alerts) = guarded(data, agent);
    assert!(!decisions.is_empty(), "{agent}: no decision");
    assert_eq!(decisions[0]["decision"]["effect"], "deny", "{decisions:?}");
    assert!(
        decisions[0]["decision"]["policies"]
            .as_array()
            .unwrap()
            .contains(&json!(GUARD)),
        "{decisions:?}"
    );
    assert_eq!(alerts.len(), 1, "{agent}: {alerts:?}");
    assert_eq!(alerts[0]["attrs"]["level"], "critical");
    assert_eq!(alerts[0]["attrs"]["prevented"], true);
}

fn verifies(data: &Path) {
    let o = run(data, &["ledger", "verify"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
}

#[test]
fn the_proxy_denies_brigs_own_files_under_a_permit_all_policy_and_alerts() {
    let tmp = tempdir();
    // The served directory holds the data directory (brig's default, ./brig-data) and the
    // policies the proxy runs by.
    let ws = tmp.path().join("ws");
    std::fs::create_dir_all(&ws).unwrap();
    let ws = ws.canonicalize().unwrap();
    let data = init(&ws).canonicalize().unwrap();
    let policies = permit_all(&ws.join("policies"));
    std::fs::write(ws.join("notes.md"), "notes\n").unwrap();
    let vkey = data.join("keys/ledger.vkey");
    let vkey_before = std::fs::read(&vkey).unwrap();
    let policy_before = std::fs::read(policies.join("all.cedar")).unwrap();

    // The permissive policy does permit ordinary work.
    let mut s = proxy(&data, "agent-ok", &policies, &ws);
    let r = s.call(
        "write_file",
        json!({"path": ws.join("notes.md"), "content": "tidied\n"}),
    );
    assert_ne!(r["result"]["isError"], true, "{r}");
    s.finish();
    assert_eq!(
        std::fs::read_to_string(ws.join("notes.md")).unwrap(),
        "tidied\n"
    );

    // Each attempt on Brig's own files, by a fresh agent (the first one is contained).
    let attempts: Vec<(&str, &str, Value)> = vec![
        (
            "agent-key",
            "write_file",
            json!({"path": vkey, "content": "attacker key"}),
        ),
        (
            "agent-policy",
            "write_file",
            json!({"path": policies.join("all.cedar"), "content": "// gone"}),
        ),
        (
            "agent-move",
            "move_file",
            json!({"source": data, "destination": ws.join("old-data")}),
        ),
        (
            "agent-edit",
            "edit_file",
            json!({"path": policies.join("all.cedar"),
                   "edits": [{"oldText": "permit", "newText": "forbid"}]}),
        ),
        (
            "agent-hooks",
            "write_file",
            json!({"path": ws.join(".claude/settings.json"),
                   "content": "{\"disableAllHooks\": true}"}),
        ),
    ];
    for (agent, tool, args) in &attempts {
        let mut s = proxy(&data, agent, &policies, &ws);
        let r = s.call(tool, args.clone());
        assert_eq!(r["result"]["isError"], true, "{agent}: {r}");
        assert!(text(&r).contains("Brig's own"), "{agent}: {}", text(&r));
        // Incident response contained the agent: even a read is refused now.
        let r = s.call("read_text_file", json!({"path": ws.join("notes.md")}));
        assert_eq!(r["result"]["isError"], true, "{agent}: {r}");
        assert!(text(&r).contains("contain"), "{agent}: {}", text(&r));
        s.finish();
        denied_by_guard_with_a_critical_alert(&data, agent);
    }

    // Nothing was touched.
    assert_eq!(std::fs::read(&vkey).unwrap(), vkey_before);
    assert_eq!(
        std::fs::read(policies.join("all.cedar")).unwrap(),
        policy_before
    );
    assert!(!ws.join("old-data").exists());
    assert!(!ws.join(".claude").exists());
    let o = run(&data, &["incidents", "list", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    for (agent, _, _) in &attempts {
        assert!(
            stdout(&o).contains(agent),
            "no incident for {agent}: {}",
            stdout(&o)
        );
    }
    verifies(&data);
}

#[test]
fn detection_off_or_the_users_own_rules_still_alert_on_tampering() {
    let tmp = tempdir();
    let ws = tmp.path().join("ws");
    std::fs::create_dir_all(&ws).unwrap();
    let ws = ws.canonicalize().unwrap();
    let data = init(&ws).canonicalize().unwrap();
    let policies = permit_all(&tmp.path().join("policies"));
    std::fs::write(ws.join("notes.md"), "notes\n").unwrap();
    // A user's rule set that says nothing of Brig.
    let rules = tmp.path().join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::write(
        rules.join("mine.yml"),
        "title: Deletes\nid: user-deletes\nlogsource:\n  product: brig\n  category: file\n\
         detection:\n  del:\n    action: file.delete\n  condition: del\nlevel: low\n",
    )
    .unwrap();
    let vkey = data.join("keys/ledger.vkey");
    let before = std::fs::read(&vkey).unwrap();
    let runs: [(&str, Vec<&std::ffi::OsStr>); 2] = [
        ("agent-no-detect", vec!["--no-detect".as_ref()]),
        (
            "agent-own-rules",
            vec!["--rules".as_ref(), rules.as_os_str()],
        ),
    ];
    for (agent, extra) in &runs {
        let mut s = proxy_with(&data, agent, &policies, &ws, extra);
        let r = s.call(
            "write_file",
            json!({"path": vkey, "content": "attacker key"}),
        );
        assert_eq!(r["result"]["isError"], true, "{agent}: {r}");
        let r = s.call("read_text_file", json!({"path": ws.join("notes.md")}));
        assert!(text(&r).contains("contain"), "{agent}: {}", text(&r));
        s.finish();
        denied_by_guard_with_a_critical_alert(&data, agent);
    }
    assert_eq!(std::fs::read(&vkey).unwrap(), before);
    verifies(&data);
}

/// `brig hook claude-code` with the permissive policy, fed one PreToolUse event; its
/// permission decision and reason.
fn hook(
    data: &Path,
    policies: &Path,
    project: &Path,
    agent: &str,
    tool: &str,
    input: Value,
) -> (String, String) {
    let event = json!({
        "session_id": format!("sess-{agent}"),
        "transcript_path": "/home/dev/.claude/projects/site/t.jsonl",
        "cwd": project,
        "permission_mode": "default",
        "hook_event_name": "PreToolUse",
        "tool_name": tool,
        "tool_input": input,
        "tool_use_id": format!("toolu_{agent}"),
    });
    let mut cmd = brig();
    cmd.args(["hook", "claude-code", "--agent", agent, "--data"])
        .arg(data)
        .arg("--policy")
        .arg(policies)
        .env("CLAUDE_PROJECT_DIR", project);
    let o = with_stdin(cmd, event.to_string().as_bytes());
    let v: Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}{}", stdout(&o), stderr(&o)));
    let out = &v["hookSpecificOutput"];
    (
        out["permissionDecision"]
            .as_str()
            .unwrap_or("?")
            .to_string(),
        out["permissionDecisionReason"]
            .as_str()
            .unwrap_or("")
            .to_string(),
    )
}

#[test]
fn a_hooked_agent_cannot_delete_brigs_data_kill_brig_or_switch_its_hooks_off() {
    let tmp = tempdir();
    let project = tmp.path().join("site");
    std::fs::create_dir_all(project.join(".claude")).unwrap();
    let project = project.canonicalize().unwrap();
    let data = init(&project).canonicalize().unwrap();
    let policies = permit_all(&tmp.path().join("policies"));
    let settings = project.join(".claude/settings.json");
    std::fs::write(&settings, "{\"hooks\": {}}\n").unwrap();
    std::fs::write(project.join("README.md"), "# Site\n").unwrap();

    // Ordinary work is allowed by the permissive policy.
    let (d, why) = hook(
        &data,
        &policies,
        &project,
        "dev-ok",
        "Bash",
        json!({"command": "rm -rf build"}),
    );
    assert_eq!(d, "allow", "{why}");

    // A running brig process, to be signalled by its pid.
    let mut server = Server::start(&data);
    let attempts = [
        (
            "dev-kill-pid",
            "Bash",
            json!({"command": format!("kill -9 {}", server.child.id())}),
        ),
        (
            "dev-rm",
            "Bash",
            json!({"command": format!("rm -rf {}", data.display())}),
        ),
        (
            "dev-rm-project",
            "Bash",
            json!({"command": "cd .. && rm -rf site"}),
        ),
        (
            "dev-truncate",
            "Bash",
            json!({"command": "truncate -s 0 brig-data/keys/ledger.key"}),
        ),
        (
            "dev-redirect",
            "Bash",
            json!({"command": format!("echo '{{}}' > {}", policies.join("all.cedar").display())}),
        ),
        (
            "dev-chmod",
            "Bash",
            json!({"command": "chmod -R 777 brig-data"}),
        ),
        (
            "dev-pkill",
            "Bash",
            json!({"command": "pkill -f 'brig serve'"}),
        ),
        ("dev-killall", "Bash", json!({"command": "killall -9 brig"})),
        (
            "dev-kill-pgrep",
            "Bash",
            json!({"command": "kill -9 $(pgrep -f 'brig serve')"}),
        ),
        (
            "dev-systemctl",
            "Bash",
            json!({"command": "sudo systemctl stop brig"}),
        ),
        (
            "dev-hooks",
            "Write",
            json!({"file_path": settings, "content": "{\"disableAllHooks\": true}"}),
        ),
        (
            "dev-sed",
            "Bash",
            json!({"command": "sed -i 's/hook/nohook/' .claude/settings.json"}),
        ),
    ];
    for (agent, tool, input) in &attempts {
        let (d, why) = hook(&data, &policies, &project, agent, tool, input.clone());
        assert_eq!(d, "deny", "{agent}: {why}");
        assert!(why.contains("Brig's own"), "{agent}: {why}");
        denied_by_guard_with_a_critical_alert(&data, agent);
        // Incident response contained the agent.
        let (d, why) = hook(
            &data,
            &policies,
            &project,
            agent,
            "Read",
            json!({"file_path": project.join("README.md")}),
        );
        assert_eq!(d, "deny", "{agent}: {why}");
        assert!(why.contains("contained"), "{agent}: {why}");
    }
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "brig serve was killed"
    );
    assert!(server.stop().success());
    assert!(data.join("keys/ledger.key").metadata().unwrap().len() > 0);
    assert_eq!(
        std::fs::read_to_string(&settings).unwrap(),
        "{\"hooks\": {}}\n"
    );
    assert_eq!(
        std::fs::read_to_string(project.join("README.md")).unwrap(),
        "# Site\n"
    );
    verifies(&data);
}

#[test]
fn init_makes_the_data_directory_private_and_the_keys_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempdir();
    let data = init(tmp.path());
    let mode = |p: &Path| p.metadata().unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700, "{}", data.display());
    // The signing key is the owner's alone; the verification key is public by design.
    assert_eq!(mode(&data.join("keys/ledger.key")), 0o600);
    // `brig serve` starts without a warning about them.
    let server = Server::start(&data);
    assert!(
        !server.before.iter().any(|l| l.contains("warning")),
        "{:?}",
        server.before
    );
    server.stop();
}

/// `brig serve`'s `/v1/decide` (the decision API other gateways use) guards the server's own
/// files the same way: denied under a permit-all policy, critical alert, agent contained.
#[test]
fn the_decision_api_denies_brigs_own_files_and_alerts() {
    let tmp = tempdir();
    let data = init(tmp.path()).canonicalize().unwrap();
    let policies = permit_all(&tmp.path().join("policies"));
    let o = run(
        &data,
        &[
            "tokens", "create", "--name", "gw", "--role", "agent", "--agent", "bot-api",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let token = stdout(&o).trim().to_string();
    let server = Server::start_with(&data, &policies);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let decide = |cmd: String| -> Value {
        rt.block_on(async {
            reqwest::Client::new()
                .post(format!("{}/v1/decide", server.base))
                .bearer_auth(&token)
                .json(&json!({"tool": "bash", "session": "s1", "arguments": {"command": cmd}}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap()
        })
    };
    let d = decide("ls /srv".into());
    assert_eq!(d["effect"], "allow", "{d}");
    let d = decide(format!("echo x > {}", policies.join("all.cedar").display()));
    assert_eq!(d["effect"], "deny", "{d}");
    assert!(d["reason"].as_str().unwrap().contains(GUARD), "{d}");
    denied_after_allow(&data, "bot-api");
    let d = decide("ls /srv".into());
    assert_eq!(d["effect"], "deny", "the agent is contained: {d}");
    assert!(server.stop().success());
    assert!(std::fs::read_to_string(policies.join("all.cedar"))
        .unwrap()
        .contains("permit"));
}

/// The agent's second decision was the guard's, with one critical tampering alert.
fn denied_after_allow(data: &Path, agent: &str) {
    let (decisions, alerts) = guarded(data, agent);
    assert!(decisions.len() >= 2, "{decisions:?}");
    assert_eq!(decisions[1]["decision"]["effect"], "deny", "{decisions:?}");
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["attrs"]["level"], "critical");
}
