//! Incident-response figures as charts drawn on the server (hand-written SVG): time to
//! detect, contain and restore per day or week, incidents by severity and by rule, drill
//! scores. The figures are `brig_incident::metrics::compute` over time windows, as
//! `brig metrics` and `/metrics` compute them.

use std::sync::Arc;

use axum::extract::State as Shared;
use axum::http::StatusCode;
use brig_incident::metrics::{compute, read, Inputs, Metrics};
use maud::{html, Markup};

use super::session::Viewer;
use super::{blocking, internal, layout, respond, span_words, UiResult};
use crate::State;

/// The built-in pack's rule titles by id, for a server that runs no rules itself.
static BUILTIN_TITLES: std::sync::LazyLock<std::collections::BTreeMap<String, String>> =
    std::sync::LazyLock::new(|| brig_detect::rules::Rules::builtin().titles());

const DAY: i64 = 86_400 * 1_000_000_000;
/// Windows shown in the over-time chart.
const WINDOWS: i64 = 12;

struct Window {
    label: String,
    figures: Metrics,
}

/// The figures of each of the last [`WINDOWS`] days (or weeks, when the incidents span
/// more than two weeks), by when incidents were detected.
fn windows(inputs: &Inputs, now: i64) -> (&'static str, Vec<Window>) {
    let oldest = inputs
        .incidents
        .iter()
        .filter_map(|i| i.times.detected)
        .min()
        .unwrap_or(now);
    let (unit, width) = if now - oldest > 14 * DAY {
        ("week", 7 * DAY)
    } else {
        ("day", DAY)
    };
    let end = (now / DAY + 1) * DAY;
    let out = (0..WINDOWS)
        .rev()
        .map(|k| {
            let to = end - k * width;
            let from = to - width;
            let mut part = inputs.clone();
            part.incidents
                .retain(|i| i.times.detected.is_some_and(|t| t >= from && t < to));
            Window {
                label: super::datetime(from).format("%m-%d").to_string(),
                figures: compute(&part, None),
            }
        })
        .collect();
    (unit, out)
}

const W: f64 = 720.0;
const H: f64 = 220.0;
const LEFT: f64 = 70.0;
const BOTTOM: f64 = 30.0;

/// A line chart of several series (mean seconds per window); gaps where a window had none.
fn line_chart(label: &str, xs: &[String], series: &[(&str, &str, Vec<Option<f64>>)]) -> Markup {
    let max = series
        .iter()
        .flat_map(|(_, _, v)| v.iter().flatten())
        .copied()
        .fold(0.0f64, f64::max)
        .max(1.0);
    let n = xs.len().max(2);
    let x = |i: usize| LEFT + (W - LEFT - 10.0) * i as f64 / (n - 1) as f64;
    let y = |v: f64| (H - BOTTOM) - (H - BOTTOM - 10.0) * v / max;
    html! {
        svg.chart xmlns="http://www.w3.org/2000/svg" role="img" aria-label=(label) viewBox={ "0 0 " (W) " " (H) } {
            line x1=(LEFT) y1=(H - BOTTOM) x2=(W) y2=(H - BOTTOM) stroke="currentColor" {}
            line x1=(LEFT) y1="10" x2=(LEFT) y2=(H - BOTTOM) stroke="currentColor" {}
            text x=(LEFT - 6.0) y="16" text-anchor="end" font-size="11" fill="currentColor" { (span_words(max)) }
            text x=(LEFT - 6.0) y=(H - BOTTOM) text-anchor="end" font-size="11" fill="currentColor" { "0" }
            @for (i, l) in xs.iter().enumerate() {
                @if i % 2 == 0 || xs.len() <= 8 {
                    text x=(x(i)) y=(H - 10.0) text-anchor="middle" font-size="11" fill="currentColor" { (l) }
                }
            }
            @for (name, class, values) in series {
                @let pts: Vec<String> = values.iter().enumerate().filter_map(|(i, v)| v.map(|v| format!("{:.1},{:.1}", x(i), y(v)))).collect();
                g class={ "series " (class) } {
                    title { (name) }
                    @if pts.len() > 1 { polyline points=(pts.join(" ")) fill="none" stroke-width="2" {} }
                    @for (i, v) in values.iter().enumerate() {
                        @if let Some(v) = v {
                            circle cx=(format!("{:.1}", x(i))) cy=(format!("{:.1}", y(*v))) r="4" {
                                title { (name) ", " (xs[i]) ": " (span_words(*v)) }
                            }
                        }
                    }
                }
            }
        }
        ul.legend {
            @for (name, class, _) in series { li { span class={ "swatch " (class) } {} (name) } }
        }
    }
}

/// Horizontal bars: (label, value, text shown beside the bar).
fn bar_chart(label: &str, items: &[(String, f64, String)]) -> Markup {
    if items.is_empty() {
        return html! { p { "Nothing recorded yet." } };
    }
    let max = items.iter().map(|i| i.1).fold(0.0f64, f64::max).max(1e-9);
    let row = 24.0;
    let h = row * items.len() as f64 + 10.0;
    let label_w = 220.0;
    html! {
        svg.chart xmlns="http://www.w3.org/2000/svg" role="img" aria-label=(label) viewBox={ "0 0 " (W) " " (h) } {
            @for (k, (name, v, text)) in items.iter().enumerate() {
                @let y0 = 5.0 + row * k as f64;
                @let len = (W - label_w - 160.0) * v / max;
                text x=(label_w - 8.0) y=(y0 + 16.0) text-anchor="end" font-size="12" fill="currentColor" { (name) }
                rect class={ "bar b" (k % 4) } x=(label_w) y=(y0 + 3.0) width=(format!("{:.1}", len.max(1.0))) height=(row - 8.0) {
                    title { (name) ": " (text) }
                }
                text x=(label_w + len + 6.0) y=(y0 + 16.0) font-size="12" fill="currentColor" { (text) }
            }
        }
    }
}

fn data_table(caption: &str, head: &[&str], rows: Vec<Vec<String>>) -> Markup {
    html! {
        details.data {
            summary { "Data: " (caption) }
            table {
                caption { (caption) }
                thead { tr { @for h in head { th scope="col" { (h) } } } }
                tbody { @for r in &rows { tr { @for c in r { td { (c) } } } } }
            }
        }
    }
}

pub async fn page(Shared(state): Shared<Arc<State>>, v: Viewer) -> UiResult {
    let st = state.clone();
    let (all, unit, wins) = blocking(move || {
        let inputs = st.store.with(|s| read(s, Vec::new())).map_err(internal)?;
        let all = compute(&inputs, None);
        let (unit, wins) = windows(&inputs, super::now_nanos());
        Ok((all, unit, wins))
    })
    .await?;
    let xs: Vec<String> = wins.iter().map(|w| w.label.clone()).collect();
    let mean =
        |f: fn(&Metrics) -> Option<f64>| wins.iter().map(|w| f(&w.figures)).collect::<Vec<_>>();
    let series = vec![
        (
            "Time to detect (mean)",
            "s-detect",
            mean(|m| m.time_to_detect.mean_seconds),
        ),
        (
            "Time to contain (mean)",
            "s-contain",
            mean(|m| m.time_to_contain.mean_seconds),
        ),
        (
            "Time to restore (mean)",
            "s-restore",
            mean(|m| m.time_to_restore.mean_seconds),
        ),
    ];
    let figure =
        |d: &brig_incident::metrics::Durations| d.mean_seconds.map_or("—".to_string(), span_words);
    let severity: Vec<(String, f64, String)> = super::SEVERITIES
        .iter()
        .rev()
        .map(|s| {
            let n = all.by_severity.get(*s).copied().unwrap_or(0);
            (s.replace('_', " "), n as f64, format!("{n}"))
        })
        .collect();
    let mut rules: Vec<(&String, &usize)> = all.by_rule.iter().collect();
    rules.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    // The titles of the pack this server runs (custom rules included), else the built-in's.
    let titles = match &state.detection {
        Some(d) => d.titles(),
        None => &*BUILTIN_TITLES,
    };
    let rules: Vec<(String, f64, String)> = rules
        .into_iter()
        .take(15)
        .map(|(r, n)| {
            let name = titles.get(r).cloned().unwrap_or_else(|| r.clone());
            (name, *n as f64, n.to_string())
        })
        .collect();
    let drills: Vec<(String, f64, String)> = all
        .drills
        .iter()
        .rev()
        .take(15)
        .map(|d| {
            let ttd = d.ttd_ms.unwrap_or(0.0);
            (
                d.scenario.clone(),
                ttd,
                format!(
                    "{}; detected in {}",
                    if d.passed { "passed" } else { "failed" },
                    d.ttd_ms.map_or("—".into(), |ms| format!("{ms:.0} ms"))
                ),
            )
        })
        .collect();
    let body = html! {
        p {
            (all.incidents) " incidents. Mean time to detect " (figure(&all.time_to_detect))
            ", to contain " (figure(&all.time_to_contain)) ", to restore " (figure(&all.time_to_restore)) "."
            @if all.cut { " (Older records were left out: the figures cover the newest only.)" }
        }
        section aria-labelledby="h-times" {
            h2 #h-times { "Time to detect, contain and restore" }
            (line_chart(&format!("Mean time to detect, contain and restore per {unit}, last {WINDOWS} {unit}s"), &xs, &series))
            (data_table(&format!("Mean times per {unit}"), &[unit, "detect", "contain", "restore", "incidents"],
                wins.iter().map(|w| vec![w.label.clone(), figure(&w.figures.time_to_detect), figure(&w.figures.time_to_contain), figure(&w.figures.time_to_restore), w.figures.incidents.to_string()]).collect()))
        }
        section aria-labelledby="h-severity" {
            h2 #h-severity { "Incidents by severity" }
            (bar_chart("Incidents by severity", &severity))
        }
        section aria-labelledby="h-rule" {
            h2 #h-rule { "Incidents by rule" }
            (bar_chart("Incidents by rule (the 15 most frequent)", &rules))
        }
        section aria-labelledby="h-drills" {
            h2 #h-drills { "Drill scores" }
            (bar_chart("Drill scores: time to detect per drill, passed or failed", &drills))
        }
    };
    let flash = state.console.take_flash(&v.sid);
    Ok(respond(
        StatusCode::OK,
        layout(&v, "/ui/metrics", "Metrics", flash, body),
    ))
}
