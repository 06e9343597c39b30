//! Exit codes that mean something to scripts (documented in `brig --help`).

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    Ok = 0,
    Error = 1,
    /// `brig hook`: Brig could not decide, so the action is denied (the agents block on 2).
    Blocked = 2,
    /// Some input lines were rejected; the valid ones were recorded.
    Rejected = 3,
    /// The ledger or a proof failed verification.
    Invalid = 4,
    /// `brig hunt` found copies of protected data, or persistence.
    Found = 5,
    /// `brig drill`: a scenario failed one of its checks.
    Failed = 6,
    /// `brig readiness`: a pre-incident control failed or could not be known.
    NotReady = 7,
}
