//! Normalized actions: what a tool call does, whatever the tool is called.
//!
//! A `bash` call running `cp -r data /dev/shm/.x`, an MCP `move_file`, and a hook's `Write`
//! all reduce to actions such as `file.copy` with their targets. Detection rules, policy and
//! rollback read actions, never tool-specific arguments. The normalizers that fill them live
//! with detection; this module only defines the vocabulary.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One normalized action and what it acts on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Action {
    // Declared in sorted key order (RFC 8785); see `Event::canonical_bytes`.
    pub action: ActionKind,
    /// Small facts rules need (mode for chmod, method for egress, signal for kill …).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attrs: BTreeMap<String, Value>,
    /// Where data goes, for copies, moves, archives and egress (destination path or host).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dest: Option<String>,
    /// What the action reads or changes: a path, URL, host, address, process, setting.
    pub target: String,
}

impl Action {
    pub fn new(action: ActionKind, target: impl Into<String>) -> Self {
        Action {
            action,
            target: target.into(),
            dest: None,
            attrs: BTreeMap::new(),
        }
    }

    pub fn with_dest(mut self, dest: impl Into<String>) -> Self {
        self.dest = Some(dest.into());
        self
    }
}

/// `file.copy /a -> /b`: how people read an action (listings, approval queues).
impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.action, self.target)?;
        match &self.dest {
            Some(d) => write!(f, " -> {d}"),
            None => Ok(()),
        }
    }
}

macro_rules! action_kinds {
    ($($(#[$doc:meta])* $variant:ident = $name:literal, mutates: $mutates:literal;)*) => {
        /// The vocabulary of normalized actions (`file.write`, `net.egress`, …).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum ActionKind {
            $($(#[$doc])* #[serde(rename = $name)] $variant,)*
        }

        impl ActionKind {
            pub const ALL: &'static [ActionKind] = &[$(ActionKind::$variant),*];

            pub fn as_str(&self) -> &'static str {
                match self { $(ActionKind::$variant => $name),* }
            }

            /// True for actions that change state on the target (what rollback must undo).
            pub fn mutates(&self) -> bool {
                match self { $(ActionKind::$variant => $mutates),* }
            }
        }
    };
}

action_kinds! {
    /// Read a file's content.
    FileRead = "file.read", mutates: false;
    /// List a directory or stat a file.
    FileList = "file.list", mutates: false;
    /// Create or overwrite or edit a file.
    FileWrite = "file.write", mutates: true;
    /// Delete, shred or truncate-to-nothing a file.
    FileDelete = "file.delete", mutates: true;
    /// Copy a file (`dest` is the copy).
    FileCopy = "file.copy", mutates: true;
    /// Move or rename a file (`dest` is the new path).
    FileMove = "file.move", mutates: true;
    /// Change mode, owner, ACLs or attributes of a file.
    FileChmod = "file.chmod", mutates: true;
    /// Create a directory.
    DirCreate = "dir.create", mutates: true;
    /// Pack files into an archive (`dest` is the archive).
    ArchiveCreate = "archive.create", mutates: true;
    /// Send data to a network destination (`target` is the URL or host).
    NetEgress = "net.egress", mutates: false;
    /// Send a message: mail, chat, ticket comment to a person (`target` is the recipient).
    MessageSend = "message.send", mutates: false;
    /// Run a program.
    ProcExec = "proc.exec", mutates: false;
    /// Signal or kill a process.
    ProcKill = "proc.kill", mutates: true;
    /// Stop, disable or mask a service.
    ServiceStop = "service.stop", mutates: true;
    /// Change a configuration setting.
    ConfigChange = "config.change", mutates: true;
    /// Grant a permission or role, add a key, widen access.
    PermGrant = "perm.grant", mutates: true;
    /// Read a secret or credential.
    CredAccess = "cred.access", mutates: false;
    /// Make a backup or copy of data or of the agent itself.
    BackupCreate = "backup.create", mutates: true;
    /// Schedule future execution (cron, at, systemd timer, startup script).
    PersistSchedule = "persist.schedule", mutates: true;
    /// Disable, silence or edit monitoring, logging or audit.
    MonitorTamper = "monitor.tamper", mutates: true;
    /// Change firewall or routing rules.
    NetConfig = "net.config", mutates: true;
    /// Read records from a data system (database, CRM, tickets).
    DataRead = "data.read", mutates: false;
    /// Change records in a data system.
    DataWrite = "data.write", mutates: true;
    /// Bulk export of records.
    DataExport = "data.export", mutates: false;
    /// Send money: a payment, transfer or refund (`target` is the payee).
    PaymentSend = "payment.send", mutates: true;
    /// Change an account: password, e-mail, recovery factor, API key, role of a user.
    AccountChange = "account.change", mutates: true;
    /// A tool Brig has no normalizer for (target = the tool name).
    ToolCall = "tool.call", mutates: false;
}

impl fmt::Display for ActionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for k in ActionKind::ALL {
            let j = serde_json::to_string(k).unwrap();
            assert_eq!(j, format!("\"{}\"", k.as_str()));
            assert_eq!(serde_json::from_str::<ActionKind>(&j).unwrap(), *k);
        }
        assert!(serde_json::from_str::<ActionKind>("\"file.teleport\"").is_err());
    }
}
