//! `brig hook`: Brig as a coding agent's hook (Claude Code, Gemini CLI, Cursor, Codex CLI), and
//! `brig hook install`, which writes the agent's hook configuration.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use brig_gateway::guard::{Guard, Normalizer};
use brig_gateway::hook::{self, AgentKind, HookEvent, LocalHook, Outcome, RemoteHook};
use brig_gateway::policy::CedarPolicy;
use brig_gateway::Identity;
use clap::{Args, Subcommand, ValueEnum};
use serde_json::{json, Value};

use crate::exit::Exit;
use crate::mcp_proxy::DetectionArgs;
use crate::DataArgs;

/// Largest hook event read from stdin (a PostToolUse carries the tool's whole output).
const MAX_EVENT_BYTES: u64 = 32 * 1024 * 1024;

#[derive(Subcommand)]
pub enum HookCommand {
    /// Claude Code's hook: PreToolUse decided (allow / deny / ask), PostToolUse and
    /// UserPromptSubmit recorded. Reads the event on stdin, answers on stdout.
    ///
    /// Install it with `brig hook install claude-code --project DIR`. By hand, in
    /// .claude/settings.json:
    ///   {"hooks": {"PreToolUse": [{"matcher": "*", "hooks": [{"type": "command",
    ///     "command": "/usr/local/bin/brig hook claude-code --data /srv/brig-data"}]}], …}}
    /// Try it:
    ///   echo '{"hook_event_name":"PreToolUse","session_id":"s1","cwd":"'$PWD'",
    ///     "tool_name":"Bash","tool_input":{"command":"rm -rf /"}}' | brig hook claude-code
    #[command(verbatim_doc_comment)]
    ClaudeCode(HookArgs),
    /// Gemini CLI's hook: BeforeTool decided, AfterTool and BeforeAgent recorded.
    ///
    /// Install it with `brig hook install gemini-cli --project DIR` (.gemini/settings.json).
    #[command(verbatim_doc_comment)]
    GeminiCli(HookArgs),
    /// Cursor's hooks: beforeShellExecution, beforeMCPExecution and beforeReadFile decided;
    /// afterShellExecution, afterMCPExecution, afterFileEdit and beforeSubmitPrompt recorded.
    ///
    /// Install it with `brig hook install cursor --project DIR` (.cursor/hooks.json).
    #[command(verbatim_doc_comment)]
    Cursor(HookArgs),
    /// OpenAI Codex CLI's hook (experimental in Codex: `[features] codex_hooks = true`):
    /// PreToolUse (shell commands only) decided — a held call is refused, Codex cannot ask —,
    /// PostToolUse and UserPromptSubmit recorded.
    ///
    /// Install it with `brig hook install codex --project DIR` (.codex/hooks.json).
    #[command(verbatim_doc_comment)]
    Codex(HookArgs),
    /// Write a coding agent's hook configuration to run `brig hook`, merged with what is
    /// there (other hooks and settings kept, the old file backed up beside it; running it
    /// again changes nothing). Example:
    ///   brig hook install claude-code --project ~/src/site --data ~/brig-data
    #[command(verbatim_doc_comment)]
    Install(InstallArgs),
}

#[derive(Args)]
pub struct HookArgs {
    #[command(flatten)]
    data: DataArgs,
    /// The agent's identity [default: derived from the project directory, e.g.
    /// claude-code:site-1a2b3c4d].
    #[arg(long, value_name = "ID")]
    agent: Option<String>,
    /// The workflow the agent runs in (containment can freeze a whole workflow).
    #[arg(long, value_name = "W")]
    workflow: Option<String>,
    /// Ask the control plane at URL (`brig serve`) instead of a local data directory. Needs
    /// an agent token in BRIG_TOKEN (or --token-file).
    #[arg(long, value_name = "URL", conflicts_with = "policy")]
    server: Option<String>,
    /// A file holding the agent token for --server [default: $BRIG_TOKEN].
    #[arg(long, value_name = "FILE", requires = "server")]
    token_file: Option<PathBuf>,
    /// Directory of Cedar policies (*.cedar) [default: Brig's built-in policy; see
    /// policies/coding-agent for one written for coding agents]. The project directory is
    /// the policy's served directory.
    #[arg(long, value_name = "DIR")]
    policy: Option<PathBuf>,
    #[command(flatten)]
    detection: DetectionArgs,
}

pub fn run(cmd: HookCommand) -> anyhow::Result<Exit> {
    match cmd {
        HookCommand::ClaudeCode(a) => Ok(answer(AgentKind::ClaudeCode, &a)),
        HookCommand::GeminiCli(a) => Ok(answer(AgentKind::GeminiCli, &a)),
        HookCommand::Cursor(a) => Ok(answer(AgentKind::Cursor, &a)),
        HookCommand::Codex(a) => Ok(answer(AgentKind::Codex, &a)),
        HookCommand::Install(a) => install(&a),
    }
}

/// Reads the event, decides or records it, prints the answer. Whatever goes wrong, the
/// answer is a denial (fail closed) with the blocking exit code.
fn answer(agent: AgentKind, args: &HookArgs) -> Exit {
    let mut bytes = Vec::new();
    let read = std::io::stdin()
        .take(MAX_EVENT_BYTES)
        .read_to_end(&mut bytes)
        .context("reading the hook event from stdin");
    // A panic must not end the process without an answer: the agents take any exit but the
    // blocking one as "go ahead". It becomes a denial like any other failure.
    let handled = read.and_then(|_| {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let ev = hook::parse(agent, &bytes)?;
            handle(agent, args, &ev).map(|(outcome, rest)| (ev, outcome, rest))
        }))
        .unwrap_or_else(|_| Err(anyhow::anyhow!("Brig failed while deciding (a panic)")))
    });
    let mut out = std::io::stdout().lock();
    match handled {
        Ok((ev, outcome, rest)) => {
            let (v, _) = hook::answer(&ev, &outcome);
            let _ = writeln!(out, "{v}").and_then(|()| out.flush());
            // The answer is out; the playbook (if the call started one) and the last
            // checkpoint finish before the process ends.
            if let Some(h) = rest {
                h.finish();
            }
            Exit::Ok
        }
        Err(e) => {
            let why = format!("{e:#}");
            let (v, _) = hook::fail_closed(agent, hook::event_name(&bytes).as_deref(), &why);
            let _ = writeln!(out, "{v}").and_then(|()| out.flush());
            eprintln!("brig hook: denied, Brig could not decide (fail closed): {why}");
            Exit::Blocked
        }
    }
}

fn handle(
    agent: AgentKind,
    args: &HookArgs,
    ev: &HookEvent,
) -> anyhow::Result<(Outcome, Option<LocalHook>)> {
    // The project as the agent names it; symlinks resolved when it exists, as paths are.
    let project = hook::project_from_env(agent).unwrap_or_else(|| ev.project.clone());
    let project = project.canonicalize().unwrap_or(project);
    let cwd = ev.cwd.canonicalize().unwrap_or_else(|_| ev.cwd.clone());
    let who = Identity {
        agent: args
            .agent
            .clone()
            .unwrap_or_else(|| hook::default_agent_id(agent, &project)),
        workflow: args.workflow.clone(),
        task: None,
    };
    if let Some(url) = &args.server {
        let cp = connect(url, args.token_file.as_deref(), &who.agent)?;
        let outcome = RemoteHook { cp, who }.handle(ev)?;
        return Ok((outcome, None));
    }
    let dir = args.data.open().context("opening Brig's data directory")?;
    let roots = vec![project];
    let brig_owned = args
        .detection
        .brig_owned(dir.root(), args.policy.as_deref(), &roots);
    // The rule pack (parsed and compiled) and the policies (parsed and validated) are the
    // largest part of a hook's run, and independent: they load on two threads.
    let (guard, loaded) = std::thread::scope(|s| {
        let rules = s.spawn(|| {
            args.detection
                .load(Some(&dir), &roots, args.policy.clone(), "brig hook")
        });
        // Only a tool about to run is decided: the others skip loading the policies.
        let guard = match ev.kind {
            hook::Kind::PreTool { .. } => {
                CedarPolicy::load(args.policy.as_deref(), roots.clone(), brig_owned)
                    .context("loading policies")
                    .and_then(|policy| {
                        let store = dir.store()?;
                        Ok(Some(Guard::new(
                            store,
                            Box::new(policy),
                            resolving_in(cwd.clone(), roots.clone()),
                        )))
                    })
            }
            _ => Ok(None),
        };
        let loaded = rules
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("loading the rules panicked")));
        (guard, loaded)
    });
    let (guard, (detection, response)) = (guard?, loaded?);
    let mut h = LocalHook::open(&dir, guard, who, detection, response.as_ref())?;
    let outcome = h.handle(ev)?;
    Ok((outcome, Some(h)))
}

/// The normalizer of a hooked agent's calls: relative paths resolve in its working
/// directory; `roots` (the project) is what the policy calls served.
fn resolving_in(cwd: PathBuf, roots: Vec<PathBuf>) -> Normalizer {
    Box::new(move |tool, arguments| {
        let ctx = brig_detect::normalize::ToolContext {
            cwd: Some(&cwd),
            roots: &roots,
        };
        brig_detect::normalize::normalize(tool, arguments, &ctx)
    })
}

/// The control plane, with a token that is this agent's.
fn connect(
    url: &str,
    token_file: Option<&Path>,
    agent: &str,
) -> anyhow::Result<std::sync::Arc<brig_gateway::remote::ControlPlane>> {
    let token = match token_file {
        Some(f) => std::fs::read_to_string(f)
            .with_context(|| format!("reading the token from {}", f.display()))?,
        None => std::env::var("BRIG_TOKEN")
            .context("--server needs an agent token: set BRIG_TOKEN or pass --token-file")?,
    };
    let (cp, me) = brig_gateway::remote::ControlPlane::connect(url, &token)
        .with_context(|| format!("the control plane at {url}"))?;
    if me.role != "agent" || me.agent.as_deref() != Some(agent) {
        anyhow::bail!(
            "the token `{}` is a {} token{}; --server needs an agent token for {agent} (pass --agent to match it)",
            me.name,
            me.role,
            me.agent.map(|a| format!(" for agent {a}")).unwrap_or_default(),
        );
    }
    Ok(cp)
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Target {
    ClaudeCode,
    GeminiCli,
    Cursor,
    Codex,
}

#[derive(Args)]
pub struct InstallArgs {
    /// The coding agent whose hooks to configure.
    #[arg(value_enum)]
    target: Target,
    /// The project to configure (its .claude/settings.json, .gemini/settings.json,
    /// .cursor/hooks.json or .codex/hooks.json) [default: the current directory].
    #[arg(long, value_name = "DIR", conflicts_with = "user")]
    project: Option<PathBuf>,
    /// Configure the user's settings (~/.claude/settings.json …) instead: every project.
    #[arg(long)]
    user: bool,
    /// The agent identity the hook records under [default: derived from each project's
    /// directory when the hook runs].
    #[arg(long, value_name = "ID")]
    agent: Option<String>,
    /// The workflow the agent runs in.
    #[arg(long, value_name = "W")]
    workflow: Option<String>,
    /// Cedar policies the hook decides by (made absolute).
    #[arg(long, value_name = "DIR")]
    policy: Option<PathBuf>,
    /// Data directory the hook records in (made absolute) [default: ./brig-data, $BRIG_DATA].
    #[arg(long, env = "BRIG_DATA", default_value = brig_store::DEFAULT_DATA_DIR, value_name = "DIR")]
    data: PathBuf,
    /// Print the resulting configuration instead of writing it.
    #[arg(long)]
    dry_run: bool,
}

/// Absolute, symlink-free when it exists.
fn absolute(p: &Path) -> anyhow::Result<PathBuf> {
    Ok(match p.canonicalize() {
        Ok(p) => p,
        Err(_) => std::env::current_dir()?.join(p),
    })
}

/// One word for a shell command line (hooks run through a shell).
fn quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/-_.:=,@+".contains(&b));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

impl Target {
    fn kind(self) -> AgentKind {
        match self {
            Target::ClaudeCode => AgentKind::ClaudeCode,
            Target::GeminiCli => AgentKind::GeminiCli,
            Target::Cursor => AgentKind::Cursor,
            Target::Codex => AgentKind::Codex,
        }
    }

    /// The settings file, relative to the project or the home directory.
    fn file(self) -> &'static str {
        self.kind().settings_files()[0]
    }

    /// The events Brig hooks, and whether each takes a tool matcher.
    fn events(self) -> &'static [(&'static str, bool)] {
        match self {
            Target::ClaudeCode | Target::Codex => &[
                ("PreToolUse", true),
                ("PostToolUse", true),
                ("UserPromptSubmit", false),
            ],
            Target::GeminiCli => &[
                ("BeforeTool", true),
                ("AfterTool", true),
                ("BeforeAgent", false),
            ],
            Target::Cursor => &[
                ("beforeShellExecution", false),
                ("beforeMCPExecution", false),
                ("beforeReadFile", false),
                ("beforeSubmitPrompt", false),
                ("afterShellExecution", false),
                ("afterMCPExecution", false),
                ("afterFileEdit", false),
            ],
        }
    }
}

/// The command line the agent runs: this brig, by its absolute path, with its arguments.
fn command_line(a: &InstallArgs) -> anyhow::Result<String> {
    let exe = std::env::current_exe().context("finding the running brig")?;
    let mut words = vec![
        exe.to_string_lossy().into_owned(),
        "hook".into(),
        a.target.kind().name().into(),
        "--data".into(),
        absolute(&a.data)?.to_string_lossy().into_owned(),
    ];
    if let Some(id) = &a.agent {
        words.extend(["--agent".into(), id.clone()]);
    }
    if let Some(w) = &a.workflow {
        words.extend(["--workflow".into(), w.clone()]);
    }
    if let Some(p) = &a.policy {
        words.extend([
            "--policy".into(),
            absolute(p)?.to_string_lossy().into_owned(),
        ]);
    }
    Ok(words.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" "))
}

/// Whether a configured hook command is one of Brig's for this agent (replaced on install).
fn is_brigs(command: &str, kind: AgentKind) -> bool {
    let words: Vec<&str> = command.split_whitespace().collect();
    words.len() >= 3
        && words[0].trim_matches('\'').ends_with("brig")
        && words[1] == "hook"
        && words[2] == kind.name()
}

/// `settings` with Brig's hooks (and only one set of them).
fn merged(target: Target, mut settings: Value, command: &str) -> anyhow::Result<Value> {
    let kind = target.kind();
    let root = settings
        .as_object_mut()
        .context("the settings file does not hold a JSON object")?;
    if target == Target::Cursor {
        root.entry("version").or_insert(json!(1));
    }
    let hooks = root
        .entry("hooks")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .context("`hooks` in the settings file is not an object")?;
    for (event, matcher) in target.events() {
        let list = hooks
            .entry(*event)
            .or_insert_with(|| json!([]))
            .as_array_mut()
            .with_context(|| format!("`hooks.{event}` in the settings file is not a list"))?;
        if target == Target::Cursor {
            // Cursor: a flat list of commands per event.
            list.retain(|h| !h["command"].as_str().is_some_and(|c| is_brigs(c, kind)));
            list.push(json!({ "command": command }));
            continue;
        }
        // Claude Code and Gemini CLI: groups of hooks under a matcher.
        for group in list.iter_mut() {
            if let Some(inner) = group.get_mut("hooks").and_then(Value::as_array_mut) {
                inner.retain(|h| !h["command"].as_str().is_some_and(|c| is_brigs(c, kind)));
            }
        }
        list.retain(|g| !g["hooks"].as_array().is_some_and(Vec::is_empty));
        let mut entry = json!({ "type": "command", "command": command });
        if target == Target::GeminiCli {
            entry["name"] = json!("brig");
        }
        let mut group = json!({ "hooks": [entry] });
        if *matcher {
            group["matcher"] = json!("*");
        }
        list.push(group);
    }
    Ok(settings)
}

fn install(a: &InstallArgs) -> anyhow::Result<Exit> {
    let base = if a.user {
        PathBuf::from(std::env::var_os("HOME").context("--user needs $HOME")?)
    } else {
        absolute(a.project.as_deref().unwrap_or(Path::new(".")))?
    };
    let file = base.join(a.target.file());
    let old = match std::fs::read_to_string(&file) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("reading {}", file.display())),
    };
    let current: Value = match &old {
        Some(text) if !text.trim().is_empty() => serde_json::from_str(text).with_context(|| {
            format!(
                "{} is not valid JSON; fix it first (nothing was changed)",
                file.display()
            )
        })?,
        _ => json!({}),
    };
    let command = command_line(a)?;
    let new = merged(a.target, current.clone(), &command)?;
    let text = format!("{}\n", serde_json::to_string_pretty(&new)?);
    if a.dry_run {
        print!("{text}");
        return Ok(Exit::Ok);
    }
    if new == current {
        println!("{}: Brig's hooks are already installed", file.display());
        return Ok(Exit::Ok);
    }
    let dir = file
        .parent()
        .context("the settings file has no directory")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    if let Some(old) = &old {
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ");
        let name = file.file_name().unwrap_or_default().to_string_lossy();
        let backup = dir.join(format!("{name}.brig-backup-{stamp}"));
        std::fs::write(&backup, old)
            .with_context(|| format!("backing up to {}", backup.display()))?;
        println!("backed up {} to {}", file.display(), backup.display());
    }
    // Written beside and renamed over: an agent reading it never sees half a file.
    let tmp = dir.join(format!(
        ".{}.brig-tmp",
        a.target.file().rsplit('/').next().unwrap_or("x")
    ));
    std::fs::write(&tmp, &text).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &file).with_context(|| format!("writing {}", file.display()))?;
    println!(
        "{}: Brig's {} hooks installed: {command}",
        file.display(),
        a.target.kind().name()
    );
    Ok(Exit::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_keeps_other_hooks_and_replaces_brigs() {
        let settings = json!({
            "model": "x",
            "hooks": {"PreToolUse": [
                {"matcher": "Bash", "hooks": [{"type": "command", "command": "./guard.sh"}]},
                {"matcher": "*", "hooks": [{"type": "command", "command": "/old/brig hook claude-code --data /d"}]}
            ]}
        });
        let new = merged(
            Target::ClaudeCode,
            settings,
            "/new/brig hook claude-code --data /d",
        )
        .unwrap();
        assert_eq!(new["model"], "x");
        let pre = new["hooks"]["PreToolUse"].as_array().unwrap();
        assert_eq!(pre.len(), 2);
        assert_eq!(pre[0]["hooks"][0]["command"], "./guard.sh");
        assert_eq!(
            pre[1]["hooks"][0]["command"],
            "/new/brig hook claude-code --data /d"
        );
        let again = merged(
            Target::ClaudeCode,
            new.clone(),
            "/new/brig hook claude-code --data /d",
        )
        .unwrap();
        assert_eq!(again, new);
    }

    #[test]
    fn quoting() {
        assert_eq!(quote("/a/b"), "/a/b");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), r"'it'\''s'");
    }
}
