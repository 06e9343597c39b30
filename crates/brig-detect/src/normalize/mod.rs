//! Tool-call normalization: from "tool `X` was called with arguments `{…}`" to "these
//! [`Action`]s happened to these targets".
//!
//! # Why
//!
//! Agents reach the same effect through very different tools: an MCP `write_file`, a hook's
//! `Write`, a `save_note` of some other server, a shell command. Detection rules, policy and
//! rollback must not each learn every tool's argument names, so they read only normalized
//! actions ([`brig_model::ActionKind`] + target, dest, attrs). This module is the one place
//! that knows argument shapes. It never fails: a tool it cannot read still yields an action
//! (`tool.call`, target = the tool name as called), so nothing slips through unrecorded.
//!
//! # Tool names
//!
//! MCP clients prefix tool names with the server name; everything up to the last `__`, `.`
//! or `/` is stripped before matching (`mcp__filesystem__write_file`,
//! `filesystem.write_file` and `filesystem/write_file` all mean `write_file`). Matching is
//! case-insensitive. The `tool.call` fallback keeps the full name as called.
//!
//! # Mapping
//!
//! Tools of the MCP reference filesystem server (`@modelcontextprotocol/server-filesystem`):
//!
//! | tool | arguments | actions |
//! |---|---|---|
//! | `read_file`, `read_text_file`, `read_media_file` | `path` | `file.read` |
//! | `read_multiple_files` | `paths[]` | one `file.read` per path |
//! | `write_file` | `path`, `content` | `file.write` |
//! | `edit_file` | `path`, `edits`, `dryRun` | `file.write`; with `dryRun: true` `file.read` + attrs `dry_run: true` (a dry run changes nothing) |
//! | `create_directory` | `path` | `dir.create` |
//! | `list_directory`, `list_directory_with_sizes`, `directory_tree`, `search_files`, `get_file_info` | `path` (`pattern` → attrs `pattern`) | `file.list` |
//! | `move_file` | `source`, `destination` | `file.move`, target = source, dest = destination |
//! | `list_allowed_directories` | — | none: it touches no file and only reveals roots the gateway configured |
//!
//! A known filesystem tool whose required arguments are missing or of the wrong type yields
//! `tool.call` with attrs `malformed: true` (the server would reject the call).
//!
//! Coding agents' built-in tools, as their hooks report them (`brig hook`):
//!
//! | tool | arguments | actions |
//! |---|---|---|
//! | Claude Code `Read`; Gemini CLI / Cursor `read_file`, `read_many_files` | `file_path` (`absolute_path`) | `file.read` |
//! | `Write`, `Edit`, `MultiEdit`, `NotebookEdit` (`notebook_path`); `write_file`, `edit_file`, `replace` | `file_path` | `file.write` |
//! | `Glob`, `LS`, `glob` | `path` (default: the working directory), `pattern` → attrs `pattern` | `file.list` |
//! | `Grep`, `search_file_content` | `path` (default: the working directory), `pattern` → attrs | `file.read` |
//!
//! (`read_file`, `write_file` and `list_directory` called with `path` are the filesystem
//! server's; `Bash`, `run_shell_command`, `run_terminal_cmd` are shell tools; `WebFetch`'s
//! `url` is read by the generic names.)
//!
//! Any other tool is read by generic argument names; every family that matches adds its
//! actions (in this order), and a tool matching none yields `tool.call`:
//!
//! | arguments | action |
//! |---|---|
//! | `command` / `cmd` (string, or argv array) | parsed as a command line, see [Shell commands](#shell-commands) |
//! | `path` / `file` / `filename` / `file_path` / `filePath` / `fileName` (string or array) | `file.delete` if the name has a delete/remove/unlink/rm word, else `file.write` if it has write/save/create/update/put/append/edit, else `file.read` |
//! | `source`+`destination`, `src`+`dst` (strings), `from`+`to` (both [path-like](#limits)) | `file.move` if the name has move/mv/rename, else `file.copy` |
//! | `url` / `uri` / `endpoint` | `net.egress`, target = URL, dest = host, attrs `method` (upper-cased) from `method`; a `file://` URL is a `file.read` instead |
//! | `to` / `recipients` / `recipient` / `cc` / `bcc` (string, comma/semicolon list, array, or `{email}` objects), unless `to` was a path pair; values that are plainly paths (`/`, `./`, `../`, `~/`, `file://`) are skipped | one `message.send` per recipient |
//!
//! # Shell commands
//!
//! Shell tools (`bash`, `sh`, `zsh`, `shell`, `local_shell`, `run_command`,
//! `execute_command`, `run_shell_command`, `run_terminal_cmd`, `run_in_terminal`,
//! `terminal`, `execute_bash`, `exec_command`, `shell_exec`, `exec`; Claude Code's `Bash`)
//! take their `command`/`cmd`/`commandLine`/`script` argument (or a bare string) as a
//! script; any other tool's `command`/`cmd` is parsed the same way, next to its other
//! argument families. A `cwd`/`workdir`/`directory` argument sets the starting directory.
//! The script is parsed with a real bash parser (`brush-parser`) and walked: `;`/`&&`/`||`
//! lists, pipelines, subshells, brace groups, `if`/`for`/`while`/`until`/`case` bodies
//! (`for` over literal words is unrolled), function bodies, `$(…)`/backquote and process
//! substitutions, redirections and here-documents. `bash -c`/`sh -c`/`eval`/`su -c`
//! strings, a here-document or `echo …|` fed to a shell, `ssh host CMD` (attrs
//! `remote_host`) and `find -exec` are walked recursively (depth ≤ 8).
//!
//! Every simple command yields `proc.exec` (target = the program as written; attrs
//! `command` = that simple command's text, `shell: true`, `sudo: true` under
//! `sudo`/`doas`/`su -c`) and then, with paths resolved as in [Targets](#targets) and
//! `cd DIR` changing the directory for later commands of the same (sub)shell:
//!
//! | command | actions |
//! |---|---|
//! | `> f`, `>> f`, `&> f`, `<> f` | `file.write` (attrs `append` for `>>`); `/dev/null` and other special files ignored; a bare `> f`/`: > f`/`cat /dev/null > f` adds attrs `truncate`; `< f` is `file.read`; `/dev/tcp/H/P` is `net.egress` |
//! | wrappers `sudo`, `doas`, `env`, `nohup`, `timeout`, `nice`, `time`, `exec`, `command`, `setsid`, `stdbuf`, `ionice`, `xargs` (operands from `find`/`grep -l` before the pipe, else `(stdin)`) | their own `proc.exec`, then the wrapped command's actions |
//! | `rm`, `shred`, `unlink`, `rmdir`, `find … -delete` | `file.delete` (attrs `recursive`) |
//! | `cp`, `install`, `rsync`, `scp` / `mv` | `file.copy` / `file.move`, target = source, dest = destination (`-t DIR` understood) |
//! | `tar c…`/`r`/`u` (`-C` understood), `zip`, `7z a`, `git bundle create` | `archive.create` per source, dest = archive (`(stdout)` for `-f -`); `tar x`/`t`, `unzip` read the archive |
//! | `sed -i`, `perl -i`, `truncate`, `tee [-a]`, `touch`, `dd of=` | `file.write` |
//! | `cat`, `head`, `tail`, `less`, `more`, `grep`/`rg` (after the pattern), `sed` without `-i`, `wc`, `sort`, `base64`, `jq` …, `dd if=`, `bash FILE` | `file.read` |
//! | `mkdir`, `install -d` | `dir.create` |
//! | `chmod`, `chown`, `chgrp`, `chattr`, `setfacl` | `file.chmod` (attrs `mode`/`owner`, `program`) |
//! | `usermod -aG/-G/-g/-p`, `useradd`, `adduser`, `passwd`, `chpasswd`, `gpasswd`, `visudo`; any write/copy into `authorized_keys`, `/etc/sudoers*`, `/etc/passwd`, `/etc/shadow`, `/etc/group`, PAM/polkit config | `perm.grant` |
//! | `curl`, `wget` | `net.egress` per URL, dest = host; attrs `uploads` for `-d`/`--data*`/`--json`/`-F`/`-T`/`-X POST\|PUT\|PATCH` (wget `--post-*`/`--body-*`/`--method`), `method`; `@file`, `-T file`, `--post-file` are `file.read`; `-o`/`-O` file is `file.write` |
//! | `nc`/`ncat`/`netcat`/`telnet`, `socat TCP:…`, `ssh`/`sftp`, `scp`/`rsync` to or from `[user@]host:path` | `net.egress`, target `nc://host:port`, `socat://host:port`, `ssh://host[:port]`, dest = host (attrs `user`, `listen`, `exec`, `tunnel`, `uploads`); `ssh -i KEY` reads the key |
//! | `git push` / `git remote add\|set-url` / `git clone\|fetch\|pull` | `net.egress`, target = remote URL (remembered from `git remote add` earlier in the call) or name; `push` has attrs `uploads` (and `force`) |
//! | `aws s3 cp\|sync\|mv`, `gsutil cp\|rsync\|mv`, `rclone copy\|sync\|move` | to a remote: `file.read` of the source + `net.egress` target = remote, dest = bucket/remote, attrs `uploads`; from a remote: `net.egress` + `file.write` |
//! | `kill`, `pkill`, `killall` | `proc.kill` per pid/name (attrs `signal`) |
//! | `systemctl stop\|disable\|mask\|kill UNIT`, `service UNIT stop` | `service.stop`, target = unit without `.service` |
//! | `crontab` (except `-l`), `at`/`batch`, `systemctl enable\|link`, writes under `/etc/cron*`, `/var/spool/cron`, systemd unit dirs (`*.service`, `*.timer` …), init/profile/autostart files, shell rc files, `.git/hooks/` | `persist.schedule` (attrs `entry` = the piped or here-doc crontab line) |
//! | `iptables`, `ip6tables`, `nft`, `ufw`, `firewall-cmd` (not plain listing); writes to `/etc/hosts`, `/etc/resolv.conf`, firewall config | `net.config` |
//! | `auditctl` (not `-l`/`-s`), `setenforce 0`, `history -c`, `unset HISTFILE`, `HISTFILE=`/`HISTSIZE=0`, `set +o history`; deletes, moves away or overwrites under `/var/log`, audit/syslog config, shell history; stopping or killing a monitoring service/process (`auditd`, `falco`, …) | `monitor.tamper` |
//! | reads, copies or archiving of credential files (`~/.aws/credentials`, `.env*` except examples, SSH private keys, `*.pem`/`*.key`, `.netrc`, `.pgpass`, `~/.kube/config`, `~/.docker/config.json`, `/etc/shadow`, `.git-credentials`, gcloud/azure config, `/proc/*/environ`, mounted secrets) | also `cred.access` (attrs `credential`) |
//! | bare `env`, `printenv` | `cred.access`, target `environment` |
//! | `python -c`, `node -e`, `perl -e`, `ruby -e`, `php -r`, or code on a here-doc | the `proc.exec` gets attrs `code` |
//!
//! Pipeline stages get attrs `piped_from`/`piped_to`, background jobs `background`. A
//! script that does not parse yields the complete lines before the error, then one
//! `proc.exec` of the first word of the rest with attrs `parse_error`.
//!
//! Name words are found by splitting the (stripped) tool name at `_`, `-`, other
//! non-alphanumerics and camelCase humps; a word matches a verb when it starts with it
//! (`writeFile`, `rmdir`, `deleted`), so `output` is not `put` and `credit` is not `edit`.
//!
//! # Targets
//!
//! Path targets are absolute: a relative path is joined to [`ToolContext::cwd`], else to the
//! first of [`ToolContext::roots`], then normalized lexically (`.`, `..`, duplicate and
//! trailing slashes; `..` past `/` stays at `/`). So `/srv/repo/../../etc/passwd` is
//! `/etc/passwd`, whatever root the call claimed to be under. `file://` URLs become their
//! (percent-decoded) path. `~` and `~/…` are kept as written with attrs
//! `home_relative: true`. A relative path with neither cwd nor roots stays relative with
//! attrs `unresolved: true`.
//!
//! # Limits
//!
//! - Lexical only: symlinks, bind mounts and hard links are not followed, so a target names
//!   what the call *said*, not necessarily the inode it reached. Containment must check
//!   the real path again at the point of use.
//! - POSIX paths only: Windows drive paths and backslashes are treated as ordinary
//!   relative names.
//! - Shell commands are read statically: unknown variables and `$(…)` results are kept
//!   as written (a path starting with `$` is `unresolved`), globs are not expanded (attrs
//!   `glob`), aliases and functions defined elsewhere are unknown, and only the programs
//!   in the table above have effects beyond `proc.exec` (a `make`, `npm run`, script file
//!   or interpreter program runs code that is not seen). `ssh host CMD` paths are the
//!   remote host's but resolve as unresolved relative names. Work is bounded: scripts
//!   over 64 KiB are cut, nesting over 200 levels is refused (`parse_error`), nested
//!   scripts stop at depth 8, a call yields at most 512 actions; whatever was cut marks
//!   every action `truncated: true`.
//! - Generic names are heuristics. "Path-like" means absolute, `./`, `../`, `~`, `file://`,
//!   containing `/`, or a bare `name.ext`, and never an `@` or a non-file URL.
//!   Unrecognized argument names are ignored; when nothing matches, `tool.call` keeps the
//!   call visible to rules that match on tool names.

mod agent;
mod filesystem;
mod generic;
mod path;
mod shell;

use std::path::PathBuf;

use brig_model::{Action, ActionKind};
use serde_json::Value;

/// Where relative paths resolve, and what the upstream serves.
#[derive(Clone, Copy, Debug, Default)]
pub struct ToolContext<'a> {
    /// The working directory of the agent or tool process, when known.
    pub cwd: Option<&'a std::path::Path>,
    /// The directories the upstream serves (e.g. the filesystem server's allowed
    /// directories); the first is the base for relative paths when there is no cwd.
    pub roots: &'a [PathBuf],
}

/// The normalized actions of one tool call. Never fails: unknown tools and odd arguments
/// still yield an action (tool.call with the tool name as target).
///
/// The only call that yields no action is the filesystem server's
/// `list_allowed_directories`, which touches nothing.
pub fn normalize(tool: &str, arguments: &Value, ctx: &ToolContext<'_>) -> Vec<Action> {
    let name = strip_prefix(tool).to_ascii_lowercase();
    if let Some(actions) = agent::normalize(&name, arguments, ctx) {
        return actions;
    }
    match filesystem::normalize(&name, arguments, ctx) {
        filesystem::Outcome::Actions(actions) => return actions,
        filesystem::Outcome::Malformed => {
            let mut a = Action::new(ActionKind::ToolCall, tool);
            a.attrs.insert("malformed".into(), Value::Bool(true));
            return vec![a];
        }
        filesystem::Outcome::NotMine => {}
    }
    // Command lines: parsed and walked. A shell tool's call is its command line; any other
    // tool's `command`/`cmd` argument is one too, next to its other argument families.
    let mut actions = shell::normalize(&name, arguments, ctx);
    if actions.is_empty() || !shell::SHELL_TOOLS.contains(&name.as_str()) {
        actions.extend(generic::normalize(&name, arguments, ctx));
    }
    if actions.is_empty() {
        vec![Action::new(ActionKind::ToolCall, tool)]
    } else {
        actions
    }
}

/// File changes seen rather than asked for (a watcher's, a workspace snapshot's), with what
/// each means beyond the file — the same reading a command line's writes and deletions get:
/// a write to a cron directory is also `persist.schedule`, deleting a log `monitor.tamper`,
/// a write to `authorized_keys` `perm.grant` (attr `what` names the place).
pub fn with_effects(changes: Vec<Action>) -> Vec<Action> {
    let mut out = Vec::with_capacity(changes.len());
    for a in changes {
        let effect = match a.action {
            ActionKind::FileWrite => shell::write_effect(&a.target),
            ActionKind::FileDelete => shell::delete_effect(&a.target),
            _ => None,
        };
        let extra = effect.map(|(kind, what)| {
            let mut e = Action::new(kind, a.target.clone());
            e.attrs = a.attrs.clone();
            e.attrs.insert("what".into(), Value::from(what));
            e
        });
        out.push(a);
        out.extend(extra);
    }
    out
}

/// The tool name without an MCP client's server prefix: the part after the last `__`, `.`
/// or `/` (the whole name if that part would be empty).
pub(crate) fn strip_prefix(tool: &str) -> &str {
    let cut = [
        tool.rfind("__").map(|i| i + 2),
        tool.rfind('.').map(|i| i + 1),
        tool.rfind('/').map(|i| i + 1),
    ]
    .into_iter()
    .flatten()
    .max();
    match cut {
        Some(i) if i < tool.len() => &tool[i..],
        _ => tool,
    }
}

/// An action on one path argument, with the path resolved and flags set.
pub(crate) fn path_action(kind: ActionKind, raw: &str, ctx: &ToolContext<'_>) -> Action {
    let r = path::resolve(raw, ctx);
    let mut a = Action::new(kind, r.path.clone());
    flag(&mut a, &r);
    a
}

/// An action from one path to another (copy, move).
pub(crate) fn pair_action(
    kind: ActionKind,
    source: &str,
    dest: &str,
    ctx: &ToolContext<'_>,
) -> Action {
    let s = path::resolve(source, ctx);
    let d = path::resolve(dest, ctx);
    let mut a = Action::new(kind, s.path.clone()).with_dest(d.path.clone());
    flag(&mut a, &s);
    flag(&mut a, &d);
    a
}

fn flag(a: &mut Action, r: &path::Resolved) {
    if r.home_relative {
        a.attrs.insert("home_relative".into(), Value::Bool(true));
    }
    if r.unresolved {
        a.attrs.insert("unresolved".into(), Value::Bool(true));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_stripped() {
        assert_eq!(strip_prefix("mcp__filesystem__write_file"), "write_file");
        assert_eq!(strip_prefix("filesystem.write_file"), "write_file");
        assert_eq!(strip_prefix("filesystem/write_file"), "write_file");
        assert_eq!(strip_prefix("a/b.c__read_file"), "read_file");
        assert_eq!(strip_prefix("write_file"), "write_file");
        assert_eq!(strip_prefix("trailing/"), "trailing/");
        assert_eq!(strip_prefix(""), "");
    }

    #[test]
    fn malformed_known_tool_keeps_full_name() {
        let ctx = ToolContext::default();
        let got = normalize("mcp__fs__write_file", &Value::Null, &ctx);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].action, ActionKind::ToolCall);
        assert_eq!(got[0].target, "mcp__fs__write_file");
        assert_eq!(got[0].attrs.get("malformed"), Some(&Value::Bool(true)));
    }
}
