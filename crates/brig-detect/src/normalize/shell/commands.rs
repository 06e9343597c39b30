//! What known programs do with their arguments. `analyze` is called once per simple
//! command (after expansion): it emits the `proc.exec` and the program's own actions.

use brig_model::{Action, ActionKind};
use serde_json::Value;

use super::classify::{self, basename};
use super::opts::{self, Spec};
use super::{flagged, Cmd, Cwd, Io, Scope, Shell, Stage, STDIN, STDOUT, W};

/// `NAME=value` before a command or on its own.
pub(super) fn assignment(sh: &mut Shell<'_>, name: &str, value: &W, cmd: &Cmd) {
    let tamper = match name {
        "HISTFILE" => value.text.is_empty() || value.text == "/dev/null",
        "HISTSIZE" | "HISTFILESIZE" => value.text == "0" || value.text.is_empty(),
        _ => false,
    };
    if tamper {
        sh.other(
            cmd,
            ActionKind::MonitorTamper,
            name,
            &[("what", Value::from("shell_history"))],
        );
    }
}

fn t(b: bool) -> Value {
    Value::Bool(b)
}

/// One simple command: `words[0]` is the program.
pub(super) fn analyze(
    sh: &mut Shell<'_>,
    words: &[W],
    scope: &mut Scope,
    io: &Io,
    cmd: &Cmd,
) -> Stage {
    let Some((first, args)) = words.split_first() else {
        return Stage::default();
    };
    let prog = basename(&first.text).to_string();
    let mut stage = Stage {
        program: Some(prog.clone()),
        ..Stage::default()
    };
    let exec_at = sh.out.len();
    sh.emit(cmd, Action::new(ActionKind::ProcExec, first.text.as_str()));
    let exec_at = (sh.out.len() > exec_at).then_some(exec_at);
    let exec_attr = |sh: &mut Shell<'_>, k: &str, v: Value| {
        if let Some(i) = exec_at {
            sh.out[i].attrs.insert(k.to_string(), v);
        }
    };
    let ops = |spec: Spec<'_>| opts::parse(args, spec);
    let short = |s: &'static str| Spec {
        short: s,
        ..Spec::default()
    };

    match prog.as_str() {
        // ---- shell state ----
        "cd" | "pushd" => {
            scope.cwd = match args.iter().find(|a| !a.text.starts_with('-')) {
                Some(d) if d.dynamic => Cwd::Unknown,
                Some(d) => sh.cwd_of(&d.text, scope),
                None => Cwd::Home("~".into()),
            };
        }
        "unset" => {
            for a in args {
                if matches!(a.text.as_str(), "HISTFILE" | "HISTSIZE" | "HISTFILESIZE") {
                    sh.other(
                        cmd,
                        ActionKind::MonitorTamper,
                        &a.text,
                        &[("what", Value::from("shell_history"))],
                    );
                }
            }
        }
        "export" | "declare" | "local" | "readonly" | "typeset" => {
            for a in args {
                if let Some((n, v)) = a.text.split_once('=') {
                    assignment(sh, n, &a.with_text(v), cmd);
                    if !a.dynamic {
                        scope.vars.insert(n.to_string(), v.to_string());
                    }
                }
            }
        }
        "history"
            if args.iter().any(|a| {
                a.text.starts_with('-') && (a.text.contains('c') || a.text.contains('d'))
            }) =>
        {
            sh.other(
                cmd,
                ActionKind::MonitorTamper,
                "shell_history",
                &[("what", Value::from("shell_history"))],
            );
        }
        "set" => {
            let w: Vec<&str> = args.iter().map(|a| a.text.as_str()).collect();
            if w.windows(2).any(|p| p == ["+o", "history"]) {
                sh.other(
                    cmd,
                    ActionKind::MonitorTamper,
                    "shell_history",
                    &[("what", Value::from("shell_history"))],
                );
            }
        }
        "echo" | "printf" => {
            let text: Vec<&str> = args
                .iter()
                .map(|a| a.text.as_str())
                .skip_while(|a| prog == "echo" && matches!(*a, "-n" | "-e" | "-E" | "-ne" | "-en"))
                .collect();
            stage.prints = Some(text.join(" "));
        }

        // ---- wrappers ----
        "sudo" | "doas" => {
            let p = ops(Spec {
                short: "ugCDhpRrTtU",
                long: &[
                    "user",
                    "group",
                    "chdir",
                    "host",
                    "prompt",
                    "role",
                    "type",
                    "other-user",
                    "close-from",
                ],
                stop_at_operand: true,
            });
            let mut inner = scope.with(&[("sudo", t(true))]);
            if let Some(u) = p.value(&["u", "user"]) {
                inner
                    .attrs
                    .insert("sudo_user".into(), Value::from(u.text.as_str()));
            }
            if p.has(&["s", "i", "shell", "login"]) && p.operands.is_empty() {
                return stage;
            }
            wrapped(sh, &p.operands, &p.rest, &mut inner, io, cmd);
        }
        "nohup" | "exec" | "command" | "builtin" | "time" | "stdbuf" | "ionice" | "chronic"
        | "setsid" => {
            let p = ops(Spec {
                short: "ioecnp",
                stop_at_operand: true,
                ..Spec::default()
            });
            wrapped(sh, &p.operands, &p.rest, &mut scope.clone(), io, cmd);
        }
        "nice" => {
            let p = ops(Spec {
                short: "n",
                long: &["adjustment"],
                stop_at_operand: true,
            });
            wrapped(sh, &p.operands, &p.rest, &mut scope.clone(), io, cmd);
        }
        "timeout" => {
            let p = ops(Spec {
                short: "sk",
                long: &["signal", "kill-after"],
                stop_at_operand: true,
            });
            // The first operand is the duration.
            if let Some((cmd0, rest)) = p.rest.split_first() {
                wrapped(
                    sh,
                    std::slice::from_ref(cmd0),
                    rest,
                    &mut scope.clone(),
                    io,
                    cmd,
                );
            }
        }
        "env" => {
            let mut i = 0;
            while i < args.len() {
                let a = args[i].text.as_str();
                if matches!(
                    a,
                    "-u" | "--unset" | "-C" | "--chdir" | "-S" | "--split-string"
                ) {
                    i += 2;
                } else if a.starts_with('-') || super::is_assignment(a) {
                    i += 1;
                } else {
                    break;
                }
            }
            if i >= args.len() {
                sh.other(
                    cmd,
                    ActionKind::CredAccess,
                    "environment",
                    &[("credential", Value::from("environment"))],
                );
            } else {
                let mut inner = scope.clone();
                let icmd = cmd.under(&inner);
                analyze(sh, &args[i..], &mut inner, io, &icmd);
            }
        }
        "printenv" => {
            sh.other(
                cmd,
                ActionKind::CredAccess,
                "environment",
                &[("credential", Value::from("environment"))],
            );
        }
        "xargs" => {
            let p = ops(Spec {
                short: "IdEeLlnPsa",
                long: &["delimiter", "max-args", "max-procs", "replace", "arg-file"],
                stop_at_operand: true,
            });
            if let Some(f) = p.value(&["a", "arg-file"]) {
                sh.read(cmd, f, scope);
            }
            let mut argv: Vec<W> = p.operands.iter().chain(p.rest.iter()).cloned().collect();
            if argv.is_empty() {
                argv.push(W::lit("echo"));
            }
            let repl = p.value(&["I", "replace"]).map(|w| w.text.clone());
            let feeds: Vec<W> = if io.stdin_paths.is_empty() {
                vec![W::lit(STDIN)]
            } else {
                io.stdin_paths.iter().map(|s| W::lit(s)).collect()
            };
            let mut inner = scope.with(&[("xargs", t(true))]);
            let icmd = cmd.under(&inner);
            for f in feeds.iter().take(16) {
                let mut v = argv.clone();
                match &repl {
                    Some(r) if v.iter().any(|w| w.text.contains(r.as_str())) => {
                        for w in &mut v {
                            w.text = w.text.replace(r.as_str(), &f.text);
                        }
                    }
                    _ => v.push(f.clone()),
                }
                analyze(sh, &v, &mut inner, &Io::default(), &icmd);
            }
        }
        "bash" | "sh" | "zsh" | "dash" | "ksh" | "ash" | "busybox"
            if prog != "busybox" || !args.is_empty() =>
        {
            if prog == "busybox" {
                let mut inner = scope.clone();
                analyze(sh, args, &mut inner, io, cmd);
                return stage;
            }
            let mut script = None;
            let mut want = false;
            for a in args {
                if want && !a.text.starts_with('-') {
                    script = Some(a.text.clone());
                    break;
                }
                if a.text.starts_with('-') && !a.text.starts_with("--") && a.text.contains('c') {
                    want = true;
                }
            }
            let script = match (script, want) {
                (Some(s), _) => Some(s),
                (None, _) if args.iter().all(|a| a.text.starts_with('-')) => io.stdin_text.clone(),
                _ => {
                    if let Some(f) = args.iter().find(|a| !a.text.starts_with('-')) {
                        sh.read(cmd, f, scope);
                    }
                    None
                }
            };
            if let Some(s) = script {
                let mut inner = scope.nested(&[]);
                sh.script(&s, &mut inner);
            }
        }
        "eval" => {
            let s: Vec<&str> = args.iter().map(|a| a.text.as_str()).collect();
            let mut inner = scope.nested(&[]);
            sh.script(&s.join(" "), &mut inner);
        }
        "su" => {
            let p = ops(Spec {
                short: "cgGs",
                long: &["command", "group", "shell"],
                ..Spec::default()
            });
            if let Some(c) = p.value(&["c", "command"]) {
                let mut inner = scope.nested(&[("sudo", t(true))]);
                sh.script(&c.text.clone(), &mut inner);
            }
        }

        // ---- interpreters ----
        "python" | "python2" | "python3" | "node" | "nodejs" | "perl" | "ruby" | "php" | "deno"
        | "bun"
            if !prog.starts_with("python") || !args.is_empty() || io.stdin_text.is_some() =>
        {
            let flag = if prog.starts_with("python") {
                "c"
            } else if prog == "php" {
                "r"
            } else {
                "e"
            };
            let p = ops(Spec {
                short: if prog == "perl" {
                    "eEIMm"
                } else if prog.starts_with("python") {
                    "cmWX"
                } else {
                    "epr"
                },
                long: &["eval", "print"],
                ..Spec::default()
            });
            let code = p
                .value(&[flag, "E", "eval", "print", "p"])
                .map(|w| w.text.clone());
            let code = code.or_else(|| {
                (p.operands.first().is_some_and(|o| o.text == "-")
                    || (p.operands.is_empty() && prog != "perl"))
                    .then(|| io.stdin_text.clone())
                    .flatten()
            });
            if let Some(c) = &code {
                exec_attr(
                    sh,
                    "code",
                    Value::from(super::cap(c, super::MAX_COMMAND_ATTR)),
                );
            }
            if prog == "perl" && (p.has(&["i"]) || p.has(&["n", "p"])) {
                let files = if code.is_some() {
                    &p.operands[..]
                } else {
                    p.operands.get(1..).unwrap_or(&[])
                };
                for f in files {
                    if p.has(&["i"]) {
                        sh.write(cmd, f, scope, false, &[("in_place", t(true))]);
                    } else {
                        sh.read(cmd, f, scope);
                    }
                }
            } else if code.is_none() {
                if let Some(f) = p.operands.first() {
                    if f.text != "-" && prog != "python" && !prog.starts_with("python")
                        || f.text.ends_with(".py")
                    {
                        sh.read(cmd, f, scope);
                    }
                }
            }
        }

        // ---- files ----
        "rm" | "shred" | "unlink" | "rmdir" | "srm" | "wipe" => {
            let p = ops(short(if prog == "shred" { "ns" } else { "" }));
            let recursive = p.has(&["r", "R", "recursive"]);
            for f in &p.operands {
                let extra: &[(&str, Value)] = if recursive {
                    &[("recursive", Value::Bool(true))]
                } else {
                    &[]
                };
                sh.delete(cmd, f, scope, extra);
            }
        }
        "cp" | "install" | "ln" => {
            let p = ops(Spec {
                short: if prog == "install" { "mogtSf" } else { "tS" },
                long: &["target-directory", "suffix", "mode", "owner", "group"],
                ..Spec::default()
            });
            if prog == "install" && p.has(&["d", "directory"]) {
                for d in &p.operands {
                    if let Some(a) = sh.path_action(ActionKind::DirCreate, d, scope) {
                        sh.emit(cmd, a);
                    }
                }
                return stage;
            }
            let kind = if prog == "ln" {
                ActionKind::FileWrite
            } else {
                ActionKind::FileCopy
            };
            pairs(sh, cmd, scope, &p, kind);
        }
        "mv" => {
            let p = ops(Spec {
                short: "tS",
                long: &["target-directory", "suffix"],
                ..Spec::default()
            });
            pairs(sh, cmd, scope, &p, ActionKind::FileMove);
        }
        "rsync" | "scp" => {
            let p = ops(Spec {
                short: if prog == "scp" { "cFiJloPSX" } else { "eBfT" },
                long: &[
                    "rsh",
                    "exclude",
                    "include",
                    "filter",
                    "port",
                    "exclude-from",
                    "include-from",
                    "files-from",
                    "rsync-path",
                ],
                ..Spec::default()
            });
            if let Some(k) = p.value(&["i"]) {
                sh.read(cmd, k, scope);
            }
            pairs(sh, cmd, scope, &p, ActionKind::FileCopy);
        }
        "dd" => {
            for a in args {
                if let Some(f) = a.text.strip_prefix("if=") {
                    sh.read(cmd, &a.with_text(f), scope);
                } else if let Some(f) = a.text.strip_prefix("of=") {
                    sh.write(cmd, &a.with_text(f), scope, false, &[]);
                }
            }
        }
        "mkdir" => {
            let p = ops(short("m"));
            for d in &p.operands {
                if let Some(a) = sh.path_action(ActionKind::DirCreate, d, scope) {
                    sh.emit(cmd, a);
                }
            }
        }
        "touch" => {
            let p = ops(Spec {
                short: "dtr",
                long: &["date", "reference"],
                ..Spec::default()
            });
            for f in &p.operands {
                sh.write(cmd, f, scope, true, &[("touch", t(true))]);
            }
        }
        "tee" => {
            let p = ops(short(""));
            let append = p.has(&["a", "append"]);
            for f in &p.operands {
                sh.write(cmd, f, scope, append, &[]);
            }
        }
        "truncate" => {
            let p = ops(Spec {
                short: "sr",
                long: &["size", "reference"],
                ..Spec::default()
            });
            for f in &p.operands {
                sh.write(cmd, f, scope, false, &[("truncate", t(true))]);
            }
        }
        "sed" | "gsed" => {
            let p = ops(Spec {
                short: "efl",
                long: &["expression", "file", "line-length"],
                ..Spec::default()
            });
            let has_script = p.has(&["e", "f", "expression", "file"]);
            let files = if has_script {
                &p.operands[..]
            } else {
                p.operands.get(1..).unwrap_or(&[])
            };
            let in_place =
                p.has(&["i", "in-place"]) || p.opts.iter().any(|(n, _)| n.starts_with("in-place"));
            for f in files {
                if in_place {
                    sh.write(cmd, f, scope, false, &[("in_place", t(true))]);
                } else {
                    sh.read(cmd, f, scope);
                }
            }
        }
        "cat" | "tac" | "less" | "more" | "nl" | "strings" | "xxd" | "hexdump" | "od"
        | "base64" | "bat" | "batcat" | "view" | "wc" | "sort" | "uniq" | "md5sum"
        | "sha256sum" | "sha1sum" | "file" | "jq" => {
            let p = ops(short(if prog == "base64" { "w" } else { "" }));
            let files = if prog == "jq" {
                p.operands.get(1..).unwrap_or(&[])
            } else {
                &p.operands[..]
            };
            for f in files {
                sh.read(cmd, f, scope);
            }
            if files.is_empty() && matches!(prog.as_str(), "cat" | "tac") {
                stage.prints = io.stdin_text.clone();
            }
        }
        "head" | "tail" => {
            let p = ops(Spec {
                short: "ncs",
                long: &["lines", "bytes"],
                ..Spec::default()
            });
            for f in &p.operands {
                sh.read(cmd, f, scope);
            }
        }
        "grep" | "egrep" | "fgrep" | "rg" | "zgrep" | "ag" => {
            let p = ops(Spec {
                short: "efmABCdDgt",
                long: &[
                    "regexp",
                    "file",
                    "max-count",
                    "after-context",
                    "before-context",
                    "context",
                    "glob",
                    "type",
                ],
                ..Spec::default()
            });
            if let Some(f) = p.value(&["f", "file"]) {
                sh.read(cmd, f, scope);
            }
            let files = if p.has(&["e", "regexp"]) || (prog != "rg" && p.has(&["f", "file"])) {
                &p.operands[..]
            } else {
                p.operands.get(1..).unwrap_or(&[])
            };
            for f in files {
                sh.read(cmd, f, scope);
            }
            if p.has(&["l", "files-with-matches"]) {
                stage.lists = files.iter().map(|w| w.text.clone()).collect();
            }
        }
        "find" => {
            let roots: Vec<&W> = args
                .iter()
                .take_while(|a| !a.text.starts_with(['-', '(', '!']))
                .collect();
            let roots: Vec<W> = if roots.is_empty() {
                vec![W::lit(".")]
            } else {
                roots.into_iter().cloned().collect()
            };
            stage.lists = roots.iter().map(|w| w.text.clone()).collect();
            let mut i = 0;
            while i < args.len() {
                match args[i].text.as_str() {
                    "-delete" => {
                        for r in &roots {
                            sh.delete(cmd, r, scope, &[("recursive", t(true)), ("find", t(true))]);
                        }
                    }
                    "-exec" | "-execdir" | "-ok" | "-okdir" => {
                        let end = args[i + 1..]
                            .iter()
                            .position(|a| a.text == ";" || a.text == "+")
                            .map_or(args.len(), |p| i + 1 + p);
                        let argv = &args[i + 1..end];
                        for r in roots.iter().take(8) {
                            let v: Vec<W> = argv
                                .iter()
                                .map(|w| w.with_text(&w.text.replace("{}", &r.text)))
                                .collect();
                            if !v.is_empty() {
                                let mut inner = scope.with(&[("find_exec", t(true))]);
                                let icmd = cmd.under(&inner);
                                analyze(sh, &v, &mut inner, &Io::default(), &icmd);
                            }
                        }
                        i = end;
                    }
                    _ => {}
                }
                i += 1;
            }
        }

        // ---- archives ----
        "tar" | "bsdtar" | "gtar" => {
            let mut argv: Vec<W> = args.to_vec();
            if let Some(f) = argv.first_mut() {
                if !f.text.starts_with('-') && !f.text.is_empty() {
                    f.text.insert(0, '-');
                }
            }
            let p = opts::parse(
                &argv,
                Spec {
                    short: "fCTXbgHKLNV",
                    long: &[
                        "file",
                        "directory",
                        "files-from",
                        "exclude-from",
                        "exclude",
                        "transform",
                        "use-compress-program",
                    ],
                    ..Spec::default()
                },
            );
            let archive = p
                .value(&["f", "file"])
                .cloned()
                .unwrap_or_else(|| W::lit(STDOUT));
            let mut at = scope.clone();
            if let Some(d) = p.value(&["C", "directory"]) {
                at.cwd = sh.cwd_of(&d.text, scope);
            }
            if p.has(&["c", "create", "r", "append", "u", "update"]) {
                archive_create(sh, cmd, &p.operands, &at, scope, &archive);
            } else if p.has(&["x", "extract", "get"]) {
                sh.read(cmd, &archive, scope);
                let dir = p
                    .value(&["C", "directory"])
                    .cloned()
                    .unwrap_or_else(|| W::lit("."));
                sh.write(cmd, &dir, scope, false, &[("extract", t(true))]);
            } else if p.has(&["t", "list"]) {
                sh.read(cmd, &archive, scope);
            }
        }
        "zip" => {
            let p = ops(short("bPtnxi"));
            if let Some((archive, files)) = p.operands.split_first() {
                archive_create(sh, cmd, files, scope, scope, archive);
            }
        }
        "7z" | "7za" | "7zz" => {
            if let Some((sub, rest)) = args.split_first() {
                let p = opts::parse(rest, Spec::default());
                if sub.text == "a" || sub.text == "u" {
                    if let Some((archive, files)) = p.operands.split_first() {
                        archive_create(sh, cmd, files, scope, scope, archive);
                    }
                } else if sub.text == "x" || sub.text == "e" {
                    if let Some(a) = p.operands.first() {
                        sh.read(cmd, a, scope);
                    }
                }
            }
        }
        "unzip" => {
            let p = ops(short("dx"));
            if let Some(a) = p.operands.first() {
                sh.read(cmd, a, scope);
            }
        }

        // ---- permissions ----
        "chmod" | "chown" | "chgrp" | "chattr" | "setfacl" => {
            let p = if prog == "setfacl" {
                let p = ops(Spec {
                    short: "mMxX",
                    long: &["modify", "remove", "modify-file", "remove-file"],
                    ..Spec::default()
                });
                let spec = p
                    .value(&["m", "modify", "x", "remove"])
                    .map(|w| w.text.clone());
                (spec, p.operands)
            } else {
                let mut operands: Vec<W> = Vec::new();
                let mut reference = false;
                for a in args {
                    let s = a.text.as_str();
                    let flag = s.starts_with("--")
                        || (s.starts_with('-')
                            && s.len() > 1
                            && s[1..].chars().all(|c| "RvcfhHLPV".contains(c)));
                    if s.starts_with("--reference") {
                        reference = true;
                    }
                    if !flag
                        || (prog == "chattr"
                            && operands.is_empty()
                            && s.starts_with('-')
                            && !s.starts_with("--"))
                    {
                        operands.push(a.clone());
                    }
                }
                if reference {
                    (None, operands)
                } else {
                    let mut it = operands.into_iter();
                    let mode = it.next().map(|w| w.text);
                    (mode, it.collect())
                }
            };
            let (mode, files) = p;
            let key = if matches!(prog.as_str(), "chown" | "chgrp") {
                "owner"
            } else {
                "mode"
            };
            for f in &files {
                let Some(mut a) = sh.path_action(ActionKind::FileChmod, f, scope) else {
                    continue;
                };
                if let Some(m) = &mode {
                    a.attrs.insert(key.into(), Value::from(m.as_str()));
                }
                a.attrs.insert("program".into(), Value::from(prog.as_str()));
                sh.emit(cmd, a);
            }
        }
        "usermod" | "useradd" | "adduser" | "passwd" | "chpasswd" | "gpasswd" | "visudo" => {
            let p = ops(Spec {
                short: "cdefgGlpsuAMKkb",
                long: &[
                    "groups", "gid", "shell", "home", "password", "comment", "uid", "add", "append",
                ],
                ..Spec::default()
            });
            let user = p
                .operands
                .last()
                .map(|w| w.text.clone())
                .unwrap_or_else(|| match prog.as_str() {
                    "visudo" => "/etc/sudoers".into(),
                    _ => "(self)".into(),
                });
            let grant = match prog.as_str() {
                "usermod" => p.has(&[
                    "G", "groups", "a", "append", "g", "gid", "p", "password", "u", "uid",
                ]),
                "passwd" => !p.has(&["S", "status", "l", "lock"]),
                _ => true,
            };
            if grant {
                let mut a = Action::new(ActionKind::PermGrant, user.as_str());
                if let Some(g) = p.value(&["G", "groups", "g", "gid", "A", "a"]) {
                    a.attrs
                        .insert("groups".into(), Value::from(g.text.as_str()));
                }
                sh.emit(cmd, a);
            }
        }

        // ---- network ----
        "curl" => curl(sh, cmd, scope, args),
        "wget" => {
            let p = ops(Spec {
                short: "OoPUeTtwaiQ",
                long: &[
                    "output-document",
                    "post-data",
                    "post-file",
                    "body-data",
                    "body-file",
                    "method",
                    "header",
                    "user-agent",
                ],
                ..Spec::default()
            });
            let method = p.value(&["method"]).map(|w| w.text.to_ascii_uppercase());
            let uploads = p.has(&["post-data", "post-file", "body-data", "body-file"])
                || matches!(method.as_deref(), Some("POST" | "PUT" | "PATCH"));
            for f in p.values(&["post-file", "body-file", "i", "input-file"]) {
                sh.read(cmd, f, scope);
            }
            if let Some(o) = p.value(&["O", "output-document"]) {
                sh.write(cmd, o, scope, false, &[]);
            }
            for u in &p.operands {
                url_egress(sh, cmd, &u.text, uploads, method.as_deref());
            }
        }
        "nc" | "ncat" | "netcat" | "telnet" => {
            let p = ops(short("pswiqIOXxecTV"));
            let listen = p.has(&["l", "listen"]);
            let (host, port) = match (p.operands.first(), p.operands.get(1)) {
                (Some(h), Some(pt)) => (h.text.clone(), Some(pt.text.clone())),
                (Some(h), None) if listen => ("0.0.0.0".into(), Some(h.text.clone())),
                (Some(h), None) => (h.text.clone(), None),
                (None, _) => ("0.0.0.0".into(), p.value(&["p"]).map(|w| w.text.clone())),
            };
            let mut extra = vec![];
            if listen {
                extra.push(("listen", t(true)));
            }
            if p.has(&["e", "c"]) {
                extra.push((
                    "exec",
                    Value::from(p.value(&["e", "c"]).map_or("", |w| w.text.as_str())),
                ));
            }
            if io.piped || io.stdin_text.is_some() {
                extra.push(("uploads", t(true)));
            }
            egress(sh, cmd, &prog, None, &host, port.as_deref(), &extra);
        }
        "socat" => {
            for a in args.iter().filter(|a| !a.text.starts_with('-')) {
                let mut parts = a.text.splitn(3, ':');
                let kind = parts.next().unwrap_or("").to_ascii_uppercase();
                if [
                    "TCP", "TCP4", "TCP6", "UDP", "UDP4", "UDP6", "OPENSSL", "SSL",
                ]
                .contains(&kind.as_str())
                {
                    if let (Some(h), p) = (parts.next(), parts.next()) {
                        let port = p.map(|p| p.split(',').next().unwrap_or(p));
                        egress(sh, cmd, "socat", None, h, port, &[]);
                    }
                }
            }
        }
        "ssh" | "sftp" | "mosh" => {
            let p = ops(Spec {
                short: "bcDEeFIiJLlmOopQRSWwP",
                stop_at_operand: prog == "ssh",
                ..Spec::default()
            });
            // OpenSSH reads options after the destination too.
            let mut p = p;
            while p
                .rest
                .first()
                .is_some_and(|w| w.text.starts_with('-') && w.text.len() > 1)
            {
                let more = opts::parse(
                    &p.rest,
                    Spec {
                        short: "bcDEeFIiJLlmOopQRSWwP",
                        stop_at_operand: true,
                        ..Spec::default()
                    },
                );
                p.opts.extend(more.opts);
                p.rest = match more.operands.first() {
                    Some(first) => std::iter::once(first.clone()).chain(more.rest).collect(),
                    None => Vec::new(),
                };
            }
            if let Some(k) = p.value(&["i"]) {
                sh.read(cmd, k, scope);
            }
            if let Some(dest) = p.operands.first() {
                let (user, host, port) = split_remote(&dest.text);
                let user = p.value(&["l"]).map(|w| w.text.clone()).or(user);
                let port = p.value(&["p", "P"]).map(|w| w.text.clone()).or(port);
                let mut extra = vec![];
                if let Some(u) = &user {
                    extra.push(("user", Value::from(u.as_str())));
                }
                if p.has(&["R", "L", "D"]) {
                    extra.push(("tunnel", t(true)));
                }
                if io.piped || io.stdin_text.is_some() {
                    extra.push(("uploads", t(true)));
                }
                egress(
                    sh,
                    cmd,
                    if prog == "sftp" { "sftp" } else { "ssh" },
                    None,
                    &host,
                    port.as_deref(),
                    &extra,
                );
                if !p.rest.is_empty() {
                    let remote: Vec<&str> = p.rest.iter().map(|w| w.text.as_str()).collect();
                    let mut inner = scope.nested(&[("remote_host", Value::from(host.as_str()))]);
                    inner.cwd = Cwd::Unknown;
                    sh.script(&remote.join(" "), &mut inner);
                }
            }
        }
        "git" => git(sh, cmd, scope, args),
        "aws" => {
            let w = plain_words(args);
            if w.first() == Some(&"s3") && matches!(w.get(1), Some(&("cp" | "sync" | "mv"))) {
                let p = opts::parse(
                    &args[args
                        .iter()
                        .position(|a| a.text == w[1])
                        .map_or(0, |i| i + 1)..],
                    Spec {
                        long: &[
                            "profile",
                            "region",
                            "exclude",
                            "include",
                            "acl",
                            "storage-class",
                            "endpoint-url",
                            "sse",
                        ],
                        ..Spec::default()
                    },
                );
                cloud_copy(
                    sh,
                    cmd,
                    scope,
                    &p.operands,
                    |s| s.starts_with("s3://"),
                    w[1] == "mv",
                );
            }
        }
        "gsutil" => {
            let w = plain_words(args);
            if matches!(w.first(), Some(&("cp" | "rsync" | "mv"))) {
                let rest = &args[args
                    .iter()
                    .position(|a| a.text == w[0])
                    .map_or(0, |i| i + 1)..];
                let p = opts::parse(rest, short("hIpxzZ"));
                cloud_copy(
                    sh,
                    cmd,
                    scope,
                    &p.operands,
                    |s| s.starts_with("gs://"),
                    w[0] == "mv",
                );
            }
        }
        "rclone" => {
            let w = plain_words(args);
            if matches!(
                w.first(),
                Some(&("copy" | "sync" | "move" | "copyto" | "moveto"))
            ) {
                let rest = &args[args
                    .iter()
                    .position(|a| a.text == w[0])
                    .map_or(0, |i| i + 1)..];
                let p = opts::parse(rest, Spec::default());
                let moving = w[0].starts_with("move");
                cloud_copy(
                    sh,
                    cmd,
                    scope,
                    &p.operands,
                    |s| remote_spec(s).is_some(),
                    moving,
                );
            }
        }

        // ---- processes and services ----
        "kill" | "pkill" | "killall" | "pgrep" if prog != "pgrep" => {
            let p = ops(short(if prog == "kill" { "sn" } else { "sUugtPGF" }));
            let mut signal = p.value(&["s", "n", "signal"]).map(|w| w.text.clone());
            if signal.is_none() && prog == "kill" {
                signal = args
                    .iter()
                    .find(|a| a.text.len() > 1 && a.text.starts_with('-') && a.text != "--")
                    .map(|a| a.text[1..].to_string());
            }
            if prog == "kill" && p.has(&["l", "L"]) {
                return stage;
            }
            for target in &p.operands {
                let mut extra = vec![];
                if let Some(s) = &signal {
                    extra.push(("signal", Value::from(s.as_str())));
                }
                sh.other(cmd, ActionKind::ProcKill, &target.text, &extra);
                if classify::is_monitoring_service(&target.text) {
                    sh.other(
                        cmd,
                        ActionKind::MonitorTamper,
                        &target.text,
                        &[("what", Value::from("monitoring_process"))],
                    );
                }
            }
        }
        "systemctl" | "service" => {
            let p = ops(Spec {
                short: "HMtpPsn",
                long: &["host", "machine", "type", "property", "signal", "kill-whom"],
                ..Spec::default()
            });
            let words: Vec<&str> = p.operands.iter().map(|w| w.text.as_str()).collect();
            let (verb, units): (&str, Vec<&str>) = if prog == "service" {
                match words.as_slice() {
                    [unit, verb, ..] => (verb, vec![*unit]),
                    _ => ("", vec![]),
                }
            } else {
                match words.split_first() {
                    Some((v, u)) => (v, u.to_vec()),
                    None => ("", vec![]),
                }
            };
            for unit in units {
                let name = unit.strip_suffix(".service").unwrap_or(unit);
                match verb {
                    "stop" | "disable" | "mask" | "kill" => {
                        stop_workload(sh, cmd, name, &prog, verb);
                    }
                    "enable" | "link" => {
                        sh.other(
                            cmd,
                            ActionKind::PersistSchedule,
                            name,
                            &[("what", Value::from("systemd_enable"))],
                        );
                    }
                    _ => {}
                }
            }
        }
        "kubectl" | "oc" => {
            let p = ops(Spec {
                short: "nlfocsp",
                long: &[
                    "namespace",
                    "selector",
                    "replicas",
                    "context",
                    "output",
                    "filename",
                    "container",
                    "field-selector",
                    "since",
                    "timeout",
                    "kubeconfig",
                    "cluster",
                    "user",
                    "type",
                    "patch",
                    "current-replicas",
                ],
                ..Spec::default()
            });
            let words: Vec<&str> = p.operands.iter().map(|w| w.text.as_str()).collect();
            let Some((verb, rest)) = words.split_first() else {
                return stage;
            };
            let replicas = p.value(&["replicas"]).map(|w| w.text.as_str());
            let stops = match *verb {
                "scale" => replicas == Some("0"),
                "delete" | "drain" | "cordon" => true,
                _ => false,
            };
            for (kind, name) in kube_resources(rest) {
                let workload = matches!(
                    kind.as_str(),
                    "deploy"
                        | "deployment"
                        | "deployments"
                        | "ds"
                        | "daemonset"
                        | "daemonsets"
                        | "sts"
                        | "statefulset"
                        | "statefulsets"
                        | "po"
                        | "pod"
                        | "pods"
                        | "cronjob"
                        | "cronjobs"
                        | "cj"
                        | "job"
                        | "jobs"
                        | "rs"
                        | "replicaset"
                        | "node"
                        | "nodes"
                        | "svc"
                        | "service"
                        | "services"
                );
                if stops && workload {
                    stop_workload(sh, cmd, &name, "kubernetes", verb);
                } else if matches!(*verb, "patch" | "edit" | "set" | "annotate" | "label")
                    || (*verb == "delete" && !workload)
                {
                    sh.other(
                        cmd,
                        ActionKind::ConfigChange,
                        &format!("{kind}/{name}"),
                        &[
                            ("platform", Value::from("kubernetes")),
                            ("verb", Value::from(*verb)),
                        ],
                    );
                }
            }
        }
        "docker" | "podman" | "nerdctl" => {
            let words = plain_words(args);
            match words.as_slice() {
                [verb @ ("stop" | "kill" | "rm" | "pause"), names @ ..]
                | ["container", verb @ ("stop" | "kill" | "rm" | "pause"), names @ ..] => {
                    for n in names {
                        stop_workload(sh, cmd, n, "container", verb);
                    }
                }
                ["compose", verb @ ("stop" | "down" | "kill" | "rm"), names @ ..] => {
                    if names.is_empty() {
                        stop_workload(sh, cmd, "compose", "container", verb);
                    }
                    for n in names {
                        stop_workload(sh, cmd, n, "container", verb);
                    }
                }
                _ => {}
            }
        }
        "helm" => {
            let words = plain_words(args);
            if let [verb @ ("uninstall" | "delete" | "del" | "un"), names @ ..] = words.as_slice() {
                for n in names {
                    stop_workload(sh, cmd, n, "helm", verb);
                }
            }
        }
        "amtool" => {
            let words: Vec<&str> = args.iter().map(|w| w.text.as_str()).collect();
            if words.windows(2).any(|w| w == ["silence", "add"])
                || words.first() == Some(&"silence") && !words.contains(&"query")
            {
                sh.other(
                    cmd,
                    ActionKind::MonitorTamper,
                    "alertmanager",
                    &[("what", Value::from("alert_silence"))],
                );
            }
        }
        "crontab" => {
            let p = ops(short("uT"));
            if !p.has(&["l"]) {
                let target = p
                    .operands
                    .first()
                    .filter(|f| f.text != "-")
                    .map(|f| sh.resolve(f, scope).path)
                    .unwrap_or_else(|| "crontab".into());
                let mut extra = vec![("what", Value::from("cron"))];
                if p.has(&["r"]) {
                    extra.push(("remove", t(true)));
                }
                if let Some(u) = p.value(&["u"]) {
                    extra.push(("user", Value::from(u.text.as_str())));
                }
                if let Some(text) = &io.stdin_text {
                    extra.push(("entry", Value::from(super::cap(text, 1024))));
                }
                sh.other(cmd, ActionKind::PersistSchedule, &target, &extra);
            }
        }
        "at" | "batch" => {
            let p = ops(short("qfmMt"));
            if !p.has(&["l", "d", "r", "c"]) {
                let when: Vec<&str> = p.operands.iter().map(|w| w.text.as_str()).collect();
                let mut extra = vec![("what", Value::from("at"))];
                if let Some(text) = &io.stdin_text {
                    extra.push(("entry", Value::from(super::cap(text, 1024))));
                }
                sh.other(
                    cmd,
                    ActionKind::PersistSchedule,
                    format!("at {}", when.join(" ")).trim(),
                    &extra,
                );
            }
        }

        // ---- security controls ----
        "iptables" | "ip6tables" | "iptables-restore" | "ip6tables-restore" | "nft" | "ufw"
        | "firewall-cmd" => {
            let read_only = args.iter().all(|a| {
                matches!(
                    a.text.as_str(),
                    "-L" | "-S"
                        | "-n"
                        | "-v"
                        | "--list"
                        | "status"
                        | "list"
                        | "--list-all"
                        | "--state"
                )
            });
            if !read_only || args.is_empty() && !prog.ends_with("restore") {
                sh.other(cmd, ActionKind::NetConfig, &prog, &[]);
            }
        }
        "auditctl" => {
            let read_only = args.iter().all(|a| matches!(a.text.as_str(), "-l" | "-s"));
            if !read_only {
                sh.other(
                    cmd,
                    ActionKind::MonitorTamper,
                    "auditd",
                    &[("what", Value::from("audit_rules"))],
                );
            }
        }
        "setenforce"
            if args
                .first()
                .is_some_and(|a| a.text == "0" || a.text.eq_ignore_ascii_case("permissive")) =>
        {
            sh.other(
                cmd,
                ActionKind::MonitorTamper,
                "selinux",
                &[("what", Value::from("selinux"))],
            );
        }
        _ => {}
    }
    stage
}

/// The command a wrapper runs: its first operand and the words after it.
fn wrapped(sh: &mut Shell<'_>, operands: &[W], rest: &[W], scope: &mut Scope, io: &Io, cmd: &Cmd) {
    let Some(first) = operands.first() else {
        return;
    };
    let mut argv = vec![first.clone()];
    argv.extend(rest.iter().cloned());
    let icmd = cmd.under(scope);
    analyze(sh, &argv, scope, io, &icmd);
}

/// Copies and moves: `SRC… DEST` or `-t DEST SRC…`. Remote `host:path` sides are
/// `net.egress` as well.
fn pairs(sh: &mut Shell<'_>, cmd: &Cmd, scope: &Scope, p: &opts::Parsed, kind: ActionKind) {
    let (srcs, dest) = match p.value(&["t", "target-directory"]) {
        Some(d) => (&p.operands[..], d.clone()),
        None => match p.operands.split_last() {
            Some((d, s)) if !s.is_empty() => (s, d.clone()),
            _ => return,
        },
    };
    let dest_remote = remote_spec(&dest.text);
    let dest_path = match &dest_remote {
        Some(_) => dest.text.clone(),
        None => sh.resolve(&dest, scope).path,
    };
    for s in srcs {
        let src_remote = remote_spec(&s.text);
        let (src_path, sflags) = match &src_remote {
            Some(_) => (s.text.clone(), None),
            None => {
                let r = sh.resolve(s, scope);
                (r.path.clone(), Some(r))
            }
        };
        let mut a = Action::new(kind, src_path.as_str()).with_dest(dest_path.as_str());
        if let Some(r) = &sflags {
            a = flagged(a, r, s);
        }
        sh.emit(cmd, a);
        if let Some((user, host, port)) = &src_remote {
            let extra: Vec<(&str, Value)> = user
                .iter()
                .map(|u| ("user", Value::from(u.as_str())))
                .collect();
            egress(sh, cmd, "ssh", None, host, port.as_deref(), &extra);
        } else {
            if let Some(what) = classify::credential(&src_path) {
                sh.cred(cmd, &src_path, what, Default::default());
            }
            if kind == ActionKind::FileMove {
                sh.delete_effect(cmd, &src_path, Default::default());
            }
        }
        if let Some((user, host, port)) = &dest_remote {
            let mut extra: Vec<(&str, Value)> = vec![("uploads", Value::Bool(true))];
            if let Some(u) = user {
                extra.push(("user", Value::from(u.as_str())));
            }
            egress(sh, cmd, "ssh", None, host, port.as_deref(), &extra);
        } else {
            let eff =
                if dest.text.ends_with('/') || sh.resolve(&dest, scope).path.ends_with("/.ssh") {
                    format!(
                        "{}/{}",
                        dest_path.trim_end_matches('/'),
                        basename(&src_path)
                    )
                } else {
                    dest_path.clone()
                };
            sh.write_effect(cmd, &eff, false, Default::default());
        }
    }
}

/// `[user@]host:path` (not a local path, not a URL) → (user, host, port).
fn remote_spec(s: &str) -> Option<(Option<String>, String, Option<String>)> {
    if let Some(rest) = s
        .strip_prefix("scp://")
        .or_else(|| s.strip_prefix("sftp://"))
        .or_else(|| s.strip_prefix("rsync://"))
    {
        let auth = rest.split('/').next().unwrap_or(rest);
        return Some(split_remote(auth));
    }
    if s.starts_with(['/', '.', '~', '$']) || s.contains("://") {
        return None;
    }
    let (head, _) = s.split_once(':')?;
    if head.is_empty() || head.contains('/') {
        return None;
    }
    let (user, host, _) = split_remote(head);
    Some((user, host, None))
}

/// `user@host:port` → parts.
fn split_remote(s: &str) -> (Option<String>, String, Option<String>) {
    let s = s.strip_prefix("ssh://").unwrap_or(s);
    let (user, hostport) = match s.rsplit_once('@') {
        Some((u, h)) => (Some(u.to_string()), h),
        None => (None, s),
    };
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p))
            if !h.is_empty()
                && !h.contains(':')
                && p.chars().all(|c| c.is_ascii_digit())
                && !p.is_empty() =>
        {
            (h.to_string(), Some(p.to_string()))
        }
        _ => (hostport.to_string(), None),
    };
    (user, host, port)
}

/// `net.egress` to `scheme://host[:port]`; dest = host (lower-cased).
fn egress(
    sh: &mut Shell<'_>,
    cmd: &Cmd,
    scheme: &str,
    _path: Option<&str>,
    host: &str,
    port: Option<&str>,
    extra: &[(&str, Value)],
) {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let target = match port {
        Some(p) => format!("{scheme}://{host}:{p}"),
        None => format!("{scheme}://{host}"),
    };
    let mut a = Action::new(ActionKind::NetEgress, target).with_dest(host.to_ascii_lowercase());
    for (k, v) in extra {
        a.attrs.insert((*k).to_string(), v.clone());
    }
    sh.emit(cmd, a);
}

/// `net.egress` to a URL; dest = its host.
fn url_egress(sh: &mut Shell<'_>, cmd: &Cmd, url: &str, uploads: bool, method: Option<&str>) {
    let mut a = Action::new(ActionKind::NetEgress, url);
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let auth = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = auth.rsplit('@').next().unwrap_or(auth);
    if !host.is_empty() {
        a.dest = Some(host.to_ascii_lowercase());
    }
    if uploads {
        a.attrs.insert("uploads".into(), Value::Bool(true));
    }
    if let Some(m) = method {
        a.attrs.insert("method".into(), Value::from(m));
    }
    sh.emit(cmd, a);
}

fn curl(sh: &mut Shell<'_>, cmd: &Cmd, scope: &Scope, args: &[W]) {
    const DATA: &[&str] = &[
        "d",
        "data",
        "data-raw",
        "data-binary",
        "data-urlencode",
        "data-ascii",
        "json",
        "F",
        "form",
        "form-string",
        "T",
        "upload-file",
    ];
    let p = opts::parse(
        args,
        Spec {
            short: "dFTXHouAbceEKmrwxYyzCQ",
            long: &[
                "data",
                "data-raw",
                "data-binary",
                "data-urlencode",
                "data-ascii",
                "json",
                "form",
                "form-string",
                "upload-file",
                "request",
                "header",
                "output",
                "user",
                "user-agent",
                "cookie",
                "cookie-jar",
                "referer",
                "cert",
                "key",
                "config",
                "max-time",
                "range",
                "write-out",
                "proxy",
                "connect-timeout",
                "retry",
                "url",
                "cacert",
                "proto",
                "proto-redir",
                "proto-default",
                "resolve",
                "connect-to",
                "interface",
                "limit-rate",
                "max-filesize",
                "max-redirs",
                "retry-delay",
                "retry-max-time",
                "speed-limit",
                "speed-time",
                "ciphers",
                "capath",
                "cert-type",
                "key-type",
                "pass",
                "dns-servers",
                "local-port",
                "oauth2-bearer",
                "proxy-user",
                "preproxy",
                "socks5",
                "socks5-hostname",
                "unix-socket",
                "expect100-timeout",
                "happy-eyeballs-timeout-ms",
                "keepalive-time",
                "trace",
                "trace-ascii",
                "stderr",
                "variable",
            ],
            ..Spec::default()
        },
    );
    let method = p
        .value(&["X", "request"])
        .map(|w| w.text.to_ascii_uppercase());
    let uploads = p.has(DATA) || matches!(method.as_deref(), Some("POST" | "PUT" | "PATCH"));
    for (name, v) in &p.opts {
        let Some(v) = v else { continue };
        let file = match name.as_str() {
            "T" | "upload-file" => Some(v.text.as_str()),
            "F" | "form" => v
                .text
                .split_once(['@', '<'])
                .map(|(_, f)| f.split(';').next().unwrap_or(f)),
            n if DATA.contains(&n) && n != "form-string" => {
                v.text.split_once('@').and_then(|(k, f)| {
                    (k.is_empty() || (n == "data-urlencode" && !k.contains('='))).then_some(f)
                })
            }
            "K" | "config" | "cert" | "key" | "E" => Some(v.text.as_str()),
            _ => None,
        };
        if let Some(f) = file {
            if !f.is_empty() && f != "-" {
                sh.read(cmd, &v.with_text(f), scope);
            }
        }
        if matches!(name.as_str(), "o" | "output") {
            sh.write(cmd, v, scope, false, &[]);
        }
    }
    let urls = p.operands.iter().chain(p.values(&["url"]));
    for u in urls.map(|w| w.text.clone()).collect::<Vec<_>>() {
        url_egress(sh, cmd, &u, uploads, method.as_deref());
    }
}

fn git(sh: &mut Shell<'_>, cmd: &Cmd, scope: &mut Scope, args: &[W]) {
    let mut i = 0;
    let mut at = scope.clone();
    while i < args.len() && args[i].text.starts_with('-') {
        if matches!(
            args[i].text.as_str(),
            "-C" | "-c" | "--git-dir" | "--work-tree" | "--namespace"
        ) {
            if args[i].text == "-C" {
                if let Some(d) = args.get(i + 1) {
                    at.cwd = sh.cwd_of(&d.text, scope);
                }
            }
            i += 1;
        }
        i += 1;
    }
    let Some(sub) = args.get(i) else { return };
    let rest = &args[i + 1..];
    let operands: Vec<&W> = rest.iter().filter(|a| !a.text.starts_with('-')).collect();
    let remote_url = |scope: &Scope, name: &str| {
        scope
            .remotes
            .get(name)
            .cloned()
            .unwrap_or_else(|| name.to_string())
    };
    match sub.text.as_str() {
        "push" => {
            let name = operands.first().map_or("origin", |w| w.text.as_str());
            let url = remote_url(scope, name);
            let mut a = Action::new(ActionKind::NetEgress, url.as_str());
            if let Some(h) = git_host(&url) {
                a.dest = Some(h);
            }
            a.attrs.insert("uploads".into(), Value::Bool(true));
            a.attrs.insert("remote".into(), Value::from(name));
            if rest.iter().any(|a| {
                matches!(
                    a.text.as_str(),
                    "-f" | "--force" | "--force-with-lease" | "--mirror" | "--delete"
                )
            }) {
                a.attrs.insert("force".into(), Value::Bool(true));
            }
            sh.emit(cmd, a);
        }
        "remote" => {
            if let [verb, name, url, ..] = operands.as_slice() {
                if matches!(verb.text.as_str(), "add" | "set-url") {
                    scope.remotes.insert(name.text.clone(), url.text.clone());
                    let mut a = Action::new(ActionKind::NetEgress, url.text.as_str());
                    if let Some(h) = git_host(&url.text) {
                        a.dest = Some(h);
                    }
                    a.attrs
                        .insert("remote".into(), Value::from(name.text.as_str()));
                    sh.emit(cmd, a);
                }
            }
        }
        "clone" | "fetch" | "pull" => {
            let name = operands.first().map_or("origin", |w| w.text.as_str());
            let url = remote_url(scope, name);
            let mut a = Action::new(ActionKind::NetEgress, url.as_str());
            if let Some(h) = git_host(&url) {
                a.dest = Some(h);
            }
            sh.emit(cmd, a);
        }
        "bundle" => {
            if let [verb, file, ..] = operands.as_slice() {
                if verb.text == "create" {
                    let dest = sh.resolve(file, &at).path;
                    let src = sh.resolve(&W::lit("."), &at).path;
                    let a = Action::new(ActionKind::ArchiveCreate, src).with_dest(dest);
                    sh.emit(cmd, a);
                }
            }
        }
        _ => {}
    }
}

/// The host of a git remote: a URL or `user@host:path`.
fn git_host(url: &str) -> Option<String> {
    if let Some((_, rest)) = url.split_once("://") {
        let auth = rest.split('/').next()?;
        let host = auth.rsplit('@').next()?;
        return (!host.is_empty()).then(|| host.to_ascii_lowercase());
    }
    remote_spec(url).map(|(_, h, _)| h.to_ascii_lowercase())
}

/// `archive.create`: one per source, dest = the archive.
fn archive_create(
    sh: &mut Shell<'_>,
    cmd: &Cmd,
    files: &[W],
    at: &Scope,
    scope: &Scope,
    archive: &W,
) {
    let dest = if archive.text == "-" || archive.text == STDOUT {
        STDOUT.to_string()
    } else {
        sh.resolve(archive, scope).path
    };
    let sources: Vec<W> = if files.is_empty() {
        vec![W::lit(".")]
    } else {
        files.to_vec()
    };
    for f in sources.iter().take(64) {
        let r = sh.resolve(f, at);
        let a = flagged(
            Action::new(ActionKind::ArchiveCreate, r.path.as_str()).with_dest(dest.as_str()),
            &r,
            f,
        );
        sh.emit(cmd, a);
        if let Some(what) = classify::credential(&r.path) {
            sh.cred(cmd, &r.path, what, Default::default());
        }
    }
}

/// `aws s3 cp`, `gsutil cp`, `rclone copy`: SRC DEST where either may be remote.
fn cloud_copy(
    sh: &mut Shell<'_>,
    cmd: &Cmd,
    scope: &Scope,
    operands: &[W],
    is_remote: impl Fn(&str) -> bool,
    moving: bool,
) {
    let [src, dst, ..] = operands else { return };
    let (src_r, dst_r) = (is_remote(&src.text), is_remote(&dst.text));
    if dst_r {
        if !src_r {
            sh.read(cmd, src, scope);
            if moving {
                sh.delete(cmd, src, scope, &[]);
            }
        }
        let mut a =
            Action::new(ActionKind::NetEgress, dst.text.as_str()).with_dest(bucket(&dst.text));
        a.attrs.insert("uploads".into(), Value::Bool(true));
        a.attrs
            .insert("source".into(), Value::from(src.text.as_str()));
        sh.emit(cmd, a);
    } else if src_r {
        let a = Action::new(ActionKind::NetEgress, src.text.as_str()).with_dest(bucket(&src.text));
        sh.emit(cmd, a);
        sh.write(cmd, dst, scope, false, &[]);
    }
}

/// `s3://bucket/key` → `bucket`; `remote:path` → `remote`.
fn bucket(s: &str) -> String {
    match s.split_once("://") {
        Some((_, rest)) => rest.split('/').next().unwrap_or(rest).to_string(),
        None => s.split(':').next().unwrap_or(s).to_string(),
    }
}

/// A stopped workload (a scaled-to-zero deployment, a stopped container, an uninstalled
/// release) is a stopped service; one that monitors is also monitoring tampering.
fn stop_workload(sh: &mut Shell<'_>, cmd: &Cmd, name: &str, platform: &str, verb: &str) {
    sh.other(
        cmd,
        ActionKind::ServiceStop,
        name,
        &[
            ("verb", Value::from(verb)),
            ("platform", Value::from(platform)),
        ],
    );
    if classify::is_monitoring_service(name) {
        sh.other(
            cmd,
            ActionKind::MonitorTamper,
            name,
            &[("what", Value::from("monitoring_service"))],
        );
    }
}

/// `kubectl` resource operands: `deploy/x deploy/y`, or `deployment x y`, or
/// `deploy,ds x`. Returns (kind, name) pairs.
fn kube_resources(words: &[&str]) -> Vec<(String, String)> {
    if words.iter().any(|w| w.contains('/')) {
        return words
            .iter()
            .filter_map(|w| w.split_once('/'))
            .map(|(k, n)| (k.to_ascii_lowercase(), n.to_string()))
            .collect();
    }
    match words.split_first() {
        Some((kind, names)) => names
            .iter()
            .flat_map(|n| {
                kind.split(',')
                    .map(move |k| (k.to_ascii_lowercase(), n.to_string()))
            })
            .collect(),
        None => Vec::new(),
    }
}

/// The words of a command line that are not options: a subcommand and its operands, for
/// programs (`aws s3 cp`, `docker stop`, `helm uninstall`) read by their verbs. Option
/// values are not told apart; callers match verbs in leading positions.
fn plain_words(args: &[W]) -> Vec<&str> {
    args.iter()
        .map(|a| a.text.as_str())
        .filter(|w| !w.starts_with('-'))
        .collect()
}
