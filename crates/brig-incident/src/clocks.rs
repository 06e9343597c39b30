//! Reporting clocks: the obligations an incident may trigger, and how long is left.
//!
//! Brig lists **candidate obligations, for legal review**. It does not give legal advice:
//! whether a law applies depends on who the organization is, where the people concerned
//! live, how many they are and how likely the harm is — things a lawyer weighs, not a
//! detector. Brig's part is to put every plausible clock in front of that lawyer early,
//! with its deadline and the time left, so that none is missed while the incident is
//! worked.
//!
//! # The regimes table
//!
//! The table is data, not code: `regimes/regimes.toml` at the repository root, shipped
//! inside the binary ([`Regimes::builtin`]) and commented row by row. Each `[[regime]]` row
//! is one obligation:
//!
//! - its **trigger**: the data classes (`classes`, any of; empty means any), what happened
//!   (`outcomes`, any of `exposed`, `altered`, `copied_out`, `evasion`; empty means any) and
//!   the least [`Severity`] (`min_severity`, default `security_incident`);
//! - **who must be told** (`notify`);
//! - the **deadline rule**: `hours = N`, `days = N` (calendar days) or `business_days = N`,
//!   counted `from = "detection"` (the default) or `from = "materiality"`, when the company
//!   decides the incident is material (SEC Form 8-K Item 1.05) — a moment Brig cannot know,
//!   so that deadline is shown in words and not computed. A law with no fixed time
//!   ("without undue delay") has `due = "…"` instead of `deadline`;
//! - its **source** (the citation) and an optional **note** (thresholds, exceptions).
//!
//! Business days skip Saturdays and Sundays, counted in UTC; public holidays are *not*
//! skipped, since they differ by country and calendar (legal review decides). Brig's
//! detection time stands in for the moment a law's clock starts ("became aware",
//! "discovery").
//!
//! # Your own table
//!
//! Copy the shipped file, delete the rows that do not concern your organization, add your
//! own, and pass it: `brig incidents show --regimes FILE`. A file passed replaces the
//! shipped table whole ([`Regimes::load`]). It is validated as a whole when loaded; the
//! first problem is reported with file, line and column and what is wrong (an unknown key,
//! an unknown outcome or severity, a row with two deadline kinds or none, a duplicate id, a
//! deadline that is not a positive number).
//!
//! The incident's `legal_hold` flag is separate: a person sets it; these clocks only say
//! which reviews to start.

use std::collections::BTreeSet;
use std::ops::Range;
use std::path::Path;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::{Outcome, Severity};
use brig_register::line_col;

/// What every obligation says about itself: Brig proposes, legal review decides.
pub const STATUS: &str = "candidate, for legal review";

const SHIPPED: &str = include_str!("../../../regimes/regimes.toml");
const SHIPPED_NAME: &str = "regimes/regimes.toml";

const HOUR: i64 = 3_600 * 1_000_000_000;
const DAY: i64 = 24 * HOUR;

/// The longest deadline a row may set, per unit: ten years keeps every sum inside `i64`
/// nanoseconds and catches a misplaced digit.
const MAX_HOURS: i64 = 87_600;
const MAX_DAYS: i64 = 3_650;
const MAX_BUSINESS_DAYS: i64 = 2_610;

const OUTCOMES: [Outcome; 4] = [
    Outcome::Exposed,
    Outcome::Altered,
    Outcome::CopiedOut,
    Outcome::Evasion,
];

/// When a deadline's clock starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Start {
    /// Brig's detection time (the first alert of the incident).
    Detection,
    /// The company's determination that the incident is material (unknown to Brig).
    Materiality,
}

impl Start {
    fn phrase(self) -> &'static str {
        match self {
            Start::Detection => "detection",
            Start::Materiality => "the materiality determination",
        }
    }
}

/// How long a deadline runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    Hours(u32),
    /// Calendar days.
    Days(u32),
    /// Monday to Friday in UTC; public holidays are not skipped.
    BusinessDays(u32),
}

impl Period {
    fn words(self) -> String {
        let (n, unit) = match self {
            Period::Hours(n) => (n, "hour"),
            Period::Days(n) => (n, "calendar day"),
            Period::BusinessDays(n) => (n, "business day"),
        };
        format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
    }

    /// The end of the period begun at `start`; `None` past the year 2262.
    fn after(self, start: i64) -> Option<i64> {
        match self {
            Period::Hours(n) => start.checked_add(i64::from(n) * HOUR),
            Period::Days(n) => start.checked_add(i64::from(n) * DAY),
            Period::BusinessDays(n) => add_business_days(start, n),
        }
    }
}

/// Each business day is a whole day forward from the start time, weekend days stepped
/// over: Friday 10:00 + 1 business day is Monday 10:00.
fn add_business_days(start: i64, n: u32) -> Option<i64> {
    let mut t = start;
    for _ in 0..n {
        t = t.checked_add(DAY)?;
        while is_weekend(t) {
            t = t.checked_add(DAY)?;
        }
    }
    Some(t)
}

/// Saturday or Sunday in UTC. 1970-01-01 was a Thursday (day 3 counting Monday as 0).
fn is_weekend(nanos: i64) -> bool {
    (nanos.div_euclid(DAY) + 3).rem_euclid(7) >= 5
}

/// A row's deadline rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Deadline {
    pub period: Period,
    pub from: Start,
}

impl Deadline {
    /// "72 hours after detection", "4 business days after the materiality determination".
    pub fn words(&self) -> String {
        format!("{} after {}", self.period.words(), self.from.phrase())
    }

    /// The deadline for an incident detected at `detected_nanos`, when Brig can know it.
    pub fn at(&self, detected_nanos: i64) -> Option<i64> {
        match self.from {
            Start::Detection => self.period.after(detected_nanos),
            Start::Materiality => None,
        }
    }
}

/// One row of the table: one obligation and what triggers it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Regime {
    pub id: String,
    pub name: String,
    pub jurisdiction: String,
    /// Any of these classes triggers it; empty means any class (or none).
    pub classes: BTreeSet<String>,
    /// Any of these outcomes triggers it; empty means any outcome (or none).
    pub outcomes: BTreeSet<Outcome>,
    pub min_severity: Severity,
    pub notify: String,
    /// `None` when the law sets no fixed time (then `due` says what it does say).
    pub deadline: Option<Deadline>,
    /// The deadline in words.
    pub due: String,
    pub source: String,
    pub note: Option<String>,
}

impl Regime {
    /// Whether an incident with these classes, outcomes and severity triggers the row.
    pub fn matches(
        &self,
        classes: &BTreeSet<String>,
        outcomes: &BTreeSet<Outcome>,
        severity: Severity,
    ) -> bool {
        let classes_hit = self.classes.is_empty() || !self.classes.is_disjoint(classes);
        let outcomes_hit = self.outcomes.is_empty() || !self.outcomes.is_disjoint(outcomes);
        classes_hit && outcomes_hit && severity >= self.min_severity
    }

    /// The row as an obligation of an incident detected at `detected_nanos`.
    pub fn obligation(&self, detected_nanos: i64) -> Obligation {
        Obligation {
            regime: self.id.clone(),
            name: self.name.clone(),
            jurisdiction: self.jurisdiction.clone(),
            notify: self.notify.clone(),
            source: self.source.clone(),
            deadline_nanos: self.deadline.and_then(|d| d.at(detected_nanos)),
            due: self.due.clone(),
            status: STATUS.to_string(),
            note: self.note.clone(),
        }
    }
}

/// A reporting obligation an incident may have triggered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Obligation {
    /// The regime row's id.
    pub regime: String,
    pub name: String,
    pub jurisdiction: String,
    pub notify: String,
    pub source: String,
    /// When it is due (ns since the Unix epoch); `None` when Brig cannot compute it.
    pub deadline_nanos: Option<i64>,
    /// The deadline in words ("72 hours after detection", "without undue delay").
    pub due: String,
    /// Always [`STATUS`]: a candidate, for legal review.
    pub status: String,
    pub note: Option<String>,
}

impl Obligation {
    /// Seconds until the deadline (negative once overdue); `None` without a deadline.
    pub fn left_secs(&self, now_nanos: i64) -> Option<i64> {
        self.deadline_nanos
            .map(|d| d.saturating_sub(now_nanos).div_euclid(1_000_000_000))
    }

    /// The time left in words, or the due text when there is no computed deadline.
    pub fn left(&self, now_nanos: i64) -> String {
        match self.deadline_nanos {
            Some(d) => time_left(d, now_nanos),
            None => self.due.clone(),
        }
    }
}

/// The time left before a deadline in words: "61 h 12 min left", "overdue by 3 h 05 min",
/// "12 d 4 h left", "due now" (within a minute either way).
///
/// Hours and minutes up to four days, since the tight clocks (24 h, 72 h) are read in
/// hours; days and hours beyond. Whole minutes, rounded down.
pub fn time_left(deadline_nanos: i64, now_nanos: i64) -> String {
    let diff = i128::from(deadline_nanos) - i128::from(now_nanos);
    let minutes = (diff.unsigned_abs() / 60_000_000_000) as u64;
    if minutes == 0 {
        return "due now".to_string();
    }
    let span = span_words(minutes);
    if diff > 0 {
        format!("{span} left")
    } else {
        format!("overdue by {span}")
    }
}

fn span_words(minutes: u64) -> String {
    let (days, hours, mins) = (minutes / 1_440, minutes / 60, minutes % 60);
    if hours >= 96 {
        format!("{days} d {} h", hours % 24)
    } else if hours > 0 {
        format!("{hours} h {mins:02} min")
    } else {
        format!("{mins} min")
    }
}

/// Why a regimes table was refused.
#[derive(Debug, thiserror::Error)]
pub enum RegimesError {
    #[error("{file}: cannot read: {source}")]
    Read {
        file: String,
        source: std::io::Error,
    },
    #[error("{file}:{line}:{column}: {message}")]
    Invalid {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
}

/// The regimes table: every row, in file order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Regimes {
    pub rows: Vec<Regime>,
}

impl Regimes {
    /// The shipped table (`regimes/regimes.toml`), parsed once.
    pub fn builtin() -> &'static Regimes {
        static BUILTIN: OnceLock<Regimes> = OnceLock::new();
        // The shipped file is parsed by this crate's tests, so this cannot fail in a
        // released build; an empty table would silently hide every clock instead.
        BUILTIN.get_or_init(|| {
            Regimes::parse(SHIPPED, SHIPPED_NAME).expect("the shipped regimes table is valid")
        })
    }

    /// Loads and validates a table file (it replaces the shipped table).
    pub fn load(path: &Path) -> Result<Regimes, RegimesError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| RegimesError::Read {
            file: file.clone(),
            source,
        })?;
        Regimes::parse(&text, &file)
    }

    /// Parses and validates table text; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Regimes, RegimesError> {
        let blame = Blame { text, file };
        let raw: FileShape =
            toml::from_str(text).map_err(|e| blame.at(e.span(), e.message().to_string()))?;
        let mut seen = BTreeSet::new();
        let mut rows = Vec::with_capacity(raw.regime.len());
        for r in raw.regime {
            if !seen.insert(r.id.get_ref().clone()) {
                let message = format!("regime `{}` is declared twice", r.id.get_ref());
                return Err(blame.at(Some(r.id.span()), message));
            }
            rows.push(regime(r, &blame)?);
        }
        Ok(Regimes { rows })
    }

    /// The obligations an incident may have triggered, earliest deadline first (those
    /// without a computed deadline last, in table order). Each is a candidate, for legal
    /// review.
    pub fn candidates(
        &self,
        classes: &BTreeSet<String>,
        outcomes: &BTreeSet<Outcome>,
        severity: Severity,
        detected_nanos: i64,
    ) -> Vec<Obligation> {
        let mut found: Vec<Obligation> = self
            .rows
            .iter()
            .filter(|r| r.matches(classes, outcomes, severity))
            .map(|r| r.obligation(detected_nanos))
            .collect();
        // Stable: rows due at the same moment keep the table's order.
        found.sort_by_key(|o| (o.deadline_nanos.is_none(), o.deadline_nanos));
        found
    }
}

/// The file as written, before validation.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileShape {
    #[serde(default)]
    regime: Vec<RowShape>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RowShape {
    id: Spanned<String>,
    name: String,
    jurisdiction: String,
    #[serde(default)]
    classes: Vec<Spanned<String>>,
    #[serde(default)]
    outcomes: Vec<Spanned<String>>,
    min_severity: Option<Spanned<String>>,
    notify: String,
    deadline: Option<Spanned<DeadlineShape>>,
    due: Option<Spanned<String>>,
    source: String,
    note: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeadlineShape {
    hours: Option<Spanned<i64>>,
    days: Option<Spanned<i64>>,
    business_days: Option<Spanned<i64>>,
    from: Option<Spanned<String>>,
}

/// Turns a span of the text into a located error.
struct Blame<'a> {
    text: &'a str,
    file: &'a str,
}

impl Blame<'_> {
    fn at(&self, span: Option<Range<usize>>, message: String) -> RegimesError {
        let (line, column) = line_col(self.text, span.map_or(0, |s| s.start));
        RegimesError::Invalid {
            file: self.file.to_string(),
            line,
            column,
            message,
        }
    }
}

/// Errors about one row name it.
struct RowBlame<'a> {
    blame: &'a Blame<'a>,
    id: &'a str,
}

impl RowBlame<'_> {
    fn at(&self, span: Range<usize>, what: &str) -> RegimesError {
        self.blame
            .at(Some(span), format!("regime `{}`: {what}", self.id))
    }
}

/// Validates one row.
fn regime(r: RowShape, blame: &Blame) -> Result<Regime, RegimesError> {
    let id = r.id.get_ref().clone();
    let at = RowBlame { blame, id: &id };
    if !is_name(&id, '-') {
        return Err(at.at(r.id.span(), "use lowercase letters, digits and `-` in ids"));
    }
    let classes = classes(&r.classes, &at)?;
    let outcomes = outcomes(&r.outcomes, &at)?;
    let min_severity = match &r.min_severity {
        None => Severity::SecurityIncident,
        Some(s) => s
            .get_ref()
            .parse()
            .map_err(|e: String| at.at(s.span(), &e))?,
    };
    let (deadline, due) = when(r.deadline, r.due, r.id.span(), &at)?;
    Ok(Regime {
        name: r.name,
        jurisdiction: r.jurisdiction,
        classes,
        outcomes,
        min_severity,
        notify: r.notify,
        deadline,
        due,
        source: r.source,
        note: r.note,
        id,
    })
}

fn classes(list: &[Spanned<String>], at: &RowBlame) -> Result<BTreeSet<String>, RegimesError> {
    let check = |c: &Spanned<String>| match is_name(c.get_ref(), '_') {
        true => Ok(c.get_ref().clone()),
        false => {
            let what = format!(
                "data class `{}`: use lowercase letters, digits and `_`",
                c.get_ref()
            );
            Err(at.at(c.span(), &what))
        }
    };
    list.iter().map(check).collect()
}

fn outcomes(list: &[Spanned<String>], at: &RowBlame) -> Result<BTreeSet<Outcome>, RegimesError> {
    let check = |o: &Spanned<String>| {
        let s = o.get_ref();
        OUTCOMES
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| {
                let what = format!("unknown outcome `{s}` (exposed, altered, copied_out, evasion)");
                at.at(o.span(), &what)
            })
    };
    list.iter().map(check).collect()
}

/// A row says when in exactly one way: a `deadline` rule, or `due` in words.
fn when(
    deadline: Option<Spanned<DeadlineShape>>,
    due: Option<Spanned<String>>,
    id_span: Range<usize>,
    at: &RowBlame,
) -> Result<(Option<Deadline>, String), RegimesError> {
    match (deadline, due) {
        (Some(_), Some(d)) => Err(at.at(d.span(), "has both `deadline` and `due`: keep one")),
        (None, None) => Err(at.at(
            id_span,
            "says no time: give `deadline` (hours, days or business_days) or `due` (in words)",
        )),
        (None, Some(d)) if d.get_ref().trim().is_empty() => Err(at.at(d.span(), "`due` is empty")),
        (None, Some(d)) => Ok((None, d.into_inner())),
        (Some(d), None) => {
            let d = deadline_rule(d, at)?;
            Ok((Some(d), d.words()))
        }
    }
}

type MakePeriod = fn(u32) -> Period;

/// The deadline kinds a row may write: the key, its ten-year cap, the period it makes.
const KINDS: [(&str, i64, MakePeriod); 3] = [
    ("hours", MAX_HOURS, Period::Hours),
    ("days", MAX_DAYS, Period::Days),
    ("business_days", MAX_BUSINESS_DAYS, Period::BusinessDays),
];

/// Validates a deadline rule: exactly one period, positive and at most ten years.
fn deadline_rule(d: Spanned<DeadlineShape>, at: &RowBlame) -> Result<Deadline, RegimesError> {
    let whole = d.span();
    let d = d.into_inner();
    let values = [d.hours, d.days, d.business_days];
    let mut period: Option<(&str, Period)> = None;
    for ((key, max, make), value) in KINDS.into_iter().zip(values) {
        let Some(v) = value else { continue };
        if let Some((first, _)) = period {
            let what = format!("deadline has two kinds, `{first}` and `{key}`: keep one");
            return Err(at.at(v.span(), &what));
        }
        let n = *v.get_ref();
        if !(1..=max).contains(&n) {
            let what = format!(
                "deadline `{key} = {n}` must be a positive number, at most {max} (ten years)"
            );
            return Err(at.at(v.span(), &what));
        }
        period = Some((key, make(n as u32)));
    }
    let Some((_, period)) = period else {
        return Err(at.at(
            whole,
            "deadline has no period: give hours, days or business_days",
        ));
    };
    let from = match &d.from {
        None => Start::Detection,
        Some(f) => match f.get_ref().as_str() {
            "detection" => Start::Detection,
            "materiality" => Start::Materiality,
            other => {
                let what = format!("deadline from `{other}`: use `detection` or `materiality`");
                return Err(at.at(f.span(), &what));
            }
        },
    };
    Ok(Deadline { period, from })
}

/// Lowercase ASCII letters and digits, plus one separator (`-` in ids, `_` in classes, as
/// the register writes them).
fn is_name(s: &str, separator: char) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == separator)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weekends_in_utc() {
        // 1970-01-03 was a Saturday, 1970-01-05 a Monday.
        assert!(!is_weekend(0));
        assert!(is_weekend(2 * DAY));
        assert!(is_weekend(4 * DAY - 1));
        assert!(!is_weekend(4 * DAY));
        assert!(!is_weekend(-DAY)); // Wednesday 1969-12-31
    }

    #[test]
    fn no_overflow_at_the_end_of_time() {
        assert_eq!(Period::Hours(1).after(i64::MAX), None);
        assert_eq!(add_business_days(i64::MAX - DAY, 5), None);
    }

    #[test]
    fn lines_and_columns() {
        assert_eq!(line_col("a\nbc\n", 3), (2, 2));
    }
}
