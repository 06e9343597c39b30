//! Timestamps: UTC, nanosecond precision, one canonical spelling.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, Utc};

/// A point in time in UTC with nanosecond precision.
///
/// Serialized as RFC 3339 with exactly nine fractional digits and `Z`
/// (`2026-12-04T12:00:00.123456789Z`), so equal instants always serialize to equal bytes.
/// Parsing accepts any RFC 3339 offset and converts to UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    pub fn now() -> Self {
        Timestamp(Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX))
    }

    /// Nanoseconds since the Unix epoch.
    pub fn from_unix_nanos(nanos: i64) -> Self {
        Timestamp(nanos)
    }

    pub fn unix_nanos(&self) -> i64 {
        self.0
    }

    fn to_datetime(self) -> DateTime<Utc> {
        DateTime::from_timestamp_nanos(self.0)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            &self
                .to_datetime()
                .to_rfc3339_opts(SecondsFormat::Nanos, true),
        )
    }
}

impl FromStr for Timestamp {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let dt = DateTime::parse_from_rfc3339(s)
            .map_err(|e| format!("`{s}` is not an RFC 3339 timestamp: {e}"))?;
        dt.timestamp_nanos_opt()
            .map(Timestamp)
            .ok_or_else(|| format!("`{s}` is outside the years 1677-2262"))
    }
}

serde_via_str!(Timestamp);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_spelling() {
        let t: Timestamp = "2026-12-04T13:00:00.5+01:00".parse().unwrap();
        assert_eq!(t.to_string(), "2026-12-04T12:00:00.500000000Z");
        assert_eq!(t.to_string().parse::<Timestamp>().unwrap(), t);
    }

    #[test]
    fn rejects_garbage() {
        assert!("yesterday".parse::<Timestamp>().is_err());
        assert!("2026-12-04".parse::<Timestamp>().is_err());
    }
}
