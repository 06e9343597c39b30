//! `brig hook`: payloads of each event of Claude Code, Gemini CLI and Cursor (the fixtures
//! under tests/hooks/) fed to the real binary, its answers and the ledger checked; fail
//! closed; `--server` against a real `brig serve`; `brig hook install`.

mod common;
use common::*;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use serde_json::{json, Value};

/// A project directory and Brig's data directory, with a policy fit for the tests: the
/// project is read, written and run in; deleting needs a person.
struct Setup {
    _tmp: tempfile::TempDir,
    data: PathBuf,
    project: PathBuf,
    policy: PathBuf,
}

const POLICY: &str = r#"
@id("test.project")
permit (
  principal,
  action in [Action::"file.read", Action::"file.list", Action::"file.write", Action::"dir.create", Action::"file.delete"],
  resource
)
when { context.in_served_dir };

@id("test.run")
permit (principal, action == Action::"proc.exec", resource);

@id("test.delete-needs-approval")
@approval("required")
forbid (principal, action == Action::"file.delete", resource);
"#;

fn setup() -> Setup {
    let tmp = tempdir();
    let data = init(tmp.path());
    let project = tmp.path().join("site");
    std::fs::create_dir_all(project.join("build")).unwrap();
    std::fs::write(project.join("README.md"), "# Site\nTeh site.\n").unwrap();
    let policy = tmp.path().join("policies");
    std::fs::create_dir_all(&policy).unwrap();
    std::fs::write(policy.join("p.cedar"), POLICY).unwrap();
    Setup {
        project: project.canonicalize().unwrap(),
        data: data.canonicalize().unwrap(),
        policy,
        _tmp: tmp,
    }
}

/// A fixture with its placeholders filled in.
fn fixture(agent: &str, name: &str, s: &Setup, session: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/hooks")
        .join(agent)
        .join(format!("{name}.json"));
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .replace("{{PROJECT}}", &s.project.to_string_lossy())
        .replace("{{DATA}}", &s.data.to_string_lossy())
        .replace("{{SESSION}}", session)
}

/// Runs `brig hook AGENT ARGS…` with `input` on stdin.
fn hook(agent: &str, args: &[&str], input: &str, env: &[(&str, &str)]) -> Output {
    let mut cmd = brig();
    cmd.arg("hook")
        .arg(agent)
        .args(args)
        .envs(env.iter().copied());
    with_stdin(cmd, input.as_bytes())
}

/// `brig hook AGENT` on the setup's data directory and policy, fed a fixture; its answer.
fn feed(s: &Setup, agent: &str, name: &str, session: &str, extra: &[&str]) -> (Value, Output) {
    let data = s.data.to_string_lossy().into_owned();
    let policy = s.policy.to_string_lossy().into_owned();
    let mut args = vec!["--data", data.as_str(), "--policy", policy.as_str()];
    args.extend(extra);
    let o = hook(agent, &args, &fixture(agent, name, s, session), &[]);
    let v: Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{name}: stdout is not JSON ({e}): {}", stdout(&o)));
    (v, o)
}

/// Claude Code's decision and reason.
fn decision(v: &Value) -> (&str, &str) {
    let out = &v["hookSpecificOutput"];
    assert_eq!(out["hookEventName"], "PreToolUse", "{v}");
    (
        out["permissionDecision"].as_str().unwrap_or("?"),
        out["permissionDecisionReason"].as_str().unwrap_or(""),
    )
}

/// The ledger's events with payloads.
fn ledger(data: &Path) -> Vec<Value> {
    let o = run(data, &["ledger", "show", "--json", "--payloads"]);
    assert!(o.status.success(), "{}", stderr(&o));
    stdout(&o)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .collect()
}

fn of_kind<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e["event"]["kind"] == kind)
        .collect()
}

fn verifies(data: &Path) {
    let o = run(data, &["ledger", "verify"]);
    assert!(
        o.status.success(),
        "ledger verify: {}{}",
        stdout(&o),
        stderr(&o)
    );
}

#[test]
fn a_claude_code_session_is_decided_and_recorded() {
    let s = setup();
    let cc = "claude-code";
    let (v, o) = feed(&s, cc, "UserPromptSubmit", "sess-1", &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(v, json!({}));

    // A read inside the project: allowed.
    let (v, o) = feed(&s, cc, "PreToolUse-Read", "sess-1", &[]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(decision(&v).0, "allow", "{v}");
    let (v, _) = feed(&s, cc, "PostToolUse-Read", "sess-1", &[]);
    assert_eq!(v, json!({}));
    // An edit inside the project, and an MCP tool's read: allowed.
    let (v, _) = feed(&s, cc, "PreToolUse-Edit", "sess-1", &[]);
    assert_eq!(decision(&v).0, "allow", "{v}");
    let (v, _) = feed(&s, cc, "PreToolUse-mcp", "sess-1", &[]);
    assert_eq!(decision(&v).0, "allow", "{v}");

    // rm -rf build: held for approval → Claude Code asks the user; the approval is queued.
    let (v, _) = feed(&s, cc, "PreToolUse-Bash-rm-build", "sess-1", &[]);
    let (d, why) = decision(&v);
    assert_eq!(d, "ask", "{v}");
    assert!(why.contains("test.delete-needs-approval"), "{why}");
    let o = run(&s.data, &["approvals", "list", "--json"]);
    assert!(
        stdout(&o).contains("rm -rf build") || stdout(&o).contains("/build"),
        "{}",
        stdout(&o)
    );
    // The user said yes and the tool ran: the approval is settled as theirs.
    let (v, _) = feed(&s, cc, "PostToolUse-Bash-rm-build", "sess-1", &[]);
    assert_eq!(v, json!({}));
    let o = run(&s.data, &["approvals", "list", "--all", "--json"]);
    let all: Vec<Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0]["status"], "approved", "{all:?}");
    assert_eq!(all[0]["decided_by"], "user at claude-code", "{all:?}");

    // rm -rf / : it would take Brig's data directory with it, so Brig's guard denies it,
    // with the reason (and the critical tampering alert contains the agent).
    let (v, o) = feed(&s, cc, "PreToolUse-Bash-rm-root", "sess-1", &[]);
    assert_eq!(o.status.code(), Some(0), "a decision is not an error");
    let (d, why) = decision(&v);
    assert_eq!(d, "deny", "{v}");
    assert!(why.contains("file.delete /"), "{why}");
    assert!(why.contains("Brig's own"), "{why}");

    // A write to Brig's own data directory: denied (the guard's own case is in
    // self_protection.rs; this agent is contained by now).
    let (v, _) = feed(&s, cc, "PreToolUse-Write-brig-data", "sess-1", &[]);
    let (d, why) = decision(&v);
    assert_eq!(d, "deny", "{v}");
    assert!(why.contains("contained"), "{why}");

    // The Stop event needs nothing.
    let (v, o) = feed(&s, cc, "Stop", "sess-1", &[]);
    assert!(o.status.success());
    assert_eq!(v, json!({}));

    // The ledger: the prompt (the task), each call with its decision, the result, the
    // approval request; all attributed to the project's agent id, and it verifies.
    let events = ledger(&s.data);
    let prompt = of_kind(&events, "agent.prompt");
    assert_eq!(prompt.len(), 1);
    assert_eq!(
        prompt[0]["payloads"]["task"], "Fix the typo in README.md",
        "{}",
        prompt[0]
    );
    let agent = prompt[0]["event"]["agent"].as_str().unwrap();
    assert!(agent.starts_with("claude-code:site-"), "{agent}");
    assert_eq!(prompt[0]["event"]["session"], "sess-1");
    let calls = of_kind(&events, "tool.call");
    let tools: Vec<&str> = calls
        .iter()
        .map(|c| c["event"]["tool"].as_str().unwrap())
        .collect();
    assert_eq!(
        tools,
        [
            "Read",
            "Edit",
            "mcp__filesystem__read_file",
            "Bash",
            "Bash",
            "Write"
        ]
    );
    assert_eq!(calls[0]["event"]["call"], "toolu_01Read");
    assert_eq!(calls[0]["event"]["actions"][0]["action"], "file.read");
    let decisions = of_kind(&events, "policy.decision");
    let effects: Vec<&str> = decisions
        .iter()
        .map(|d| d["event"]["decision"]["effect"].as_str().unwrap())
        .collect();
    assert_eq!(effects, ["allow", "allow", "allow", "hold", "deny", "deny"]);
    let results = of_kind(&events, "tool.result");
    assert_eq!(results.len(), 2);
    assert_eq!(results[0]["event"]["call"], "toolu_01Read");
    let settled = of_kind(&events, "approval.decision");
    assert_eq!(settled.len(), 1);
    assert_eq!(settled[0]["event"]["call"], "toolu_03RmBuild");
    assert_eq!(settled[0]["event"]["decision"]["effect"], "allow");
    assert!(results[0]["payloads"]["result"]["file"]["content"]
        .as_str()
        .unwrap()
        .contains("Teh site"));
    let req = of_kind(&events, "approval.request");
    assert_eq!(req.len(), 1);
    assert_eq!(req[0]["event"]["call"], "toolu_03RmBuild");
    assert!(events
        .iter()
        .all(|e| e["event"]["agent"] == agent || e["event"]["source"] != "hook:claude-code"));
    verifies(&s.data);
}

#[test]
fn curl_piped_to_a_shell_is_denied_by_the_rules_and_contains_the_agent() {
    let s = setup();
    let cc = "claude-code";
    feed(&s, cc, "UserPromptSubmit", "sess-2", &[]);
    let (v, _) = feed(&s, cc, "PreToolUse-Bash-curl-sh", "sess-2", &[]);
    let (d, why) = decision(&v);
    assert_eq!(d, "deny", "{v}");
    let events = ledger(&s.data);
    let alerts = of_kind(&events, "alert");
    assert!(
        alerts.iter().any(|a| a["event"]["attrs"]["title"]
            .as_str()
            .is_some_and(|t| t.contains("piped straight into an interpreter"))),
        "{alerts:?}"
    );
    assert!(
        why.contains("brig.playbook") || why.contains("no policy permits"),
        "{why}"
    );
    // The playbook contained the agent: its next call, even a read, is denied.
    let (v, _) = feed(&s, cc, "PreToolUse-Read", "sess-2", &[]);
    let (d, why) = decision(&v);
    assert_eq!(d, "deny", "{v}");
    assert!(why.contains("contained"), "{why}");
    verifies(&s.data);
}

#[test]
fn a_contained_agent_is_denied() {
    let s = setup();
    let cc = "claude-code";
    let (v, _) = feed(
        &s,
        cc,
        "PreToolUse-Read",
        "sess-3",
        &["--agent", "dev-laptop"],
    );
    assert_eq!(decision(&v).0, "allow");
    let o = run(
        &s.data,
        &[
            "contain",
            "--agent",
            "dev-laptop",
            "--reason",
            "lost laptop",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let (v, _) = feed(
        &s,
        cc,
        "PreToolUse-Read",
        "sess-3",
        &["--agent", "dev-laptop"],
    );
    let (d, why) = decision(&v);
    assert_eq!(d, "deny", "{v}");
    assert!(why.contains("lost laptop"), "{why}");
    // Another project's agent is not contained.
    let (v, _) = feed(&s, cc, "PreToolUse-Read", "sess-3", &[]);
    assert_eq!(decision(&v).0, "allow");
}

#[test]
fn the_session_is_remembered_across_hook_processes() {
    // Each denial is a separate process; the rules that count refusals in a session only
    // fire because each process replays the session from the ledger.
    let s = setup();
    for _ in 0..4 {
        let (v, _) = feed(&s, "claude-code", "PreToolUse-Bash-rm-root", "sess-4", &[]);
        assert_eq!(decision(&v).0, "deny");
    }
    let events = ledger(&s.data);
    let titles: Vec<String> = of_kind(&events, "alert")
        .iter()
        .filter_map(|a| a["event"]["attrs"]["title"].as_str().map(str::to_string))
        .collect();
    assert!(
        titles
            .iter()
            .any(|t| t.contains("repeated refusals") || t.contains("retries what was refused")),
        "{titles:?}"
    );
}

#[test]
fn a_hooked_agents_edits_are_rolled_back() {
    // Pre-images go with the call, post-images with its result (each its own process):
    // `brig rollback` undoes what the agent's Edit did.
    let s = setup();
    let readme = s.project.join("README.md");
    let (v, _) = feed(&s, "claude-code", "PreToolUse-Edit", "sess-6", &[]);
    assert_eq!(decision(&v).0, "allow");
    std::fs::write(&readme, "# Site\nThe site.\n").unwrap(); // what Claude Code's Edit does
    let (v, _) = feed(&s, "claude-code", "PostToolUse-Edit", "sess-6", &[]);
    assert_eq!(v, json!({}));
    let o = run(&s.data, &["rollback", "apply", "--session", "sess-6"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert_eq!(
        std::fs::read_to_string(&readme).unwrap(),
        "# Site\nTeh site.\n"
    );
    let o = run(&s.data, &["rollback", "verify", "--session", "sess-6"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
}

#[test]
fn the_project_is_the_agents_not_the_working_directory() {
    // Claude Code's `cwd` follows the agent's `cd`; CLAUDE_PROJECT_DIR names the project.
    let s = setup();
    let data = s.data.to_string_lossy().into_owned();
    let build = s.project.join("build");
    let input = fixture("claude-code", "PreToolUse-Bash-rm-build", &s, "sess-7").replace(
        &format!(r#""cwd":"{}""#, s.project.display()),
        &format!(r#""cwd":"{}""#, build.display()),
    );
    let project = s.project.to_string_lossy().into_owned();
    let o = hook(
        "claude-code",
        &["--data", &data, "--policy", &s.policy.to_string_lossy()],
        &input,
        &[("CLAUDE_PROJECT_DIR", project.as_str())],
    );
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(decision(&v).0, "ask", "{v}");
    let events = ledger(&s.data);
    let call = of_kind(&events, "tool.call")[0];
    // Same agent as from the project directory; `build` resolved in the working directory.
    let (v, _) = feed(&s, "claude-code", "PreToolUse-Read", "sess-7", &[]);
    assert_eq!(decision(&v).0, "allow");
    let events = ledger(&s.data);
    let read = of_kind(&events, "tool.call")[1];
    assert_eq!(call["event"]["agent"], read["event"]["agent"]);
    let targets = call["event"]["actions"].to_string();
    assert!(
        targets.contains(&format!("{}/build", build.display())),
        "{targets}"
    );
}

#[test]
fn brig_fails_closed() {
    let s = setup();
    let data = s.data.to_string_lossy().into_owned();
    // Not JSON.
    let o = hook("claude-code", &["--data", &data], "{not json", &[]);
    assert_eq!(o.status.code(), Some(2));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let (d, why) = decision(&v);
    assert_eq!(d, "deny");
    assert!(why.contains("fail closed"), "{why}");
    assert!(stderr(&o).contains("not JSON"), "{}", stderr(&o));
    // A payload missing its session.
    let o = hook(
        "claude-code",
        &["--data", &data],
        r#"{"hook_event_name":"PreToolUse","cwd":"/tmp","tool_name":"Bash","tool_input":{}}"#,
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
    // No data directory.
    let input = fixture("claude-code", "PreToolUse-Read", &s, "sess-5");
    let o = hook(
        "claude-code",
        &["--data", "/nonexistent/brig-data"],
        &input,
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(decision(&v).0, "deny");
    // An invalid policy directory.
    let bad = s.project.join("bad-policies");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::write(bad.join("p.cedar"), "permit (principal, nonsense").unwrap();
    let o = hook(
        "claude-code",
        &["--data", &data, "--policy", &bad.to_string_lossy()],
        &input,
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
    // Cursor and Gemini CLI get their own shapes of the denial.
    let o = hook("cursor", &["--data", "/nonexistent"], "{}", &[]);
    assert_eq!(o.status.code(), Some(2));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["permission"], "deny", "{v}");
    let o = hook("gemini-cli", &["--data", "/nonexistent"], "{}", &[]);
    assert_eq!(o.status.code(), Some(2));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["decision"], "deny", "{v}");
}

#[test]
fn gemini_cli_events_are_decided_and_recorded() {
    let s = setup();
    let g = "gemini-cli";
    let (v, _) = feed(&s, g, "BeforeAgent", "g-1", &[]);
    assert_eq!(v, json!({}));
    let (v, _) = feed(&s, g, "BeforeTool-read_file", "g-1", &[]);
    assert_eq!(v, json!({"decision": "allow"}));
    let (v, _) = feed(&s, g, "AfterTool-read_file", "g-1", &[]);
    assert_eq!(v, json!({}));
    let (v, o) = feed(&s, g, "BeforeTool-run_shell_command", "g-1", &[]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(v["decision"], "deny", "{v}");
    assert!(
        v["reason"].as_str().unwrap().contains("file.delete /"),
        "{v}"
    );
    let events = ledger(&s.data);
    assert_eq!(of_kind(&events, "agent.prompt").len(), 1);
    let calls = of_kind(&events, "tool.call");
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0]["event"]["source"], "hook:gemini-cli");
    assert!(calls[0]["event"]["agent"]
        .as_str()
        .unwrap()
        .starts_with("gemini-cli:site-"));
    // No tool_use_id: the result is correlated with its call by the hash of the call.
    let results = of_kind(&events, "tool.result");
    assert_eq!(results.len(), 1);
    assert_eq!(results[0]["event"]["call"], calls[0]["event"]["call"]);
    verifies(&s.data);
}

#[test]
fn cursor_events_are_decided_and_recorded() {
    let s = setup();
    let c = "cursor";
    let (v, _) = feed(&s, c, "beforeSubmitPrompt", "c-1", &[]);
    assert_eq!(v, json!({"continue": true}));
    let (v, _) = feed(&s, c, "beforeReadFile", "c-1", &[]);
    assert_eq!(v, json!({"permission": "allow"}));
    let (v, _) = feed(&s, c, "beforeShellExecution-ls", "c-1", &[]);
    assert_eq!(v, json!({"permission": "allow"}));
    let (v, _) = feed(&s, c, "afterShellExecution-ls", "c-1", &[]);
    assert_eq!(v, json!({}));
    let (v, _) = feed(&s, c, "beforeMCPExecution", "c-1", &[]);
    assert_eq!(v, json!({"permission": "allow"}));
    let (v, _) = feed(&s, c, "beforeShellExecution", "c-1", &[]);
    assert_eq!(v["permission"], "deny", "{v}");
    assert!(v["agent_message"]
        .as_str()
        .unwrap()
        .contains("file.delete /"));
    let events = ledger(&s.data);
    let calls = of_kind(&events, "tool.call");
    let tools: Vec<&str> = calls
        .iter()
        .map(|c| c["event"]["tool"].as_str().unwrap())
        .collect();
    assert_eq!(
        tools,
        [
            "read_file",
            "run_terminal_cmd",
            "read_file",
            "run_terminal_cmd"
        ]
    );
    assert_eq!(calls[0]["event"]["actions"][0]["action"], "file.read");
    let results = of_kind(&events, "tool.result");
    assert_eq!(results.len(), 1);
    assert_eq!(results[0]["event"]["call"], calls[1]["event"]["call"]);
    assert_eq!(results[0]["payloads"]["result"]["output"], "README.md\n");
    verifies(&s.data);
}

#[test]
fn codex_events_are_decided_and_recorded() {
    let s = setup();
    let c = "codex";
    let (v, _) = feed(&s, c, "UserPromptSubmit", "x-1", &[]);
    assert_eq!(v, json!({}));
    // No objection is an empty answer.
    let (v, o) = feed(&s, c, "PreToolUse-Bash-ls", "x-1", &[]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(v, json!({}));
    let (v, _) = feed(&s, c, "PostToolUse-Bash-ls", "x-1", &[]);
    assert_eq!(v, json!({}));
    // Codex cannot ask: a held call is refused, naming its approval.
    let (v, _) = feed(&s, c, "PreToolUse-Bash-rm-build", "x-1", &[]);
    let (d, why) = decision(&v);
    assert_eq!(d, "deny", "{v}");
    assert!(why.contains("Held for approval"), "{why}");
    let events = ledger(&s.data);
    let calls = of_kind(&events, "tool.call");
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0]["event"]["source"], "hook:codex");
    assert_eq!(of_kind(&events, "approval.request").len(), 1);
    assert_eq!(
        of_kind(&events, "tool.result")[0]["event"]["call"],
        "call_ls"
    );
    verifies(&s.data);
}

#[test]
fn with_a_server_the_control_plane_decides_and_records() {
    let s = setup();
    let o = run(
        &s.data,
        &[
            "tokens",
            "create",
            "--name",
            "laptop",
            "--role",
            "agent",
            "--agent",
            "dev-laptop",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let token = stdout(&o).trim().to_string();
    // The control plane does not know the project directory (its policy sees no served
    // directory): its policy names the project by path.
    let policy = s.project.parent().unwrap().join("server-policies");
    std::fs::create_dir_all(&policy).unwrap();
    let by_path = POLICY.replace(
        "when { context.in_served_dir }",
        &format!(
            "when {{ resource.path like \"{}/*\" }}",
            s.project.display()
        ),
    );
    std::fs::write(policy.join("p.cedar"), by_path).unwrap();
    let server = Server::start_with(&s.data, &policy);
    let remote = |name: &str, agent: &str, base: &str| {
        let input = fixture("claude-code", name, &s, "r-1");
        hook(
            "claude-code",
            &["--server", base, "--agent", agent],
            &input,
            &[("BRIG_TOKEN", token.as_str())],
        )
    };
    let answer = |o: &Output| -> Value { serde_json::from_slice(&o.stdout).unwrap() };
    let o = remote("UserPromptSubmit", "dev-laptop", &server.base);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = remote("PreToolUse-Read", "dev-laptop", &server.base);
    assert_eq!(
        decision(&answer(&o)).0,
        "allow",
        "{}{}",
        stdout(&o),
        stderr(&o)
    );
    let o = remote("PostToolUse-Read", "dev-laptop", &server.base);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = remote("PreToolUse-Bash-rm-build", "dev-laptop", &server.base);
    assert_eq!(decision(&answer(&o)).0, "ask", "{}", stdout(&o));
    let o = remote("PreToolUse-Bash-rm-root", "dev-laptop", &server.base);
    assert_eq!(decision(&answer(&o)).0, "deny");
    // The token is this agent's only: another identity is refused, and denied.
    let o = remote("PreToolUse-Read", "someone-else", &server.base);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(decision(&answer(&o)).0, "deny");
    // Containment through the control plane applies to the next call.
    let o = run(
        &s.data,
        &[
            "contain",
            "--agent",
            "dev-laptop",
            "--reason",
            "stolen token",
        ],
    );
    assert!(o.status.success());
    let o = remote("PreToolUse-Read", "dev-laptop", &server.base);
    let v = answer(&o);
    assert_eq!(decision(&v).0, "deny");
    assert!(decision(&v).1.contains("contained"), "{v}");
    drop(server);
    // The control plane is gone: fail closed.
    let o = remote("PreToolUse-Read", "dev-laptop", "http://127.0.0.1:9");
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(decision(&answer(&o)).0, "deny");

    let events = ledger(&s.data);
    let mine: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"]["agent"] == "dev-laptop" && e["event"]["session"] == "r-1")
        .collect();
    let kinds: Vec<&str> = mine
        .iter()
        .map(|e| e["event"]["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"agent.prompt"), "{kinds:?}");
    assert!(kinds.contains(&"tool.result"), "{kinds:?}");
    assert_eq!(
        kinds.iter().filter(|k| **k == "tool.call").count(),
        4,
        "{kinds:?}"
    );
    verifies(&s.data);
}

#[test]
fn install_merges_backs_up_and_is_idempotent() {
    let s = setup();
    let claude = s.project.join(".claude");
    std::fs::create_dir_all(&claude).unwrap();
    let before = json!({
        "permissions": {"allow": ["Bash(npm test)"]},
        "hooks": {"PostToolUse": [{"matcher": "Write|Edit", "hooks": [{"type": "command", "command": "npx prettier --write"}]}]}
    });
    std::fs::write(claude.join("settings.json"), before.to_string()).unwrap();
    let project = s.project.to_string_lossy().into_owned();
    let install = |extra: &[&str]| {
        let mut args = vec![
            "hook",
            "install",
            "claude-code",
            "--project",
            project.as_str(),
        ];
        args.extend(extra);
        run(&s.data, &args)
    };
    let o = install(&["--dry-run"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let shown: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(
        std::fs::read_to_string(claude.join("settings.json")).unwrap(),
        before.to_string(),
        "a dry run writes nothing"
    );
    let o = install(&[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let after: Value =
        serde_json::from_str(&std::fs::read_to_string(claude.join("settings.json")).unwrap())
            .unwrap();
    assert_eq!(after, shown);
    assert_eq!(after["permissions"], before["permissions"]);
    let post = after["hooks"]["PostToolUse"].as_array().unwrap();
    assert_eq!(post.len(), 2, "{after}");
    assert_eq!(post[0]["hooks"][0]["command"], "npx prettier --write");
    let command = after["hooks"]["PreToolUse"][0]["hooks"][0]["command"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(command.starts_with('/'), "{command}");
    assert!(command.contains(" hook claude-code --data "), "{command}");
    assert!(command.contains(&*s.data.to_string_lossy()), "{command}");
    assert_eq!(
        after["hooks"]["UserPromptSubmit"][0]["hooks"][0]["command"],
        command
    );
    let backups: Vec<_> = std::fs::read_dir(&claude)
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("settings.json.brig-backup-")
        })
        .collect();
    assert_eq!(backups.len(), 1);
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(backups[0].path()).unwrap()).unwrap();
    assert_eq!(saved, before);

    // Again: nothing changes, no second backup, no duplicate entry.
    let o = install(&[]);
    assert!(o.status.success());
    assert!(stdout(&o).contains("already installed"), "{}", stdout(&o));
    let again: Value =
        serde_json::from_str(&std::fs::read_to_string(claude.join("settings.json")).unwrap())
            .unwrap();
    assert_eq!(again, after);
    // With other arguments Brig's entries are replaced, not added to.
    let o = install(&["--agent", "site-bot"]);
    assert!(o.status.success());
    let third: Value =
        serde_json::from_str(&std::fs::read_to_string(claude.join("settings.json")).unwrap())
            .unwrap();
    assert_eq!(third["hooks"]["PreToolUse"].as_array().unwrap().len(), 1);
    assert!(third["hooks"]["PreToolUse"][0]["hooks"][0]["command"]
        .as_str()
        .unwrap()
        .ends_with("--agent site-bot"));

    // The installed command line works as Claude Code would run it (through a shell).
    let command = third["hooks"]["PreToolUse"][0]["hooks"][0]["command"]
        .as_str()
        .unwrap();
    let mut sh = std::process::Command::new("sh")
        .args(["-c", command])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    sh.stdin
        .take()
        .unwrap()
        .write_all(fixture("claude-code", "PreToolUse-Read", &s, "i-1").as_bytes())
        .unwrap();
    let o = sh.wait_with_output().unwrap();
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(decision(&v).0, "allow", "{v}");

    // A settings file that is not JSON is left alone.
    std::fs::write(claude.join("settings.json"), "{oops").unwrap();
    let o = install(&[]);
    assert!(!o.status.success());
    assert_eq!(
        std::fs::read_to_string(claude.join("settings.json")).unwrap(),
        "{oops"
    );

    // Cursor and Gemini CLI files.
    for (target, file, event) in [
        ("cursor", ".cursor/hooks.json", "beforeShellExecution"),
        ("gemini-cli", ".gemini/settings.json", "BeforeTool"),
        ("codex", ".codex/hooks.json", "PreToolUse"),
    ] {
        let o = run(
            &s.data,
            &["hook", "install", target, "--project", project.as_str()],
        );
        assert!(o.status.success(), "{}", stderr(&o));
        let v: Value =
            serde_json::from_str(&std::fs::read_to_string(s.project.join(file)).unwrap()).unwrap();
        let text = v["hooks"][event].to_string();
        assert!(text.contains(&format!(" hook {target} --data ")), "{v}");
    }
}
