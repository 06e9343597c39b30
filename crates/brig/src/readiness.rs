//! `brig readiness`: the deployment scored against the checklist's pre-incident controls.

use std::path::{Path, PathBuf};

use anyhow::Context;
use brig_gateway::guard::{Call, Policy};
use brig_incident::readiness::{self, Probe, Report, Status};
use brig_model::Timestamp;
use clap::Args;

use crate::exit::Exit;
use crate::DataArgs;

const ABOUT: &str = "Items (section 8 of the checklist):
  1 write permissions restricted     a file write outside the served directory and the
                                     register's resources, by each register agent and an
                                     unknown one, is denied or held by the policy set
  2 test/production identities       no agent id in workflows of both environments
  3 approval for destructive actions a file deletion, `rm -rf` and a payment are held or denied
  4 every tool call logged           each register agent has tool calls in the ledger; no
                                     tool result without its call in the recent events
  5 immutable storage of records     the ledger verifies; a signed checkpoint covers the tree
                                     or is < 24 h old; data dir 0700, signing key 0600
  6 memory/browsing/retries          each workflow's [workflow.controls] says absent or
    can be disabled                  off-switch for all three
  7 kill switch tested               a passed drill that contained its agent, < 90 days old
  8 rollback tested per workflow     a passed drill with a verified rollback per workflow
  9 a register entry per workflow    every workflow named in the recent events is declared
Exit 0 when every item passes, 6 when any fails or is unknown.

Example:
  brig readiness --register brig.toml --policy policies/";

#[derive(Args)]
#[command(after_help = ABOUT)]
pub struct ReadinessArgs {
    #[command(flatten)]
    data: DataArgs,
    /// The risk register (workflows, agents, environments, controls).
    #[arg(long, alias = "config", env = "BRIG_REGISTER", value_name = "FILE")]
    register: Option<PathBuf>,
    /// The Cedar policy directory the gateways run with [default: the built-in policies].
    #[arg(long, value_name = "DIR")]
    policy: Option<PathBuf>,
    /// The whole assessment as one JSON object.
    #[arg(long)]
    json: bool,
}

/// Decides probes as a gateway would: the same normalizer, then the same Cedar policy
/// (served directory [`readiness::PROBE_ROOT`], Brig's data directory its own).
struct Gateway {
    policy: brig_gateway::policy::CedarPolicy,
    normalize: brig_gateway::guard::Normalizer,
}

impl Gateway {
    fn new(policy: Option<&Path>, register: Option<&Path>, data: &Path) -> anyhow::Result<Gateway> {
        let root = PathBuf::from(readiness::PROBE_ROOT);
        let config: Vec<&Path> = policy.into_iter().chain(register).collect();
        let own = brig_gateway::policy::brig_owned(data, &config, &[]);
        let policy = brig_gateway::policy::CedarPolicy::load(policy, vec![root.clone()], own)
            .context("loading the policies")?;
        Ok(Gateway {
            policy,
            normalize: brig_gateway::guard::normalizer(vec![root]),
        })
    }

    fn decide(&mut self, p: &Probe) -> brig_model::Decision {
        let actions = (self.normalize)(&p.tool, &p.arguments);
        self.policy.decide(&Call {
            agent: &p.agent,
            workflow: p.workflow.as_deref(),
            task: None,
            tool: &p.tool,
            arguments: &p.arguments,
            actions: &actions,
        })
    }
}

pub fn run(a: ReadinessArgs) -> anyhow::Result<Exit> {
    let register = a
        .register
        .as_ref()
        .map(|f| brig_register::Register::load(f).context("loading the risk register"))
        .transpose()?;
    let dir = a.data.open()?;
    let mut gateway = Gateway::new(a.policy.as_deref(), a.register.as_deref(), dir.root())?;
    let mut decide = |p: &Probe| gateway.decide(p);
    let mut cx = readiness::Context {
        dir: &dir,
        register: register.as_ref(),
        policy: match &a.policy {
            Some(d) => format!("the policies in {}", d.display()),
            None => "the built-in policies".into(),
        },
        decide: &mut decide,
        now: Timestamp::now().unix_nanos(),
    };
    let report = readiness::assess(&mut cx)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print(&report);
    }
    Ok(if report.all_pass() {
        Exit::Ok
    } else {
        Exit::NotReady
    })
}

fn print(r: &Report) {
    for i in &r.items {
        let mark = match i.status {
            Status::Pass => "PASS",
            Status::Fail => "FAIL",
            Status::Unknown => "????",
        };
        println!("{mark} {}. {}", i.id, i.control);
        println!("       found: {}", i.found);
        if let Some(f) = &i.fix {
            println!("       fix:   {f}");
        }
    }
    println!(
        "\nreadiness {}/{} ({:.0}%)",
        r.passed,
        r.total,
        r.score * 100.0
    );
}
