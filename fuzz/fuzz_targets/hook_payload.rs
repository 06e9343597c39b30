//! Coding-agent hook payloads (`brig hook`), in each agent's format: Claude Code, Gemini
//! CLI, Cursor, Codex. A parsed event's tool call is normalized as the hook handler does,
//! and every outcome's answer is built in the agent's format.
#![no_main]

use brig_detect::ToolContext;
use brig_gateway::hook::{self, AgentKind, Kind, Outcome};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = hook::event_name(data);
    for agent in [
        AgentKind::ClaudeCode,
        AgentKind::GeminiCli,
        AgentKind::Cursor,
        AgentKind::Codex,
    ] {
        let Ok(ev) = hook::parse(agent, data) else {
            continue;
        };
        let roots = [ev.project.clone()];
        let ctx = ToolContext {
            cwd: Some(&ev.cwd),
            roots: &roots,
        };
        if let Kind::PreTool { tool, input } | Kind::PostTool { tool, input, .. } = &ev.kind {
            let _ = brig_detect::normalize(tool, input, &ctx);
        }
        for outcome in [
            Outcome::Allow,
            Outcome::Deny("denied".into()),
            Outcome::Ask("ask".into()),
            Outcome::Done,
        ] {
            let _ = hook::answer(&ev, &outcome);
        }
    }
});
