//! An incident's timeline: an overview of its events counted per time bucket by the
//! database (an SVG whose bars zoom in), and the events themselves a page of 200 at a time
//! by ledger index, each opening onto its arguments, result and file diffs. Nothing here
//! reads more than a page of events, whatever the incident's size.

use brig_incident::Incident;
use brig_ledger::store::LedgerStore;
use brig_model::Event;
use brig_store::{bucket_width, Page, Span, Store};
use maud::{html, Markup};
use serde::Deserialize;

use super::{internal, pre_value, UiError};

/// Events per page.
pub const PAGE: usize = 200;
/// Bars in the overview.
pub const BUCKETS: u32 = 60;

const WIDTH: u32 = 960;
const HEIGHT: u32 = 120;

#[derive(Deserialize, Default, Debug)]
pub struct TimelineQuery {
    /// Zoomed range, ns since the Unix epoch.
    from: Option<i64>,
    to: Option<i64>,
    /// The page of events before / after this ledger index (default: the latest).
    before: Option<u64>,
    after: Option<u64>,
}

fn clock(nanos: i64, fine: bool) -> String {
    let t = super::datetime(nanos);
    if fine {
        t.format("%H:%M:%S%.3f").to_string()
    } else {
        t.format("%H:%M:%S").to_string()
    }
}

/// The link to this incident's timeline with these parameters.
fn link(id: &str, range: Option<(i64, i64)>, page: Option<(&str, u64)>) -> String {
    let mut q = Vec::new();
    if let Some((f, t)) = range {
        q.push(format!("from={f}"));
        q.push(format!("to={t}"));
    }
    if let Some((k, i)) = page {
        q.push(format!("{k}={i}"));
    }
    let q = if q.is_empty() {
        String::new()
    } else {
        format!("?{}", q.join("&"))
    };
    format!("/ui/incidents/{id}{q}#h-timeline")
}

/// The timeline's markup, and how many events the incident has in all.
pub fn render(s: &mut Store, i: &Incident, q: &TimelineQuery) -> Result<(Markup, u64), UiError> {
    let all = Span {
        sessions: i.sessions.iter().cloned().collect(),
        agent: i.agent.clone(),
        from_nanos: i64::MIN,
        to_nanos: i64::MAX,
    };
    let whole = s.span_extent(&all).map_err(internal)?;
    let (Some(first), Some(last)) = (whole.first_nanos, whole.last_nanos) else {
        return Ok((
            html! { p { "No event of this incident is in the ledger." } },
            0,
        ));
    };
    let zoomed = q.from.is_some() || q.to.is_some();
    let view = Span {
        from_nanos: q.from.unwrap_or(first).max(first),
        to_nanos: q.to.unwrap_or(last).min(last),
        ..all.clone()
    };
    let view = if view.from_nanos > view.to_nanos {
        Span {
            from_nanos: first,
            to_nanos: last,
            ..all.clone()
        }
    } else {
        view
    };
    let in_view = if zoomed {
        s.span_extent(&view).map_err(internal)?.events
    } else {
        whole.events
    };
    let counts = s.span_buckets(&view, BUCKETS).map_err(internal)?;
    let width = bucket_width(&view, BUCKETS);
    let range = zoomed.then_some((view.from_nanos, view.to_nanos));

    let page = match (q.before, q.after) {
        (Some(b), _) => Page::Before(b),
        (None, Some(a)) => Page::After(a),
        _ => Page::Latest,
    };
    let idxs = s.span_page(&view, page, PAGE).map_err(internal)?;
    let older = match idxs.first() {
        Some(&f) => !s
            .span_page(&view, Page::Before(f), 1)
            .map_err(internal)?
            .is_empty(),
        None => false,
    };
    let newer = match idxs.last() {
        Some(&l) => !s
            .span_page(&view, Page::After(l), 1)
            .map_err(internal)?
            .is_empty(),
        None => false,
    };
    let mut rows = Vec::with_capacity(idxs.len());
    for idx in idxs {
        let Some(row) = s.leaf(idx).map_err(internal)? else {
            continue;
        };
        let e = Event::from_leaf(&row.leaf)
            .map_err(|e| internal(format!("ledger row {idx} does not parse: {e}")))?;
        let payloads = brig_incident::questions::payloads(s, idx, &e).map_err(internal)?;
        rows.push((idx, e, payloads));
    }

    let zoom_out = zoomed.then(|| {
        // Four times as wide around the same middle; the whole incident once that covers it.
        let mid = view.from_nanos / 2 + view.to_nanos / 2;
        let half = (view.to_nanos - view.from_nanos).saturating_mul(2).max(1);
        let (f, t) = (mid.saturating_sub(half), mid.saturating_add(half));
        if f <= first && t >= last {
            link(&i.id, None, None)
        } else {
            link(&i.id, Some((f.max(first), t.min(last))), None)
        }
    });

    let markup = html! {
        p {
            (whole.events) " events in all, " (super::when(first)) " to " (super::when(last))
            @if zoomed { "; " (in_view) " between " (clock(view.from_nanos, false)) " and " (clock(view.to_nanos, false)) " UTC" }
            "."
        }
        (overview(&i.id, &view, &counts, width))
        @if let Some(href) = &zoom_out { p { a href=(href) { "Zoom out" } } }
        (events_table(&rows))
        nav.pager aria-label="Event pages" {
            @if let (true, Some((first_idx, _, _))) = (older, rows.first()) {
                a href=(link(&i.id, range, Some(("before", *first_idx)))) rel="prev" { "Older events" }
            }
            @if let (true, Some((last_idx, _, _))) = (newer, rows.last()) {
                a href=(link(&i.id, range, Some(("after", *last_idx)))) rel="next" { "Newer events" }
            }
        }
    };
    Ok((markup, whole.events))
}

/// The overview: one bar per bucket, each a link zooming to its time range.
fn overview(id: &str, view: &Span, counts: &[u64], width: i64) -> Markup {
    let max = counts.iter().copied().max().unwrap_or(0).max(1);
    let total: u64 = counts.iter().sum();
    let bar = WIDTH / counts.len().max(1) as u32;
    let fine = width < 1_000_000_000;
    let label = format!(
        "Events over time, {} to {} UTC: {total} events in {} bars; the tallest holds {max}",
        clock(view.from_nanos, fine),
        clock(view.to_nanos, fine),
        counts.len()
    );
    html! {
        // A group, not an img: an img's children are presentational, and these bars are
        // links a keyboard or screen-reader user must reach.
        svg.overview xmlns="http://www.w3.org/2000/svg" role="group" aria-label=(label)
            viewBox={ "0 0 " (WIDTH) " " (HEIGHT + 20) } preserveAspectRatio="none" {
            @for (n, &c) in counts.iter().enumerate() {
                @let from = view.from_nanos.saturating_add(width.saturating_mul(n as i64));
                @let to = from.saturating_add(width - 1).min(view.to_nanos);
                @let h = ((c as f64 / max as f64) * f64::from(HEIGHT)).round().max(if c > 0 { 2.0 } else { 0.0 });
                @let x = n as u32 * bar;
                @if c > 0 {
                    @let name = format!("Zoom to {}–{} ({c} events)", clock(from, fine), clock(to, fine));
                    a href=(link(id, Some((from, to)), None)) aria-label=(name) {
                        title { (name) }
                        rect.bar x=(x) y=(f64::from(HEIGHT) - h) width=(bar.saturating_sub(1).max(1)) height=(h) {}
                        rect.hit x=(x) y="0" width=(bar) height=(HEIGHT) fill="transparent" {}
                    }
                }
            }
            line x1="0" y1=(HEIGHT) x2=(WIDTH) y2=(HEIGHT) stroke="currentColor" {}
            text x="0" y=(HEIGHT + 16) font-size="12" fill="currentColor" { (clock(view.from_nanos, fine)) }
            text x=(WIDTH) y=(HEIGHT + 16) font-size="12" text-anchor="end" fill="currentColor" { (clock(view.to_nanos, fine)) }
        }
    }
}

fn decision_of(e: &Event) -> String {
    e.decision
        .as_ref()
        .map(|d| {
            serde_json::to_value(d.effect)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        })
        .unwrap_or_default()
}

fn events_table(rows: &[(u64, Event, serde_json::Value)]) -> Markup {
    html! {
        table.events {
            caption { "Events" }
            thead { tr { th scope="col" { "Index · time · kind · tool · decision (open a row for its arguments, result and diffs)" } } }
            tbody {
                @for (idx, e, payloads) in rows {
                    tr {
                        td {
                            details {
                                summary {
                                    span.idx { "#" (idx) } " "
                                    @let t = e.ts.unix_nanos();
                                    time datetime=(super::datetime(t).to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)) { (clock(t, true)) } " "
                                    span.kind { (e.kind.as_str()) } " "
                                    span.tool { (e.tool.as_deref().unwrap_or("")) } " "
                                    @let d = decision_of(e);
                                    @if !d.is_empty() { span class={ "decision " (d) } { (d) } }
                                }
                                dl.event {
                                    dt { "Agent" } dd { (e.agent) }
                                    @if let Some(s) = &e.session { dt { "Session" } dd { (s) } }
                                    @if let Some(c) = &e.call { dt { "Call" } dd { (c) } }
                                    @if let Some(d) = &e.decision {
                                        dt { "Decided by" } dd { (d.policies.join(", ")) @if let Some(r) = &d.reason { " — " (r) } }
                                    }
                                    @if !e.actions.is_empty() {
                                        dt { "Actions" }
                                        dd { (serde_json::to_string(&e.actions).unwrap_or_default()) }
                                    }
                                }
                                @if !e.attrs.is_empty() {
                                    h4 { "Attributes" }
                                    (pre_value(&serde_json::to_value(&e.attrs).unwrap_or_default()))
                                }
                                @if let Some(parts) = payloads.as_object() {
                                    @for (name, v) in parts {
                                        h4 { (name) }
                                        (pre_value(v))
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
