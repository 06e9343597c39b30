//! The post-mortem as Markdown.
//!
//! Text from the record is written by agents: `<`, `>` and `&` become entities (a viewer
//! that renders inline HTML shows them as text), `|` is escaped in tables and line breaks
//! are folded, so no field can open a tag, a link target or a table column of its own.

use std::fmt::Write;

use super::{duration, stamp, Category, Postmortem};

/// Most timeline rows written; the rest are counted (`brig incidents timeline` has them all).
pub const TABLE_ROWS: usize = 400;

/// The section headings, in order: the report always has every one.
pub const SECTIONS: [&str; 11] = [
    "Summary",
    "Impact",
    "Timeline",
    "Detection and response",
    "Root cause (suggested)",
    "Ability, opportunity, incentive",
    "What worked",
    "What did not",
    "Corrective actions",
    "Reporting obligations",
    "About this report",
];

/// Text from the record, safe in Markdown prose and table cells.
pub fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '|' => out.push_str("\\|"),
            '`' | '*' | '_' | '[' | ']' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

fn list(out: &mut String, items: &[String]) {
    if items.is_empty() {
        out.push_str("- (none)\n");
    }
    for i in items {
        let _ = writeln!(out, "- {}", text(i));
    }
}

fn or_dash(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), duration)
}

fn set(s: &std::collections::BTreeSet<String>) -> String {
    if s.is_empty() {
        "none".into()
    } else {
        text(&s.iter().cloned().collect::<Vec<_>>().join(", "))
    }
}

/// Renders the report.
pub fn render(p: &Postmortem) -> String {
    let i = &p.incident;
    let mut out = String::new();
    let _ = writeln!(out, "# Post-mortem: {}\n", text(&i.title));
    let _ = writeln!(
        out,
        "Incident **{}** · severity **{}** · state **{}** · agent `{}` · blameless: it describes \
         what systems, policies and the agent did, not who is at fault.\n",
        text(&i.id),
        i.severity,
        i.state.as_str(),
        i.agent.replace('`', "'")
    );
    heading(&mut out, 0);
    let _ = writeln!(out, "{}\n", text(&p.summary));
    impact(&mut out, p);
    timeline(&mut out, p);
    detection(&mut out, p);
    root_cause(&mut out, p);
    heading(&mut out, 5);
    for (name, items) in [
        ("Ability (permissions)", &p.analysis.ability),
        ("Opportunity (workflow design)", &p.analysis.opportunity),
        ("Incentive (task framing)", &p.analysis.incentive),
    ] {
        let _ = writeln!(out, "**{name}**\n");
        list(&mut out, items);
        out.push('\n');
    }
    heading(&mut out, 6);
    list(&mut out, &p.worked);
    out.push('\n');
    heading(&mut out, 7);
    list(&mut out, &p.did_not);
    out.push('\n');
    actions(&mut out, p);
    reporting(&mut out, p);
    heading(&mut out, 10);
    let _ = writeln!(
        out,
        "Written by Brig at {} from the ledger and the incident store; every event cited by \
         its ledger index can be proven with `brig ledger prove INDEX`.",
        stamp(p.generated_at)
    );
    out
}

fn heading(out: &mut String, n: usize) {
    let _ = writeln!(out, "## {}\n", SECTIONS[n]);
}

fn impact(out: &mut String, p: &Postmortem) {
    let m = &p.impact;
    heading(out, 1);
    let _ = writeln!(out, "| | |\n|---|---|");
    let _ = writeln!(out, "| Data classes | {} |", set(&m.classes));
    let _ = writeln!(out, "| What happened | {} |", set(&m.outcomes));
    let _ = writeln!(
        out,
        "| Systems (register resources) | {} |",
        set(&m.systems)
    );
    let _ = writeln!(out, "| Targets reached | {} |", set(&m.targets));
    let _ = writeln!(out, "| Identities | {} |", set(&m.identities));
    let offline = match (m.offline.from, m.offline.ms) {
        (None, _) => "not taken offline".to_string(),
        (Some(f), Some(ms)) if m.offline.to.is_none() => {
            format!("contained since {} ({} so far)", stamp(f), duration(ms))
        }
        (Some(f), Some(ms)) => format!("{} (from {})", duration(ms), stamp(f)),
        (Some(f), None) => format!("contained at {}; containment since lifted", stamp(f)),
    };
    let _ = writeln!(out, "| Time offline | {offline} |\n");
    for (class, d) in &m.data {
        let parts: Vec<String> = [
            ("exposed", &d.exposed),
            ("altered", &d.altered),
            ("copied out to", &d.copied),
            ("attempted, stopped", &d.attempted),
        ]
        .into_iter()
        .filter(|(_, s)| !s.is_empty())
        .map(|(n, s)| format!("{n}: {}", set(s)))
        .collect();
        let _ = writeln!(out, "- **{}**: {}", text(class), parts.join("; "));
    }
    if !m.data.is_empty() {
        out.push('\n');
    }
}

fn timeline(out: &mut String, p: &Postmortem) {
    heading(out, 2);
    let _ = writeln!(out, "| ledger | time | kind | what |\n|---:|---|---|---|");
    for e in p.timeline.iter().take(TABLE_ROWS) {
        let mark = if e.denied { " (stopped)" } else { "" };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {}{mark} |",
            e.line.index,
            stamp(e.line.ts),
            text(&e.line.kind),
            text(&e.line.what)
        );
    }
    if p.timeline.len() > TABLE_ROWS {
        let _ = writeln!(
            out,
            "\n{} more event(s): `brig incidents timeline {}` lists them all.",
            p.timeline.len() - TABLE_ROWS,
            text(&p.incident.id)
        );
    }
    if p.timeline_cut {
        out.push_str("\nThe sessions are longer than Brig reads at once: the timeline is cut.\n");
    }
    out.push('\n');
}

fn detection(out: &mut String, p: &Postmortem) {
    let t = &p.timings;
    heading(out, 3);
    let _ = writeln!(
        out,
        "| measure | value |\n|---|---|\n| time to detect (first harmful event → alert) | {} |\n\
         | time to contain (alert → contained) | {} |\n| time to recover (alert → recovered) | {} |\n",
        or_dash(t.detect_ms),
        or_dash(t.contain_ms),
        or_dash(t.recover_ms)
    );
    let _ = writeln!(out, "| lifecycle | time |\n|---|---|");
    for (name, ts) in &t.lifecycle {
        let _ = writeln!(out, "| {name} | {} |", stamp(*ts));
    }
    let _ = writeln!(
        out,
        "\n| playbook step | status | took | detail |\n|---|---|---:|---|"
    );
    if t.playbook.is_empty() {
        out.push_str("| (not run) | | | |\n");
    }
    for s in &t.playbook {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            text(&s.step),
            text(&s.status),
            or_dash(s.ms),
            text(&s.detail)
        );
    }
    if !t.rollback.is_empty() {
        let parts: Vec<String> = t.rollback.iter().map(|(r, n)| format!("{r} {n}")).collect();
        let _ = writeln!(
            out,
            "\nRollback steps recorded: {}.",
            text(&parts.join(", "))
        );
    }
    out.push('\n');
}

fn root_cause(out: &mut String, p: &Postmortem) {
    let rc = &p.root_cause;
    heading(out, 4);
    let _ = writeln!(
        out,
        "Suggested category: **{}** ({}).\n",
        rc.suggested.label(),
        text(&rc.status)
    );
    let others: Vec<&str> = Category::ALL
        .iter()
        .filter(|c| **c != rc.suggested)
        .map(|c| c.label())
        .collect();
    let _ = writeln!(out, "Evidence:\n");
    list(out, &rc.evidence);
    let _ = writeln!(out, "\nThe other categories: {}.\n", others.join(", "));
}

fn actions(out: &mut String, p: &Postmortem) {
    heading(out, 8);
    let _ = writeln!(out, "| # | action | owner | due date |\n|---:|---|---|---|");
    for (n, a) in p.actions.iter().enumerate() {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            n + 1,
            text(&a.action),
            text(a.owner.as_deref().unwrap_or("")),
            text(a.due.as_deref().unwrap_or(""))
        );
    }
    out.push('\n');
}

fn reporting(out: &mut String, p: &Postmortem) {
    heading(out, 9);
    if p.reporting.is_empty() {
        out.push_str("None of the regimes' triggers match this incident.\n\n");
        return;
    }
    let _ = writeln!(
        out,
        "Candidates for legal review, not legal advice.\n\n| obligation | notify | deadline | \
         left | status | source |\n|---|---|---|---|---|---|"
    );
    for r in &p.reporting {
        let o = &r.obligation;
        let deadline = o.deadline_nanos.map_or_else(|| o.due.clone(), stamp);
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            text(&o.name),
            text(&o.notify),
            text(&deadline),
            text(&r.left),
            text(&o.status),
            text(&o.source)
        );
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_text_cannot_open_tags_or_columns() {
        let t = text("<script>alert(1)</script> | [x](javascript:y)\nnext");
        assert!(!t.contains('<') && !t.contains('\n'), "{t}");
        assert!(t.contains("&lt;script&gt;") && t.contains("\\|") && t.contains("\\["));
    }
}
