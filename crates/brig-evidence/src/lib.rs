//! Evidence: what Brig hands to auditors, regulators, counsel and other tools.
//!
//! - [`timeline`]: an incident's or agent's events as a normalized timeline, for Timesketch
//!   (JSONL, CSV);
//! - [`ocsf`]: the same events as OCSF 1.8 findings and activities, for SIEMs.

pub mod ocsf;
pub mod timeline;
