//! What the gateway asks: one tool call, its agent and its normalized actions.

use brig_model::Action;
use serde::{Deserialize, Serialize};

/// One tool call to decide.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// The agent's id (`Agent::"<agent>"`).
    pub agent: String,
    /// The agent's workflow (`Workflow::"<workflow>"`, also `principal.workflow`).
    pub workflow: String,
    /// Operator-set labels of the agent (`principal.tags`).
    #[serde(default)]
    pub tags: Vec<String>,
    /// The tool the agent called (`context.tool`).
    pub tool: String,
    /// What the agent said it was doing (`context.declared_task`).
    #[serde(default)]
    pub declared_task: Option<String>,
    /// Every normalized action of the call. Empty: evaluated as one `tool.call`.
    #[serde(default)]
    pub actions: Vec<ActionFacts>,
}

/// One normalized action and what the gateway knows about its target.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionFacts {
    pub action: Action,
    /// The target, and the destination when there is one, lie inside the upstream's
    /// served directories (`context.in_served_dir`). A copy or move whose destination
    /// leaves the served directories is not in them.
    #[serde(default)]
    pub in_served_dir: bool,
    /// The target or destination is one of Brig's own files: ledger, keys, policies
    /// (`context.brig_owned`). Always denied.
    #[serde(default)]
    pub brig_owned: bool,
    /// Classes of data the target holds (`resource.data_classes` for files).
    #[serde(default)]
    pub data_classes: Vec<String>,
}

impl Request {
    /// A call by `agent` of `workflow` to `tool`, with no actions yet.
    pub fn new(
        agent: impl Into<String>,
        workflow: impl Into<String>,
        tool: impl Into<String>,
    ) -> Self {
        Request {
            agent: agent.into(),
            workflow: workflow.into(),
            tool: tool.into(),
            ..Request::default()
        }
    }

    /// Add a normalized action.
    pub fn with_action(mut self, facts: ActionFacts) -> Self {
        self.actions.push(facts);
        self
    }

    /// Set the declared task.
    pub fn with_task(mut self, task: impl Into<String>) -> Self {
        self.declared_task = Some(task.into());
        self
    }

    /// Set the agent's tags.
    pub fn with_tags(mut self, tags: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.tags = tags.into_iter().map(Into::into).collect();
        self
    }
}

impl ActionFacts {
    /// An action outside the served directories, not Brig's, with no known data classes.
    pub fn new(action: Action) -> Self {
        ActionFacts {
            action,
            in_served_dir: false,
            brig_owned: false,
            data_classes: Vec::new(),
        }
    }

    /// Mark the target as inside (or not) the served directories.
    pub fn in_served_dir(mut self, yes: bool) -> Self {
        self.in_served_dir = yes;
        self
    }

    /// Mark the target as one of Brig's own files (or not).
    pub fn brig_owned(mut self, yes: bool) -> Self {
        self.brig_owned = yes;
        self
    }

    /// Set the target's data classes.
    pub fn with_data_classes(
        mut self,
        classes: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.data_classes = classes.into_iter().map(Into::into).collect();
        self
    }
}

impl From<Action> for ActionFacts {
    fn from(action: Action) -> Self {
        ActionFacts::new(action)
    }
}
