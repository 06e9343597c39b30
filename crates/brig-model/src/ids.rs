//! Event ids: UUIDv7, so ids sort by creation time and index well.

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

/// The id of one event: a UUIDv7 in its canonical lowercase hyphenated form.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventId(Uuid);

impl EventId {
    /// A fresh id for an event happening now.
    pub fn new() -> Self {
        EventId(Uuid::now_v7())
    }

    pub fn as_uuid(&self) -> &Uuid {
        &self.0
    }

    pub fn as_bytes(&self) -> &[u8; 16] {
        self.0.as_bytes()
    }
}

impl Default for EventId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl FromStr for EventId {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let uuid = Uuid::try_parse(s).map_err(|e| format!("`{s}` is not a UUID: {e}"))?;
        if uuid.get_version_num() != 7 {
            return Err(format!(
                "`{s}` is a version {} UUID; event ids are UUIDv7",
                uuid.get_version_num()
            ));
        }
        // One spelling per id, or the same event could hash two ways.
        if uuid.hyphenated().to_string() != s {
            return Err(format!(
                "`{s}` is not in canonical form (lowercase, hyphenated): use `{}`",
                uuid.hyphenated()
            ));
        }
        Ok(EventId(uuid))
    }
}

serde_via_str!(EventId);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_sort_by_time() {
        let a = EventId::new();
        let b = EventId::new();
        assert!(a < b);
        assert_eq!(a.to_string().parse::<EventId>().unwrap(), a);
    }

    #[test]
    fn rejects_other_versions_and_spellings() {
        assert!("67e55044-10b1-426f-9247-bb680e5fe0c8"
            .parse::<EventId>()
            .unwrap_err()
            .contains("version 4"));
        let id = EventId::new().to_string().to_uppercase();
        assert!(id.parse::<EventId>().unwrap_err().contains("canonical"));
        assert!("nope".parse::<EventId>().is_err());
    }
}
