//! The post-mortem as one self-contained HTML page: inline CSS, no script, no external
//! asset, the timeline drawn as an inline SVG chart.
//!
//! Every text from the record goes through [`esc`] — in element content and in attribute
//! values alike — since agents write that text.

use std::fmt::Write;

use super::markdown::{SECTIONS, TABLE_ROWS};
use super::{duration, stamp, Category, Entry, Lane, Postmortem};

/// Most events drawn in the chart (the table and `brig incidents timeline` have the rest).
pub const CHART_POINTS: usize = 2_000;

const CSS: &str = "body{font:15px/1.45 system-ui,sans-serif;max-width:1080px;margin:2em auto;\
padding:0 1em;color:#1d2433}h1{font-size:1.6em}h2{margin-top:1.8em;border-bottom:1px solid #d8dde6}\
table{border-collapse:collapse;width:100%;margin:.6em 0}th,td{border:1px solid #d8dde6;\
padding:.3em .5em;text-align:left;vertical-align:top}th{background:#f2f4f8}.meta{color:#556}\
.stopped{color:#b3261e;font-weight:600}.blank{min-width:8em}svg{width:100%;height:auto;\
border:1px solid #d8dde6;background:#fbfcfe}.note{color:#556;font-size:.9em}";

/// Text from the record, safe in element content and in quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

fn id_of(n: usize) -> &'static str {
    [
        "summary",
        "impact",
        "timeline",
        "detection",
        "root-cause",
        "analysis",
        "worked",
        "did-not",
        "actions",
        "reporting",
        "about",
    ][n]
}

fn section(out: &mut String, n: usize) {
    let _ = writeln!(
        out,
        "<section id=\"{}\"><h2>{}</h2>",
        id_of(n),
        esc(SECTIONS[n])
    );
}

fn list(out: &mut String, items: &[String]) {
    out.push_str("<ul>");
    if items.is_empty() {
        out.push_str("<li>(none)</li>");
    }
    for i in items {
        let _ = write!(out, "<li>{}</li>", esc(i));
    }
    out.push_str("</ul>\n");
}

fn set(s: &std::collections::BTreeSet<String>) -> String {
    if s.is_empty() {
        "none".into()
    } else {
        esc(&s.iter().cloned().collect::<Vec<_>>().join(", "))
    }
}

fn or_dash(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), duration)
}

/// Renders the page.
pub fn render(p: &Postmortem) -> String {
    let i = &p.incident;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>Post-mortem {}</title><style>{CSS}</style></head><body>\n\
         <h1>Post-mortem: {}</h1>\n<p class=\"meta\">Incident <b>{}</b> · severity <b>{}</b> · \
         state <b>{}</b> · agent <code>{}</code> · blameless: it describes what systems, \
         policies and the agent did, not who is at fault.</p>",
        esc(&i.id),
        esc(&i.title),
        esc(&i.id),
        i.severity,
        i.state.as_str(),
        esc(&i.agent)
    );
    section(&mut out, 0);
    let _ = writeln!(out, "<p>{}</p></section>", esc(&p.summary));
    impact(&mut out, p);
    timeline(&mut out, p);
    detection(&mut out, p);
    root_cause(&mut out, p);
    section(&mut out, 5);
    for (name, items) in [
        ("Ability (permissions)", &p.analysis.ability),
        ("Opportunity (workflow design)", &p.analysis.opportunity),
        ("Incentive (task framing)", &p.analysis.incentive),
    ] {
        let _ = write!(out, "<h3>{name}</h3>");
        list(&mut out, items);
    }
    out.push_str("</section>\n");
    section(&mut out, 6);
    list(&mut out, &p.worked);
    out.push_str("</section>\n");
    section(&mut out, 7);
    list(&mut out, &p.did_not);
    out.push_str("</section>\n");
    actions(&mut out, p);
    reporting(&mut out, p);
    section(&mut out, 10);
    let _ = writeln!(
        out,
        "<p class=\"note\">Written by Brig at {} from the ledger and the incident store; every \
         event cited by its ledger index can be proven with <code>brig ledger prove INDEX</code>.\
         </p></section>\n</body></html>",
        stamp(p.generated_at)
    );
    out
}

fn impact(out: &mut String, p: &Postmortem) {
    let m = &p.impact;
    section(out, 1);
    let offline = match (m.offline.from, m.offline.ms) {
        (None, _) => "not taken offline".to_string(),
        (Some(f), Some(ms)) if m.offline.to.is_none() => {
            format!("contained since {} ({} so far)", stamp(f), duration(ms))
        }
        (Some(f), Some(ms)) => format!("{} (from {})", duration(ms), stamp(f)),
        (Some(f), None) => format!("contained at {}; containment since lifted", stamp(f)),
    };
    let _ = writeln!(
        out,
        "<table><tr><th>Data classes</th><td>{}</td></tr><tr><th>What happened</th><td>{}</td></tr>\
         <tr><th>Systems (register resources)</th><td>{}</td></tr><tr><th>Targets reached</th>\
         <td>{}</td></tr><tr><th>Identities</th><td>{}</td></tr><tr><th>Time offline</th>\
         <td>{}</td></tr></table>",
        set(&m.classes),
        set(&m.outcomes),
        set(&m.systems),
        set(&m.targets),
        set(&m.identities),
        esc(&offline)
    );
    if !m.data.is_empty() {
        out.push_str("<ul>");
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
            let _ = write!(out, "<li><b>{}</b>: {}</li>", esc(class), parts.join("; "));
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</section>\n");
}

fn timeline(out: &mut String, p: &Postmortem) {
    section(out, 2);
    out.push_str(&chart(p));
    out.push_str("<table><tr><th>ledger</th><th>time</th><th>kind</th><th>what</th></tr>\n");
    for e in p.timeline.iter().take(TABLE_ROWS) {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}{}</td></tr>",
            e.line.index,
            stamp(e.line.ts),
            esc(&e.line.kind),
            esc(&e.line.what),
            if e.denied {
                " <span class=\"stopped\">(stopped)</span>"
            } else {
                ""
            }
        );
    }
    out.push_str("</table>\n");
    if p.timeline.len() > TABLE_ROWS {
        let _ = write!(
            out,
            "<p class=\"note\">{} more event(s): <code>brig incidents timeline {}</code> lists \
             them all.</p>",
            p.timeline.len() - TABLE_ROWS,
            esc(&p.incident.id)
        );
    }
    if p.timeline_cut {
        out.push_str(
            "<p class=\"note\">The sessions are longer than Brig reads at once: the timeline is \
             cut.</p>",
        );
    }
    out.push_str("</section>\n");
}

// The chart's geometry, in SVG user units.
const WIDTH: f64 = 1000.0;
const LEFT: f64 = 120.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 48.0;
const LANE_H: f64 = 40.0;

/// The timeline as an SVG chart: one lane per kind of event on a shared time axis,
/// stopped calls and denials as red crosses, alerts as diamonds, the lifecycle marks
/// (first harmful, detected, contained, recovered) as dashed vertical lines.
pub fn chart(p: &Postmortem) -> String {
    let points: Vec<&Entry> = p
        .timeline
        .iter()
        .filter(|e| e.lane.is_some())
        .take(CHART_POINTS)
        .collect();
    let t = &p.incident.times;
    let marks: Vec<(&str, i64)> = [
        ("first harmful", t.first_harmful),
        ("detected", t.detected),
        ("contained", t.contained),
        ("recovered", t.recovered),
    ]
    .into_iter()
    .filter_map(|(n, v)| v.map(|v| (n, v)))
    .collect();
    let times = points
        .iter()
        .map(|e| e.line.ts)
        .chain(marks.iter().map(|m| m.1));
    let (t0, t1) = times.fold((i64::MAX, i64::MIN), |(a, b), x| (a.min(x), b.max(x)));
    let height = TOP + LANE_H * Lane::ALL.len() as f64 + 50.0;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {height}\" \
         role=\"img\" aria-labelledby=\"tl-title\" class=\"timeline-chart\">\
         <title id=\"tl-title\">Timeline of incident {}: {} event(s) by kind</title>",
        esc(&p.incident.id),
        points.len()
    );
    if t0 > t1 {
        s.push_str("<text x=\"20\" y=\"30\">no events recorded</text></svg>\n");
        return s;
    }
    let span = (t1 - t0).max(1_000_000) as f64;
    let x = |ts: i64| LEFT + (ts - t0) as f64 / span * (WIDTH - LEFT - RIGHT);
    let lane_y = |l: Lane| {
        let n = Lane::ALL.iter().position(|x| *x == l).unwrap_or(0);
        TOP + LANE_H * n as f64 + LANE_H / 2.0
    };
    lanes(&mut s, height, &lane_y);
    axis(&mut s, t0, span, height, &x);
    for (name, ts) in &marks {
        let cx = x(*ts);
        // Labels near the right edge end at their line instead of running off the chart.
        let anchor = if cx > WIDTH - RIGHT - 60.0 {
            "end"
        } else {
            "middle"
        };
        let _ = writeln!(
            s,
            "<g class=\"mark\"><line x1=\"{cx:.1}\" y1=\"{}\" x2=\"{cx:.1}\" y2=\"{:.1}\" \
             stroke=\"#7a3db8\" stroke-dasharray=\"4 3\"/><text x=\"{cx:.1}\" y=\"{}\" \
             font-size=\"11\" text-anchor=\"{anchor}\" fill=\"#7a3db8\">{name}</text>\
             <title>{name}: {}</title></g>",
            TOP - 14.0,
            height - 44.0,
            TOP - 18.0 - 12.0 * (marks.iter().position(|m| m.0 == *name).unwrap_or(0) % 2) as f64,
            stamp(*ts)
        );
    }
    for e in points {
        let Some(lane) = e.lane else { continue };
        point(&mut s, e, x(e.line.ts), lane_y(lane));
    }
    s.push_str("</svg>\n");
    s
}

fn lanes(s: &mut String, height: f64, lane_y: &dyn Fn(Lane) -> f64) {
    for (n, l) in Lane::ALL.iter().enumerate() {
        let y = lane_y(*l);
        let fill = if n % 2 == 0 { "#f2f4f8" } else { "#fbfcfe" };
        let _ = writeln!(
            s,
            "<rect x=\"0\" y=\"{:.1}\" width=\"{WIDTH}\" height=\"{LANE_H}\" fill=\"{fill}\"/>\
             <text x=\"8\" y=\"{:.1}\" font-size=\"12\" fill=\"#1d2433\">{}</text>",
            y - LANE_H / 2.0,
            y + 4.0,
            l.label()
        );
    }
    let _ = writeln!(
        s,
        "<line x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{LEFT}\" y2=\"{:.1}\" stroke=\"#8893a6\"/>",
        height - 50.0
    );
}

fn axis(s: &mut String, t0: i64, span: f64, height: f64, x: &dyn Fn(i64) -> f64) {
    let y = height - 50.0;
    let _ = writeln!(
        s,
        "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#8893a6\"/>",
        WIDTH - RIGHT
    );
    let _ = writeln!(
        s,
        "<text x=\"{LEFT}\" y=\"{:.1}\" font-size=\"11\" fill=\"#556\">times from {}</text>",
        y + 32.0,
        stamp(t0)
    );
    for k in 0..=4 {
        let ts = t0 + (span * f64::from(k) / 4.0) as i64;
        let cx = x(ts);
        let label = format!("+{}", duration((ts - t0) as f64 / 1e6));
        let anchor = match k {
            0 => "start",
            4 => "end",
            _ => "middle",
        };
        let _ = writeln!(
            s,
            "<line x1=\"{cx:.1}\" y1=\"{y:.1}\" x2=\"{cx:.1}\" y2=\"{:.1}\" stroke=\"#8893a6\"/>\
             <text x=\"{cx:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"{anchor}\" \
             fill=\"#556\">{label}</text>",
            y + 5.0,
            y + 18.0
        );
    }
}

fn point(s: &mut String, e: &Entry, cx: f64, cy: f64) {
    let tip = format!(
        "#{} {} {}: {}{}",
        e.line.index,
        stamp(e.line.ts),
        e.line.kind,
        e.line.what,
        if e.denied { " (stopped)" } else { "" }
    );
    let shape = match (e.lane, e.denied) {
        (_, true) => format!(
            "<path d=\"M{:.1} {:.1}l10 10M{:.1} {:.1}l10 -10\" stroke=\"#b3261e\" \
             stroke-width=\"2.5\"/>",
            cx - 5.0,
            cy - 5.0,
            cx - 5.0,
            cy + 5.0
        ),
        (Some(Lane::Alert), _) => {
            let fill = match e.level.as_deref() {
                Some("critical") => "#8b0000",
                Some("high") => "#d9480f",
                Some("medium") => "#e8a200",
                _ => "#6c7a89",
            };
            format!(
                "<path d=\"M{cx:.1} {:.1}l7 7l-7 7l-7 -7z\" fill=\"{fill}\"/>",
                cy - 7.0
            )
        }
        (Some(Lane::Response), _) => format!(
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"10\" height=\"10\" fill=\"#2b6cb0\"/>",
            cx - 5.0,
            cy - 5.0
        ),
        _ => format!("<circle cx=\"{cx:.1}\" cy=\"{cy:.1}\" r=\"5\" fill=\"#2f855a\"/>"),
    };
    let _ = writeln!(
        s,
        "<g class=\"event{}\" data-index=\"{}\">{shape}<title>{}</title></g>",
        if e.denied { " denied" } else { "" },
        e.line.index,
        esc(&tip)
    );
}

fn detection(out: &mut String, p: &Postmortem) {
    let t = &p.timings;
    section(out, 3);
    let _ = write!(
        out,
        "<table><tr><th>measure</th><th>value</th></tr><tr><td>time to detect (first harmful \
         event → alert)</td><td>{}</td></tr><tr><td>time to contain (alert → contained)</td>\
         <td>{}</td></tr><tr><td>time to recover (alert → recovered)</td><td>{}</td></tr>\
         </table>\n<table><tr><th>lifecycle</th><th>time</th></tr>",
        or_dash(t.detect_ms),
        or_dash(t.contain_ms),
        or_dash(t.recover_ms)
    );
    for (name, ts) in &t.lifecycle {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td></tr>",
            esc(name),
            stamp(*ts)
        );
    }
    out.push_str(
        "</table>\n<table><tr><th>playbook step</th><th>status</th><th>took</th>\
         <th>detail</th></tr>",
    );
    if t.playbook.is_empty() {
        out.push_str("<tr><td colspan=\"4\">(not run)</td></tr>");
    }
    for s in &t.playbook {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&s.step),
            esc(&s.status),
            or_dash(s.ms),
            esc(&s.detail)
        );
    }
    out.push_str("</table>\n");
    if !t.rollback.is_empty() {
        let parts: Vec<String> = t.rollback.iter().map(|(r, n)| format!("{r} {n}")).collect();
        let _ = write!(
            out,
            "<p>Rollback steps recorded: {}.</p>",
            esc(&parts.join(", "))
        );
    }
    out.push_str("</section>\n");
}

fn root_cause(out: &mut String, p: &Postmortem) {
    let rc = &p.root_cause;
    section(out, 4);
    let _ = write!(
        out,
        "<p>Suggested category: <b>{}</b> <span class=\"note\">({})</span></p><p>Evidence:</p>",
        rc.suggested.label(),
        esc(&rc.status)
    );
    list(out, &rc.evidence);
    let others: Vec<&str> = Category::ALL
        .iter()
        .filter(|c| **c != rc.suggested)
        .map(|c| c.label())
        .collect();
    let _ = writeln!(
        out,
        "<p class=\"note\">The other categories: {}.</p></section>",
        others.join(", ")
    );
}

fn actions(out: &mut String, p: &Postmortem) {
    section(out, 8);
    out.push_str("<table><tr><th>#</th><th>action</th><th>owner</th><th>due date</th></tr>");
    for (n, a) in p.actions.iter().enumerate() {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td class=\"blank\">{}</td><td class=\"blank\">{}</td></tr>",
            n + 1,
            esc(&a.action),
            esc(a.owner.as_deref().unwrap_or("")),
            esc(a.due.as_deref().unwrap_or(""))
        );
    }
    out.push_str("</table></section>\n");
}

fn reporting(out: &mut String, p: &Postmortem) {
    section(out, 9);
    if p.reporting.is_empty() {
        out.push_str("<p>None of the regimes' triggers match this incident.</p></section>\n");
        return;
    }
    out.push_str(
        "<p class=\"note\">Candidates for legal review, not legal advice.</p><table><tr>\
         <th>obligation</th><th>notify</th><th>deadline</th><th>left</th><th>status</th>\
         <th>source</th></tr>",
    );
    for r in &p.reporting {
        let o = &r.obligation;
        let deadline = o.deadline_nanos.map_or_else(|| o.due.clone(), stamp);
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&o.name),
            esc(&o.notify),
            esc(&deadline),
            esc(&r.left),
            esc(&o.status),
            esc(&o.source)
        );
    }
    out.push_str("</table></section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_text_is_escaped_in_content_and_attributes() {
        assert_eq!(
            esc("<script>\"a\" & 'b'</script>"),
            "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;"
        );
    }
}
