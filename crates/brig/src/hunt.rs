//! `brig hunt`: look for what an agent left behind — copies of protected data anywhere under
//! the scanned trees (also inside archives), and ways it arranged to run again.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Context;
use brig_rollback::hunt::{self, Finding, Match, Options, Places, Report};
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::exit::Exit;

#[derive(Subcommand)]
pub enum HuntCommand {
    /// Files (and archive members) whose content equals a protected file, whatever their name.
    ///
    /// Compares sizes, then BLAKE3 of each file's first and last 4 KiB, then full BLAKE3 —
    /// on every core. Looks inside .tar, .tar.gz/.tgz, .gz and .zip (one level deep).
    /// Exit status 5 when a copy is found, 0 when none is. Example:
    ///   brig hunt copies --protected /data/customers --scan /home /tmp /var/tmp
    #[command(verbatim_doc_comment)]
    Copies(CopiesArgs),
    /// Crontabs, systemd units, shell start-up files, authorized_keys and git hooks created
    /// or changed since a moment.
    ///
    /// Exit status 5 when something is found, 0 when nothing is. Example:
    ///   brig hunt persistence --since 2026-03-01T09:00:00Z --scan /srv/repos
    #[command(verbatim_doc_comment)]
    Persistence(PersistenceArgs),
}

#[derive(Args)]
pub struct CopiesArgs {
    /// Protected files or directories (directories are walked).
    #[arg(long, value_name = "PATH", num_args = 1.., required = true)]
    protected: Vec<PathBuf>,
    /// Trees to search (symlinks are not followed).
    #[arg(long, value_name = "PATH", num_args = 1.., required = true)]
    scan: Vec<PathBuf>,
    /// Do not look inside archives.
    #[arg(long)]
    no_archives: bool,
    /// Archive members larger than this many bytes are not read (counted as skipped).
    #[arg(long, value_name = "BYTES", default_value_t = Options::default().max_member_bytes)]
    max_member_bytes: u64,
    /// The whole report as one JSON object (matches, counts, what was skipped; each match's
    /// `created_by`).
    #[arg(long)]
    json: bool,
    /// Whose ledger is searched for the agent that wrote each copy (when there is one).
    #[command(flatten)]
    data: crate::DataArgs,
}

#[derive(Args)]
pub struct PersistenceArgs {
    /// Trees to search for git hooks (.git/hooks/*, not *.sample).
    #[arg(long, value_name = "PATH", num_args = 1..)]
    scan: Vec<PathBuf>,
    /// Report what was created or changed at or after this time (RFC 3339) [default: 24
    /// hours ago].
    #[arg(long, value_name = "RFC3339")]
    since: Option<String>,
    /// The file system root the system places (/etc/cron*, /var/spool/cron, …) are under:
    /// a mounted image can be hunted too.
    #[arg(long, value_name = "DIR", default_value = "/")]
    root: PathBuf,
    /// Home directories to check (~/.bashrc, ~/.ssh/authorized_keys, …) [default: $HOME].
    #[arg(long, value_name = "DIR")]
    home: Vec<PathBuf>,
    /// The whole report as one JSON object.
    #[arg(long)]
    json: bool,
}

pub fn run(cmd: HuntCommand) -> anyhow::Result<Exit> {
    match cmd {
        HuntCommand::Copies(a) => copies(a),
        HuntCommand::Persistence(a) => persistence(a),
    }
}

fn copies(a: CopiesArgs) -> anyhow::Result<Exit> {
    let opts = Options {
        archives: !a.no_archives,
        max_member_bytes: a.max_member_bytes,
    };
    let bar = Bar::new(a.json);
    let report =
        hunt::copies_with(&a.protected, &a.scan, &opts, &bar).context("hunting for copies")?;
    bar.0.finish_and_clear();
    let paths: Vec<PathBuf> = report.matches.iter().map(|m| m.path.clone()).collect();
    let writers = writers_of(&a.data, &paths)?;
    let writer = |m: &Match| writers.as_ref().map(|w| w.get(&m.path).cloned());
    if a.json {
        let mut v = serde_json::to_value(&report)?;
        if let Some(list) = v["matches"].as_array_mut() {
            for (j, m) in list.iter_mut().zip(&report.matches) {
                j["created_by"] = match writer(m) {
                    Some(w) => serde_json::to_value(w)?,
                    None => serde_json::json!("ledger not consulted"),
                };
            }
        }
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        let users = Users::load();
        for m in &report.matches {
            let by = match writer(m) {
                Some(Some(w)) => format!(
                    "  written by agent {} (event {}, {} {})",
                    w.agent, w.index, w.action, w.tool
                ),
                Some(None) => "  not written through Brig (no ledger event)".into(),
                None => String::new(),
            };
            println!("{}{by}", match_line(m, &users));
        }
        eprintln!("{}", summary(&report));
        if writers.is_none() && !report.matches.is_empty() {
            eprintln!(
                "(no data directory at {}: who wrote the copies was not looked up)",
                a.data.data.display()
            );
        }
    }
    Ok(if report.matches.is_empty() {
        Exit::Ok
    } else {
        Exit::Found
    })
}

fn match_line(m: &Match, users: &Users) -> String {
    let member = m
        .member
        .as_ref()
        .map(|x| format!("!{x}"))
        .unwrap_or_default();
    let mut line = format!(
        "{}{member}  copies {}  {} bytes  owner {}  mode {:o}  mtime {}",
        m.path.display(),
        m.protected.display(),
        m.size,
        users.name(m.uid),
        m.mode & 0o7777,
        m.mtime
    );
    if m.renamed {
        line.push_str("  renamed");
    }
    if m.hardlink {
        line.push_str("  hard-link");
    }
    line
}

fn summary(r: &Report) -> String {
    let s = &r.skipped;
    format!(
        "brig hunt copies: {} copies of {} protected files; {} files and {} archives ({} members) \
         scanned, {:.1} MB hashed; skipped: {} unreadable, {} bad archives, {} members too \
         large, {} nested archives, {} unreadable members, {} empty protected files",
        r.matches.len(),
        r.protected_files,
        r.files_scanned,
        r.archives_scanned,
        r.members_scanned,
        r.bytes_hashed as f64 / 1e6,
        s.unreadable,
        s.bad_archives,
        s.members_too_large,
        s.nested_archives,
        s.unreadable_members,
        s.empty_protected
    )
}

fn persistence(a: PersistenceArgs) -> anyhow::Result<Exit> {
    let since_ns = match &a.since {
        Some(s) => chrono::DateTime::parse_from_rfc3339(s)
            .with_context(|| format!("--since {s}: not an RFC 3339 time"))?
            .timestamp_nanos_opt()
            .context("--since is out of range")?,
        None => chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0) - 24 * 3600 * 1_000_000_000,
    };
    let mut places = Places::system();
    places.root = a.root;
    if !a.home.is_empty() {
        places.homes = a.home;
    }
    let report = hunt::persistence_in(&places, &a.scan, since_ns);
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        let users = Users::load();
        for f in &report.findings {
            println!("{}", finding_line(f, &users));
        }
        eprintln!(
            "brig hunt persistence: {} created or changed since {}; {} files examined, {} unreadable",
            report.findings.len(),
            hunt::rfc3339(since_ns),
            report.examined,
            report.unreadable
        );
    }
    Ok(if report.findings.is_empty() {
        Exit::Ok
    } else {
        Exit::Found
    })
}

fn finding_line(f: &Finding, users: &Users) -> String {
    let place = serde_json::to_value(f.place)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let mut line = format!(
        "{}  {place}  {}  {} bytes  owner {}  mode {:o}  mtime {}",
        f.path.display(),
        if f.created { "created" } else { "changed" },
        f.size,
        users.name(f.uid),
        f.mode & 0o7777,
        f.mtime
    );
    if let Some(t) = &f.target {
        line.push_str(&format!("  -> {}", t.display()));
    }
    line
}

/// User names from /etc/passwd, for readable owners (the uid when a name is not known).
struct Users(HashMap<u32, String>);

impl Users {
    fn load() -> Self {
        let text = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
        let names = text
            .lines()
            .filter_map(|l| {
                let mut f = l.split(':');
                let name = f.next()?;
                let uid = f.nth(1)?.parse().ok()?;
                Some((uid, name.to_string()))
            })
            .collect();
        Users(names)
    }

    fn name(&self, uid: u32) -> String {
        match self.0.get(&uid) {
            Some(n) => format!("{n}({uid})"),
            None => uid.to_string(),
        }
    }
}

/// The hunt's progress on stderr: a spinner while walking, then bytes hashed. Hidden with
/// --json and whenever stderr is not a terminal (scripts, CI).
struct Bar(ProgressBar);

impl Bar {
    fn new(json: bool) -> Self {
        let bar = ProgressBar::new_spinner();
        if json || !std::io::stderr().is_terminal() {
            bar.set_draw_target(ProgressDrawTarget::hidden());
        }
        Bar(bar)
    }
}

impl hunt::Progress for Bar {
    fn phase(&self, name: &'static str, total: Option<u64>) {
        let template = match total {
            Some(_) => "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            None => "{spinner} {msg} {pos} files",
        };
        self.0.set_style(
            ProgressStyle::with_template(template)
                .expect("valid template")
                .progress_chars("=> "),
        );
        self.0.set_message(name);
        self.0.set_position(0);
        self.0.set_length(total.unwrap_or(0));
    }

    fn advance(&self, n: u64) {
        self.0.inc(n);
    }
}

/// The ledger event in which an agent wrote a path.
#[derive(Clone, Debug, serde::Serialize)]
struct Writer {
    agent: String,
    index: u64,
    action: String,
    tool: String,
    session: Option<String>,
}

/// For each path, the last ledger event whose actions write it (`None` when there is no
/// data directory to look in).
fn writers_of(
    data: &crate::DataArgs,
    paths: &[PathBuf],
) -> anyhow::Result<Option<HashMap<PathBuf, Writer>>> {
    use brig_ledger::store::LedgerStore;
    use brig_model::ActionKind::*;
    let dir = match data.open() {
        Ok(dir) => dir,
        Err(brig_store::DataDirError::NotInitialized(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    if paths.is_empty() {
        return Ok(Some(HashMap::new()));
    }
    let wanted: std::collections::HashSet<&std::path::Path> =
        paths.iter().map(PathBuf::as_path).collect();
    let mut store = dir.store()?;
    let mut found = HashMap::new();
    store.scan(0, u64::MAX, &mut |row| {
        let Ok(e) = brig_model::Event::from_leaf(&row.leaf) else {
            return true;
        };
        for a in &e.actions {
            let written = match a.action {
                FileWrite | FileChmod => Some(&a.target),
                FileCopy | FileMove | ArchiveCreate | BackupCreate => a.dest.as_ref(),
                _ => None,
            };
            if let Some(p) = written.filter(|p| wanted.contains(std::path::Path::new(p.as_str()))) {
                found.insert(
                    PathBuf::from(p),
                    Writer {
                        agent: e.agent.clone(),
                        index: row.index,
                        action: a.action.as_str().into(),
                        tool: e.tool.clone().unwrap_or_else(|| e.kind.as_str().into()),
                        session: e.session.clone(),
                    },
                );
            }
        }
        true
    })?;
    Ok(Some(found))
}
