//! Brig's Cedar schema and the mapping from normalized actions to Cedar actions.

use std::sync::OnceLock;

use brig_model::ActionKind;
use cedar_policy::Schema;

/// The Cedar schema every policy is validated against (`brig.cedarschema`).
pub const SCHEMA_SRC: &str = include_str!("brig.cedarschema");

/// The built-in default policies used by [`PolicyEngine::builtin`](crate::PolicyEngine::builtin).
pub const BUILTIN_POLICIES_SRC: &str = include_str!("builtin.cedar");

/// The fixed guard evaluated before any policy set.
pub(crate) const GUARD_SRC: &str = include_str!("guard.cedar");

/// The id of the guard policy that denies every action on Brig's own files.
pub const GUARD_POLICY_ID: &str = "brig.guard.brig-owned";

/// The Cedar action evaluated for a call that normalizes to no action.
pub const TOOL_CALL: &str = "tool.call";

/// The parsed schema (parsed once; the embedded source is checked by the tests).
pub fn schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        Schema::from_cedarschema_str(SCHEMA_SRC)
            .map(|(schema, _warnings)| schema)
            .expect("the embedded Brig Cedar schema parses")
    })
}

/// The Cedar entity type of an action's resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ResourceType {
    /// `File::"<path>"` with `path` and `data_classes`.
    File,
    /// `Host::"<host>"` with `name` (lowercase, without scheme, user or port).
    Host,
    /// `Recipient::"<address>"` with `address` (lowercase).
    Recipient,
    /// `Process::"<command or pid>"` with `name`.
    Process,
    /// `Setting::"<name>"` with `name`.
    Setting,
    /// `Dataset::"<name>"` with `name`.
    Dataset,
    /// `Tool::"<tool name>"` with `name`.
    Tool,
}

impl ResourceType {
    /// The Cedar entity type name.
    pub fn as_str(&self) -> &'static str {
        match self {
            ResourceType::File => "File",
            ResourceType::Host => "Host",
            ResourceType::Recipient => "Recipient",
            ResourceType::Process => "Process",
            ResourceType::Setting => "Setting",
            ResourceType::Dataset => "Dataset",
            ResourceType::Tool => "Tool",
        }
    }
}

/// The Cedar action id for a normalized action: `Action::"<kind>"`.
pub fn cedar_action(kind: ActionKind) -> &'static str {
    kind.as_str()
}

/// The resource type a normalized action applies to (as declared in the schema).
pub fn resource_type(kind: ActionKind) -> ResourceType {
    // Exhaustive on purpose: a new ActionKind does not compile until it is mapped here
    // (and the schema test then checks the schema declares it).
    match kind {
        ActionKind::FileRead
        | ActionKind::FileList
        | ActionKind::FileWrite
        | ActionKind::FileDelete
        | ActionKind::FileCopy
        | ActionKind::FileMove
        | ActionKind::FileChmod
        | ActionKind::DirCreate
        | ActionKind::ArchiveCreate
        | ActionKind::BackupCreate
        | ActionKind::CredAccess => ResourceType::File,
        ActionKind::NetEgress => ResourceType::Host,
        ActionKind::MessageSend | ActionKind::PaymentSend => ResourceType::Recipient,
        ActionKind::ProcExec | ActionKind::ProcKill | ActionKind::ServiceStop => {
            ResourceType::Process
        }
        ActionKind::ConfigChange
        | ActionKind::PermGrant
        | ActionKind::AccountChange
        | ActionKind::PersistSchedule
        | ActionKind::MonitorTamper
        | ActionKind::NetConfig => ResourceType::Setting,
        ActionKind::DataRead | ActionKind::DataWrite | ActionKind::DataExport => {
            ResourceType::Dataset
        }
        ActionKind::ToolCall => ResourceType::Tool,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cedar_policy::{EntityTypeName, EntityUid};
    use std::str::FromStr;

    fn applies(action: &str, resource: ResourceType) -> bool {
        let uid = EntityUid::from_str(&format!("Action::{:?}", action)).unwrap();
        let Some(resources) = schema().resources_for_action(&uid) else {
            return false;
        };
        let want = EntityTypeName::from_str(resource.as_str()).unwrap();
        let principals: Vec<_> = schema().principals_for_action(&uid).unwrap().collect();
        let agent = EntityTypeName::from_str("Agent").unwrap();
        principals == vec![&agent] && resources.into_iter().any(|r| *r == want)
    }

    #[test]
    fn every_action_kind_has_a_cedar_action() {
        for kind in ActionKind::ALL {
            assert!(
                applies(cedar_action(*kind), resource_type(*kind)),
                "schema lacks Action::\"{kind}\" on Agent × {:?}",
                resource_type(*kind)
            );
        }
        assert!(applies(TOOL_CALL, ResourceType::Tool));
        assert!(!applies("file.teleport", ResourceType::File));
        // Every declared action is a normalized action (tool.call among them): no stale names.
        let declared: Vec<String> = schema()
            .actions()
            .map(|a| a.id().unescaped().to_string())
            .collect();
        assert_eq!(declared.len(), ActionKind::ALL.len(), "{declared:?}");
        assert!(ActionKind::ALL.iter().any(|k| k.as_str() == TOOL_CALL));
    }
}
