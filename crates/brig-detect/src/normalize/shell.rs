//! Shell command lines: what a `bash`-like tool call actually does.
//!
//! The line is parsed with a real bash parser (`brush-parser`), then walked: lists,
//! pipelines, subshells, brace groups, `if`/`for`/`while`/`case` bodies, function bodies,
//! command and process substitutions, redirections and here-documents. Every simple command
//! yields a `proc.exec` of its program plus the actions the program is known to perform
//! ([`commands`]); strings that are themselves scripts (`bash -c`, `eval`, `ssh host cmd`,
//! `su -c`, `find -exec`, `xargs cmd`, a here-document fed to a shell) are walked too, to a
//! bounded depth. The mapping table is in the parent module's docs.
//!
//! Never fails and never panics: input that does not parse yields one `proc.exec` of its
//! first word with attrs `parse_error`; work is bounded (input length, nesting, re-parse
//! depth, actions per call) and whatever was cut is marked `truncated: true`.

mod classify;
mod commands;
mod controls;
mod fd;
mod opts;
mod parens;

use std::collections::BTreeMap;
use std::path::Path;

use brig_model::{Action, ActionKind};
use brush_parser::ast;
use brush_parser::word::{ParameterExpr, TildeExpr, WordPiece, WordPieceWithSource};
use serde_json::Value;

use super::path::{self, Resolved};
use super::ToolContext;

/// Tools that take a command line (after the MCP prefix is stripped, lower-cased). Their
/// `command`/`cmd`/`commandLine`/`script` argument, or a bare string argument, is a script.
/// Any other tool's `command`/`cmd` argument is parsed the same way.
pub(crate) const SHELL_TOOLS: &[&str] = &[
    "bash",
    "sh",
    "zsh",
    "shell",
    "local_shell",
    "run_command",
    "execute_command",
    "run_shell_command",
    "run_terminal_cmd",
    "run_in_terminal",
    "terminal",
    "execute_bash",
    "exec_command",
    "shell_exec",
    "exec",
];

/// Longest script parsed (bytes); the rest is dropped and the actions marked `truncated`.
pub(crate) const MAX_INPUT: usize = 64 * 1024;
/// How deep scripts inside scripts are followed (`bash -c "eval '…'"`, `$(…)`, `ssh h cmd`).
const MAX_DEPTH: usize = 8;
/// Deepest syntactic nesting parsed (subshells, groups, `if`s …); deeper input is refused.
const MAX_NESTING: usize = 200;
/// Most actions one call yields.
const MAX_ACTIONS: usize = 512;
/// Longest `command` attribute kept (characters).
const MAX_COMMAND_ATTR: usize = 2048;
/// How many loop iterations over literal lists are walked one by one (per call).
const MAX_UNROLL: usize = 64;
/// The target of an action whose operand comes from standard input (`xargs rm`).
pub(crate) const STDIN: &str = "(stdin)";
/// The destination of data written to standard output (`tar czf - …`).
pub(crate) const STDOUT: &str = "(stdout)";

/// What a (whole, not appended) write to `path` means beyond the file, if anything.
pub(crate) fn write_effect(path: &str) -> Option<(ActionKind, &'static str)> {
    classify::write_effect(path, false)
}

/// What deleting `path` means beyond the file, if anything.
pub(crate) fn delete_effect(path: &str) -> Option<(ActionKind, &'static str)> {
    classify::delete_effect(path)
}

/// The shell actions of a tool call: empty when it has no command line.
pub(crate) fn normalize(name: &str, args: &Value, ctx: &ToolContext<'_>) -> Vec<Action> {
    let is_shell = SHELL_TOOLS.contains(&name);
    let mut sh = Shell::new(ctx);
    let mut scope = Scope::new(Cwd::Ctx);
    match args {
        Value::String(s) if is_shell => sh.top(s, &mut scope),
        Value::Object(obj) => {
            let get = |keys: &[&str]| {
                keys.iter().find_map(|k| {
                    obj.iter()
                        .find(|(n, _)| n.replace(['_', '-'], "").eq_ignore_ascii_case(k))
                        .map(|(_, v)| v)
                })
            };
            if let Some(Value::String(dir)) =
                get(&["cwd", "workdir", "workingdirectory", "directory", "dir"])
            {
                scope.cwd = sh.cwd_of(dir, &Scope::new(Cwd::Ctx));
            }
            let keys: &[&str] = if is_shell {
                &["command", "cmd", "commandline", "script"]
            } else {
                &["command", "cmd"]
            };
            for key in keys {
                match get(&[key]) {
                    Some(Value::String(s)) => sh.top(s, &mut scope),
                    Some(Value::Array(items)) => {
                        let argv: Vec<W> =
                            items.iter().filter_map(Value::as_str).map(W::lit).collect();
                        if !argv.is_empty() {
                            sh.argv(&argv, &mut scope);
                        }
                    }
                    _ => {}
                }
            }
        }
        _ => {}
    }
    sh.finish()
}

/// One expanded word: its text with quotes removed and known variables substituted.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct W {
    pub text: String,
    /// Contains an expansion whose value is not known here (`$X`, `$(…)`).
    pub dynamic: bool,
    /// Contains an unquoted glob character.
    pub glob: bool,
}

impl W {
    pub fn lit(s: &str) -> W {
        W {
            text: s.to_string(),
            ..W::default()
        }
    }

    pub fn with_text(&self, s: &str) -> W {
        W {
            text: s.to_string(),
            ..self.clone()
        }
    }
}

/// The working directory commands resolve against.
#[derive(Clone, Debug)]
pub(crate) enum Cwd {
    /// The tool context's cwd (or first root).
    Ctx,
    /// An absolute directory.
    Abs(String),
    /// `~` or `~/…`.
    Home(String),
    /// Changed to something not known here (`cd "$X"`): relative paths stay unresolved.
    Unknown,
}

/// Shell state as the walk goes: what `cd`, assignments and `git remote add` changed, and
/// the attrs every action inherits from its wrappers (`sudo`, `ssh host`, `xargs`).
#[derive(Clone, Debug)]
pub(crate) struct Scope {
    pub cwd: Cwd,
    pub vars: BTreeMap<String, String>,
    pub remotes: BTreeMap<String, String>,
    pub attrs: BTreeMap<String, Value>,
    /// Scripts inside scripts.
    pub depth: usize,
    /// Syntactic nesting within one script.
    pub nest: usize,
}

impl Scope {
    fn new(cwd: Cwd) -> Scope {
        Scope {
            cwd,
            vars: BTreeMap::new(),
            remotes: BTreeMap::new(),
            attrs: BTreeMap::new(),
            depth: 0,
            nest: 0,
        }
    }

    /// A copy for a nested script, with extra inherited attrs.
    pub fn nested(&self, extra: &[(&str, Value)]) -> Scope {
        let mut s = self.clone();
        s.depth += 1;
        s.nest = 0;
        for (k, v) in extra {
            s.attrs.insert((*k).to_string(), v.clone());
        }
        s
    }

    pub fn with(&self, extra: &[(&str, Value)]) -> Scope {
        let mut s = self.clone();
        for (k, v) in extra {
            s.attrs.insert((*k).to_string(), v.clone());
        }
        s
    }
}

/// What feeds a command's standard input.
#[derive(Clone, Debug, Default)]
pub(crate) struct Io {
    /// Standard input is a pipe from another command.
    pub piped: bool,
    /// Paths the previous stage lists (`find ROOT | xargs rm` → ROOT).
    pub stdin_paths: Vec<String>,
    /// Literal text on standard input: a here-document, a here-string, `echo '…' |`.
    pub stdin_text: Option<String>,
}

/// What a pipeline stage tells the next one.
#[derive(Clone, Debug, Default)]
pub(crate) struct Stage {
    pub program: Option<String>,
    /// Paths whose names the stage prints (`find` roots, `grep -l` operands).
    pub lists: Vec<String>,
    /// Literal text the stage prints (`echo`/`printf` of literal words).
    pub prints: Option<String>,
}

/// The attrs of one simple command, given to each of its actions.
#[derive(Clone, Debug)]
pub(crate) struct Cmd {
    pub text: String,
    pub attrs: BTreeMap<String, Value>,
}

impl Cmd {
    pub fn new(text: String, scope: &Scope) -> Cmd {
        let mut attrs = scope.attrs.clone();
        attrs.insert("command".into(), Value::from(cap(&text, MAX_COMMAND_ATTR)));
        attrs.insert("shell".into(), Value::Bool(true));
        Cmd { text, attrs }
    }

    /// The same command seen through a wrapper (`sudo`, `xargs`): the scope's attrs again.
    pub fn under(&self, scope: &Scope) -> Cmd {
        Cmd::new(self.text.clone(), scope)
    }
}

pub(crate) struct Shell<'c> {
    pub ctx: &'c ToolContext<'c>,
    pub out: Vec<Action>,
    pub truncated: bool,
    unrolled: usize,
    /// While a compound command runs as a pipeline stage: what its commands print
    /// (`(crontab -l; echo '* * * * * job') | crontab -` feeds `crontab` that line).
    printed: Option<Vec<String>>,
}

impl<'c> Shell<'c> {
    fn new(ctx: &'c ToolContext<'c>) -> Self {
        Shell {
            ctx,
            out: Vec::new(),
            truncated: false,
            unrolled: 0,
            printed: None,
        }
    }

    fn finish(mut self) -> Vec<Action> {
        if self.truncated {
            for a in &mut self.out {
                a.attrs.insert("truncated".into(), Value::Bool(true));
            }
        }
        self.out
    }

    /// A top-level script of the tool call.
    fn top(&mut self, src: &str, scope: &mut Scope) {
        self.script(src, scope);
    }

    /// An argv array (no shell in between): one simple command.
    fn argv(&mut self, argv: &[W], scope: &mut Scope) {
        let text = argv
            .iter()
            .map(|w| w.text.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        let cmd = Cmd::new(text, scope);
        commands::analyze(self, argv, scope, &Io::default(), &cmd);
    }

    /// Parses and walks one script. Bounded: length, nesting, depth; never panics.
    pub fn script(&mut self, src: &str, scope: &mut Scope) {
        if scope.depth > MAX_DEPTH {
            self.truncated = true;
            return;
        }
        let src = if src.len() > MAX_INPUT {
            self.truncated = true;
            crate::head(src, MAX_INPUT)
        } else {
            src
        };
        if src.trim().is_empty() {
            return;
        }
        let blanked = controls::blank(src);
        let tildes = controls::escape_huge_tildes(&blanked);
        let split = fd::split_oversized(&tildes);
        // Trailing whitespace means nothing to bash, and after a `<<` (`<<\r\t`) it made the
        // parser allocate without bound (found by fuzzing).
        let src: &str = split.trim_end();
        let nesting = nesting_estimate(src);
        if nesting > MAX_NESTING {
            self.parse_failed(src, "nested too deeply", scope);
            return;
        }
        if controls::missing_heredoc_delimiter(src) {
            self.parse_failed(src, "a heredoc with an empty or missing delimiter", scope);
            return;
        }
        if parens::longest_open_run(src) > parens::MAX_OPEN_RUN {
            self.parse_failed(src, "too many `(` in a row", scope);
            return;
        }
        if parens::unclosed(src) > parens::MAX_UNCLOSED {
            self.parse_failed(src, "too many `(` left open", scope);
            return;
        }
        // The parser recurses once per nesting level: give it a stack sized for the input.
        let stack = 256 * 1024 + 32 * 1024 * nesting;
        let before = self.out.len();
        let outcome = stacker::maybe_grow(stack, stack, || {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.parse_and_walk(src, scope)
            }))
        });
        if outcome.is_err() {
            self.out.truncate(before);
            self.parse_failed(src, "parser failure", scope);
        }
    }

    fn parse_and_walk(&mut self, src: &str, scope: &mut Scope) {
        match parse(src) {
            Ok(program) => self.program(&program, scope),
            Err(e) => {
                // Bash runs the complete lines before a syntax error: walk the longest
                // prefix that parses (trying a few line boundaries), flag the rest.
                let mut cut = src.len();
                for _ in 0..8 {
                    let Some(nl) = src[..cut].trim_end_matches('\n').rfind('\n') else {
                        break;
                    };
                    cut = nl;
                    if let Ok(program) = parse(&src[..cut]) {
                        self.program(&program, scope);
                        self.parse_failed(&src[cut + 1..], &e, scope);
                        return;
                    }
                }
                self.parse_failed(src, &e, scope);
            }
        }
    }

    /// One `proc.exec` of the first word, flagged.
    fn parse_failed(&mut self, src: &str, error: &str, scope: &Scope) {
        let first = src
            .split_whitespace()
            .find(|w| !is_assignment(w))
            .unwrap_or("sh");
        let mut a = Action::new(ActionKind::ProcExec, cap(first, 256));
        a.attrs
            .insert("parse_error".into(), Value::from(cap(error, 256)));
        let cmd = Cmd::new(src.to_string(), scope);
        self.emit(&cmd, a);
    }

    // ---- the syntax tree ----------------------------------------------------------------

    fn program(&mut self, p: &ast::Program, scope: &mut Scope) {
        for list in &p.complete_commands {
            self.list(list, scope);
        }
    }

    fn list(&mut self, l: &ast::CompoundList, scope: &mut Scope) {
        for item in &l.0 {
            if matches!(item.1, ast::SeparatorOperator::Async) {
                // A background job runs in a subshell: its `cd` does not stick.
                let mut bg = scope.with(&[("background", Value::Bool(true))]);
                self.and_or(&item.0, &mut bg);
            } else {
                self.and_or(&item.0, scope);
            }
        }
    }

    fn and_or(&mut self, l: &ast::AndOrList, scope: &mut Scope) {
        self.pipeline(&l.first, scope);
        for next in &l.additional {
            match next {
                ast::AndOr::And(p) | ast::AndOr::Or(p) => self.pipeline(p, scope),
            }
        }
    }

    fn pipeline(&mut self, p: &ast::Pipeline, scope: &mut Scope) {
        if p.seq.len() == 1 {
            self.command(&p.seq[0], scope, &Io::default());
            return;
        }
        // Each stage runs in its own subshell; the next one reads what it prints.
        let mut ranges = Vec::with_capacity(p.seq.len());
        let mut programs = Vec::with_capacity(p.seq.len());
        let mut prev: Option<Stage> = None;
        for c in &p.seq {
            let io = match &prev {
                None => Io::default(),
                Some(st) => Io {
                    piped: true,
                    stdin_paths: st.lists.clone(),
                    stdin_text: st.prints.clone(),
                },
            };
            let start = self.out.len();
            let mut s = scope.clone();
            let st = self.command(c, &mut s, &io);
            ranges.push(start..self.out.len());
            programs.push(st.program.clone());
            prev = Some(st);
        }
        for (i, range) in ranges.iter().enumerate() {
            for a in &mut self.out[range.clone()] {
                if let Some(Some(p)) = i.checked_sub(1).map(|j| &programs[j]) {
                    a.attrs
                        .entry("piped_from".into())
                        .or_insert_with(|| Value::from(p.as_str()));
                }
                if let Some(Some(p)) = programs.get(i + 1) {
                    a.attrs
                        .entry("piped_to".into())
                        .or_insert_with(|| Value::from(p.as_str()));
                }
            }
        }
    }

    fn command(&mut self, c: &ast::Command, scope: &mut Scope, io: &Io) -> Stage {
        if scope.nest > MAX_NESTING {
            self.truncated = true;
            return Stage::default();
        }
        scope.nest += 1;
        let st = match c {
            ast::Command::Simple(sc) => {
                let st = self.simple(sc, scope, io);
                if let (Some(printed), Some(p)) = (self.printed.as_mut(), &st.prints) {
                    printed.push(p.clone());
                }
                st
            }
            ast::Command::Compound(cc, redirects) => {
                let outer = self.printed.replace(Vec::new());
                self.compound(cc, scope, io);
                if let Some(r) = redirects {
                    self.redirects(&r.0, scope);
                }
                let printed = std::mem::replace(&mut self.printed, outer).unwrap_or_default();
                if let (Some(o), false) = (self.printed.as_mut(), printed.is_empty()) {
                    o.extend(printed.iter().cloned());
                }
                Stage {
                    prints: (!printed.is_empty()).then(|| printed.join("\n")),
                    ..Stage::default()
                }
            }
            ast::Command::Function(f) => {
                // Defining is not running, but a function defined in a tool call is there
                // to be called: its body's actions are the call's actions.
                let mut s = scope.with(&[("function", Value::from(f.fname.value.as_str()))]);
                self.compound(&f.body.0, &mut s, io);
                if let Some(r) = &f.body.1 {
                    self.redirects(&r.0, &mut s);
                }
                Stage::default()
            }
            ast::Command::ExtendedTest(t, redirects) => {
                self.test_expr(&t.expr, scope);
                if let Some(r) = redirects {
                    self.redirects(&r.0, scope);
                }
                Stage::default()
            }
        };
        scope.nest -= 1;
        st
    }

    fn compound(&mut self, c: &ast::CompoundCommand, scope: &mut Scope, io: &Io) {
        use ast::CompoundCommand as C;
        match c {
            C::BraceGroup(g) => self.list(&g.list, scope),
            C::Subshell(s) => self.list(&s.list, &mut scope.clone()),
            C::ForClause(f) => {
                let mut values = Vec::new();
                let mut literal = true;
                for w in f.values.iter().flatten() {
                    let w = self.word(&w.value, scope);
                    literal &= !w.dynamic && !w.glob;
                    values.push(w.text);
                }
                let n = values.len();
                if literal && n > 0 && n <= 16 && self.unrolled + n <= MAX_UNROLL {
                    self.unrolled += n;
                    for v in values {
                        scope.vars.insert(f.variable_name.clone(), v);
                        self.list(&f.body.list, scope);
                    }
                } else {
                    scope.vars.remove(&f.variable_name);
                    self.list(&f.body.list, scope);
                }
            }
            C::ArithmeticForClause(f) => self.list(&f.body.list, scope),
            C::CaseClause(c) => {
                self.word(&c.value.value, scope);
                for item in &c.cases {
                    if let Some(l) = &item.cmd {
                        self.list(l, scope);
                    }
                }
            }
            C::IfClause(i) => {
                self.list(&i.condition, scope);
                self.list(&i.then, scope);
                for e in i.elses.iter().flatten() {
                    if let Some(cond) = &e.condition {
                        self.list(cond, scope);
                    }
                    self.list(&e.body, scope);
                }
            }
            C::WhileClause(w) | C::UntilClause(w) => {
                self.list(&w.0, scope);
                self.list(&w.1.list, scope);
            }
            C::Coprocess(c) => {
                self.command(&c.body, &mut scope.clone(), io);
            }
            C::Arithmetic(_) => {}
        }
    }

    fn test_expr(&mut self, e: &ast::ExtendedTestExpr, scope: &mut Scope) {
        use ast::ExtendedTestExpr as T;
        match e {
            T::And(a, b) | T::Or(a, b) => {
                self.test_expr(a, scope);
                self.test_expr(b, scope);
            }
            T::Not(a) | T::Parenthesized(a) => self.test_expr(a, scope),
            T::UnaryTest(_, w) => {
                self.word(&w.value, scope);
            }
            T::BinaryTest(_, a, b) => {
                self.word(&a.value, scope);
                self.word(&b.value, scope);
            }
        }
    }

    fn simple(&mut self, sc: &ast::SimpleCommand, scope: &mut Scope, io: &Io) -> Stage {
        use ast::CommandPrefixOrSuffixItem as I;
        let mut subs = Vec::new();
        let mut words: Vec<W> = Vec::new();
        let mut assigns: Vec<(String, W)> = Vec::new();
        let mut redirects: Vec<&ast::IoRedirect> = Vec::new();
        let mut procsubs: Vec<&ast::SubshellCommand> = Vec::new();
        enum Item<'a> {
            Part(&'a I, bool),
            Name(&'a ast::Word),
        }
        let items = sc
            .prefix
            .iter()
            .flat_map(|p| p.0.iter())
            .map(|i| Item::Part(i, true))
            .chain(sc.word_or_name.iter().map(Item::Name))
            .chain(
                sc.suffix
                    .iter()
                    .flat_map(|s| s.0.iter())
                    .map(|i| Item::Part(i, false)),
            );
        for item in items {
            let (item, in_prefix) = match item {
                Item::Name(w) => {
                    words.push(self.expand(&w.value, scope, &mut subs, 0));
                    continue;
                }
                Item::Part(i, p) => (i, p),
            };
            match item {
                I::IoRedirect(r) => redirects.push(r),
                I::Word(w) => words.push(self.expand(&w.value, scope, &mut subs, 0)),
                I::AssignmentWord(a, w) if in_prefix => {
                    let value = match &a.value {
                        ast::AssignmentValue::Scalar(v) => {
                            self.expand(&v.value, scope, &mut subs, 0)
                        }
                        ast::AssignmentValue::Array(items) => {
                            for (k, v) in items {
                                if let Some(k) = k {
                                    self.expand(&k.value, scope, &mut subs, 0);
                                }
                                self.expand(&v.value, scope, &mut subs, 0);
                            }
                            W {
                                text: w.value.clone(),
                                dynamic: true,
                                glob: false,
                            }
                        }
                    };
                    let name = match &a.name {
                        ast::AssignmentName::VariableName(n) => n.clone(),
                        ast::AssignmentName::ArrayElementName(n, _) => n.clone(),
                    };
                    assigns.push((name, value));
                }
                // `export A=b`, `local A=b`: a word for the builtin.
                I::AssignmentWord(_, w) => words.push(self.expand(&w.value, scope, &mut subs, 0)),
                I::ProcessSubstitution(_, s) => procsubs.push(s),
            }
        }
        // Substitutions run before the command.
        self.substitutions(subs, scope);
        for s in procsubs {
            self.list(&s.list, &mut scope.clone());
        }
        let cmd = Cmd::new(simple_text(sc), scope);
        for (name, value) in &assigns {
            commands::assignment(self, name, value, &cmd);
            if words.is_empty() {
                if value.dynamic {
                    scope.vars.remove(name);
                } else {
                    scope.vars.insert(name.clone(), value.text.clone());
                }
            }
        }
        let mut io = io.clone();
        for r in &redirects {
            match r {
                ast::IoRedirect::HereDocument(_, doc) => {
                    let text = if doc.requires_expansion {
                        let mut subs = Vec::new();
                        let w = self.heredoc(&doc.doc.value, scope, &mut subs);
                        self.substitutions(subs, scope);
                        w
                    } else {
                        doc.doc.value.clone()
                    };
                    io.stdin_text = Some(text);
                }
                ast::IoRedirect::HereString(_, w) => {
                    let w = self.word(&w.value, scope);
                    io.stdin_text = Some(w.text);
                }
                _ => {}
            }
        }
        let st = if words.is_empty() {
            Stage::default()
        } else {
            commands::analyze(self, &words, scope, &io, &cmd)
        };
        // `> f`, `: > f`, `true > f`, `cat /dev/null > f`: truncation to nothing.
        let empties = words.is_empty()
            || matches!(words[0].text.as_str(), ":" | "true")
            || (words.len() == 2 && words[0].text == "cat" && words[1].text == "/dev/null");
        for r in redirects {
            self.redirect(r, scope, &cmd, empties);
        }
        st
    }

    fn redirects(&mut self, rs: &[ast::IoRedirect], scope: &mut Scope) {
        for r in rs {
            let cmd = Cmd::new(r.to_string(), scope);
            self.redirect(r, scope, &cmd, false);
        }
    }

    fn redirect(&mut self, r: &ast::IoRedirect, scope: &mut Scope, cmd: &Cmd, empties: bool) {
        use ast::IoFileRedirectKind as K;
        use ast::IoFileRedirectTarget as T;
        match r {
            ast::IoRedirect::File(_, kind, target) => match target {
                T::Filename(w) | T::Duplicate(w) => {
                    let w = self.word(&w.value, scope);
                    if matches!(target, T::Duplicate(_))
                        && (w.text == "-" || w.text.chars().all(|c| c.is_ascii_digit()))
                    {
                        return;
                    }
                    match kind {
                        K::Read | K::DuplicateInput => self.read(cmd, &w, scope),
                        K::Append => {
                            self.write(cmd, &w, scope, true, &[("redirect", Value::from(">>"))])
                        }
                        K::Write | K::Clobber | K::DuplicateOutput if empties => {
                            self.truncate_to_nothing(cmd, &w, scope)
                        }
                        K::Write | K::Clobber | K::DuplicateOutput => {
                            self.write(cmd, &w, scope, false, &[("redirect", Value::from(">"))])
                        }
                        K::ReadAndWrite => {
                            self.write(cmd, &w, scope, false, &[("redirect", Value::from("<>"))])
                        }
                    }
                }
                T::Fd(_) => {}
                T::ProcessSubstitution(_, s) => self.list(&s.list, &mut scope.clone()),
            },
            ast::IoRedirect::OutputAndError(w, append) => {
                let w = self.word(&w.value, scope);
                if empties && !append {
                    self.truncate_to_nothing(cmd, &w, scope);
                } else {
                    let op = if *append { "&>>" } else { "&>" };
                    self.write(cmd, &w, scope, *append, &[("redirect", Value::from(op))]);
                }
            }
            // Standard input of the command: read by `simple` before the command runs.
            ast::IoRedirect::HereDocument(..) | ast::IoRedirect::HereString(..) => {}
        }
    }

    /// Scripts of command substitutions, each in a subshell.
    fn substitutions(&mut self, subs: Vec<String>, scope: &Scope) {
        for s in subs {
            let mut inner = scope.nested(&[]);
            self.script(&s, &mut inner);
        }
    }

    // ---- words ----------------------------------------------------------------------------

    /// Expands a word and walks the substitutions in it.
    pub fn word(&mut self, raw: &str, scope: &Scope) -> W {
        let mut subs = Vec::new();
        let w = self.expand(raw, scope, &mut subs, 0);
        self.substitutions(subs, scope);
        w
    }

    /// Expands a word: quotes removed, known variables substituted (`$HOME` → `~`),
    /// unknown expansions kept as written and flagged; command substitutions collected.
    fn expand(&mut self, raw: &str, scope: &Scope, subs: &mut Vec<String>, level: usize) -> W {
        if !raw.contains(['\'', '"', '\\', '$', '`', '~']) {
            return W {
                text: raw.to_string(),
                dynamic: false,
                glob: raw.contains(['*', '?', '[']),
            };
        }
        if parens::word_openers(raw) > parens::MAX_WORD_OPENERS {
            // Not expanded: kept as written, dynamic, and the call's actions marked cut.
            self.truncated = true;
            return W {
                text: raw.to_string(),
                dynamic: true,
                glob: false,
            };
        }
        let opts = brush_parser::ParserOptions::default();
        match brush_parser::word::parse(raw, &opts) {
            Ok(pieces) => {
                let mut w = W::default();
                self.pieces(&pieces, false, scope, subs, &mut w, level);
                w
            }
            Err(_) => W {
                text: brush_parser::unquote_str(raw),
                dynamic: raw.contains(['$', '`']),
                glob: false,
            },
        }
    }

    fn heredoc(&mut self, body: &str, scope: &Scope, subs: &mut Vec<String>) -> String {
        let opts = brush_parser::ParserOptions::default();
        match brush_parser::word::parse_heredoc(body, &opts) {
            Ok(pieces) => {
                let mut w = W::default();
                self.pieces(&pieces, true, scope, subs, &mut w, 0);
                w.text
            }
            Err(_) => body.to_string(),
        }
    }

    fn pieces(
        &mut self,
        pieces: &[WordPieceWithSource],
        quoted: bool,
        scope: &Scope,
        subs: &mut Vec<String>,
        w: &mut W,
        level: usize,
    ) {
        for p in pieces {
            match &p.piece {
                WordPiece::Text(s) => {
                    if !quoted && s.contains(['*', '?', '[']) {
                        w.glob = true;
                    }
                    w.text.push_str(s);
                }
                WordPiece::SingleQuotedText(s) => w.text.push_str(s),
                WordPiece::AnsiCQuotedText(s) => w.text.push_str(&ansi_c(s)),
                WordPiece::DoubleQuotedSequence(inner)
                | WordPiece::GettextDoubleQuotedSequence(inner) => {
                    self.pieces(inner, true, scope, subs, w, level)
                }
                WordPiece::TildeExpansion(t) => match t {
                    TildeExpr::Home => w.text.push('~'),
                    TildeExpr::UserHome(u) => {
                        w.text.push('~');
                        w.text.push_str(u);
                    }
                    _ => {
                        w.text.push('~');
                        w.dynamic = true;
                    }
                },
                WordPiece::ParameterExpansion(e) => self.parameter(e, scope, subs, w, level),
                WordPiece::CommandSubstitution(s) => {
                    subs.push(s.clone());
                    w.text.push_str("$(");
                    w.text.push_str(s);
                    w.text.push(')');
                    w.dynamic = true;
                }
                WordPiece::BackquotedCommandSubstitution(s) => {
                    subs.push(s.clone());
                    w.text.push('`');
                    w.text.push_str(s);
                    w.text.push('`');
                    w.dynamic = true;
                }
                WordPiece::EscapeSequence(s) => {
                    let rest = s.strip_prefix('\\').unwrap_or(s);
                    if rest != "\n" {
                        w.text.push_str(rest);
                    }
                }
                WordPiece::ArithmeticExpression(e) => {
                    w.text.push_str("$((");
                    w.text.push_str(&e.value);
                    w.text.push_str("))");
                    w.dynamic = true;
                }
            }
        }
    }

    fn parameter(
        &mut self,
        e: &ParameterExpr,
        scope: &Scope,
        subs: &mut Vec<String>,
        w: &mut W,
        level: usize,
    ) {
        use brush_parser::word::Parameter as P;
        let (param, default) = match e {
            ParameterExpr::Parameter {
                parameter,
                indirect: false,
            } => (parameter, None),
            ParameterExpr::UseDefaultValues {
                parameter,
                indirect: false,
                default_value,
                ..
            }
            | ParameterExpr::AssignDefaultValues {
                parameter,
                indirect: false,
                default_value,
                ..
            } => (parameter, default_value.as_deref()),
            _ => {
                w.text.push_str("${…}");
                w.dynamic = true;
                return;
            }
        };
        let name = match param {
            P::Named(n) => Some(n.as_str()),
            _ => None,
        };
        match name {
            Some("HOME") => w.text.push('~'),
            Some(n) if scope.vars.contains_key(n) => w.text.push_str(&scope.vars[n]),
            _ => match default {
                // `${REMOTE:-deploy@host}`: the default is the best guess of the value.
                Some(d) if level < 4 => {
                    let inner = self.expand(d, scope, subs, level + 1);
                    w.text.push_str(&inner.text);
                    w.dynamic = true;
                    w.glob |= inner.glob;
                }
                _ => {
                    w.text.push_str(&param.to_string());
                    w.dynamic = true;
                }
            },
        }
    }

    // ---- paths ----------------------------------------------------------------------------

    /// Resolves a path word against the scope's working directory.
    pub fn resolve(&self, w: &W, scope: &Scope) -> Resolved {
        let raw = w.text.as_str();
        if raw == STDIN || raw.starts_with('$') || raw.starts_with('`') {
            return Resolved {
                path: raw.to_string(),
                home_relative: false,
                unresolved: raw != STDIN,
            };
        }
        let absolute = raw.starts_with('/')
            || raw == "~"
            || raw.starts_with("~/")
            || raw
                .get(..7)
                .is_some_and(|p| p.eq_ignore_ascii_case("file://"));
        if absolute {
            return path::resolve(raw, self.ctx);
        }
        match &scope.cwd {
            Cwd::Ctx => path::resolve(raw, self.ctx),
            Cwd::Abs(dir) => path::resolve(
                raw,
                &ToolContext {
                    cwd: Some(Path::new(dir)),
                    roots: &[],
                },
            ),
            Cwd::Home(dir) => {
                let joined = path::lexical(&format!(
                    "{}/{raw}",
                    dir.trim_start_matches('~').trim_start_matches('/')
                ));
                let path = if joined == "." {
                    "~".to_string()
                } else {
                    format!("~/{joined}")
                };
                Resolved {
                    path: path.replace("~/..", "~").replace("/./", "/"),
                    home_relative: true,
                    unresolved: false,
                }
            }
            Cwd::Unknown => path::resolve(
                raw,
                &ToolContext {
                    cwd: None,
                    roots: &[],
                },
            ),
        }
    }

    /// The working directory `cd DIR` leads to.
    pub fn cwd_of(&self, dir: &str, scope: &Scope) -> Cwd {
        if dir.is_empty() || dir.contains(['$', '`']) || dir == "-" {
            return Cwd::Unknown;
        }
        let r = self.resolve(&W::lit(dir), scope);
        if r.unresolved {
            Cwd::Unknown
        } else if r.home_relative {
            Cwd::Home(r.path)
        } else {
            Cwd::Abs(r.path)
        }
    }

    // ---- emitting -------------------------------------------------------------------------

    /// Adds one action with the command's attrs (the action's own attrs win).
    pub fn emit(&mut self, cmd: &Cmd, mut a: Action) {
        if self.out.len() >= MAX_ACTIONS {
            self.truncated = true;
            return;
        }
        for (k, v) in &cmd.attrs {
            a.attrs.entry(k.clone()).or_insert_with(|| v.clone());
        }
        self.out.push(a);
    }

    /// An action on a path word: resolved and flagged. `None` for special files
    /// (`/dev/null`, `-` …), which are not files anyone keeps.
    pub fn path_action(&self, kind: ActionKind, w: &W, scope: &Scope) -> Option<Action> {
        if w.text == "-" || w.text.is_empty() {
            return None;
        }
        let r = self.resolve(w, scope);
        if is_special(&r.path) {
            return None;
        }
        Some(flagged(Action::new(kind, r.path.clone()), &r, w))
    }

    /// `file.read`, and `cred.access` when the file holds credentials.
    pub fn read(&mut self, cmd: &Cmd, w: &W, scope: &Scope) {
        if let Some(target) = tcp_device(&w.text) {
            self.egress_host(cmd, &target, &[]);
            return;
        }
        if let Some(a) = self.path_action(ActionKind::FileRead, w, scope) {
            let cred = classify::credential(&a.target);
            let target = a.target.clone();
            let flags = a.attrs.clone();
            self.emit(cmd, a);
            if let Some(what) = cred {
                self.cred(cmd, &target, what, flags);
            }
        }
    }

    /// `cred.access` of a path.
    pub fn cred(
        &mut self,
        cmd: &Cmd,
        target: &str,
        what: &str,
        mut attrs: BTreeMap<String, Value>,
    ) {
        attrs.insert("credential".into(), Value::from(what));
        let mut a = Action::new(ActionKind::CredAccess, target);
        a.attrs = attrs;
        self.emit(cmd, a);
    }

    /// `file.write`, plus what writing that path means (sudoers → `perm.grant` …).
    pub fn write(
        &mut self,
        cmd: &Cmd,
        w: &W,
        scope: &Scope,
        append: bool,
        extra: &[(&str, Value)],
    ) {
        if let Some(target) = tcp_device(&w.text) {
            self.egress_host(cmd, &target, &[("uploads", Value::Bool(true))]);
            return;
        }
        let Some(mut a) = self.path_action(ActionKind::FileWrite, w, scope) else {
            return;
        };
        if append {
            a.attrs.insert("append".into(), Value::Bool(true));
        }
        for (k, v) in extra {
            a.attrs.insert((*k).to_string(), v.clone());
        }
        let target = a.target.clone();
        let flags = a.attrs.clone();
        self.emit(cmd, a);
        self.write_effect(cmd, &target, append, flags);
    }

    pub fn write_effect(
        &mut self,
        cmd: &Cmd,
        target: &str,
        append: bool,
        mut attrs: BTreeMap<String, Value>,
    ) {
        if let Some((kind, what)) = classify::write_effect(target, append) {
            attrs.insert("what".into(), Value::from(what));
            let mut a = Action::new(kind, target);
            a.attrs = attrs;
            self.emit(cmd, a);
        }
    }

    /// `> f` and friends: the file is emptied (a write of nothing).
    fn truncate_to_nothing(&mut self, cmd: &Cmd, w: &W, scope: &Scope) {
        if tcp_device(&w.text).is_some() {
            return self.write(cmd, w, scope, false, &[]);
        }
        self.write(
            cmd,
            w,
            scope,
            false,
            &[
                ("redirect", Value::from(">")),
                ("truncate", Value::Bool(true)),
            ],
        );
    }

    /// `file.delete`, plus `monitor.tamper` for logs and history.
    pub fn delete(&mut self, cmd: &Cmd, w: &W, scope: &Scope, extra: &[(&str, Value)]) {
        let Some(mut a) = self.path_action(ActionKind::FileDelete, w, scope) else {
            return;
        };
        for (k, v) in extra {
            a.attrs.insert((*k).to_string(), v.clone());
        }
        let target = a.target.clone();
        let flags = a.attrs.clone();
        self.emit(cmd, a);
        self.delete_effect(cmd, &target, flags);
    }

    pub fn delete_effect(&mut self, cmd: &Cmd, target: &str, mut attrs: BTreeMap<String, Value>) {
        if let Some((kind, what)) = classify::delete_effect(target) {
            attrs.insert("what".into(), Value::from(what));
            let mut a = Action::new(kind, target);
            a.attrs = attrs;
            self.emit(cmd, a);
        }
    }

    /// An action with no path: a setting, a service, a process, a host.
    pub fn other(&mut self, cmd: &Cmd, kind: ActionKind, target: &str, extra: &[(&str, Value)]) {
        let mut a = Action::new(kind, if target.is_empty() { "?" } else { target });
        for (k, v) in extra {
            a.attrs.insert((*k).to_string(), v.clone());
        }
        self.emit(cmd, a);
    }

    /// `net.egress` to a host (`host`, `host:port`): target and dest are the host.
    pub fn egress_host(&mut self, cmd: &Cmd, host: &str, extra: &[(&str, Value)]) {
        let mut a = Action::new(ActionKind::NetEgress, host).with_dest(host.to_ascii_lowercase());
        for (k, v) in extra {
            a.attrs.insert((*k).to_string(), v.clone());
        }
        self.emit(cmd, a);
    }
}

fn flagged(mut a: Action, r: &Resolved, w: &W) -> Action {
    if r.home_relative {
        a.attrs.insert("home_relative".into(), Value::Bool(true));
    }
    if r.unresolved {
        a.attrs.insert("unresolved".into(), Value::Bool(true));
    }
    if w.glob {
        a.attrs.insert("glob".into(), Value::Bool(true));
    }
    a
}

/// Tokenizes and parses a script.
fn parse(src: &str) -> Result<ast::Program, String> {
    let opts = brush_parser::ParserOptions::default();
    let tokens = brush_parser::uncached_tokenize_str(src, &opts.tokenizer_options())
        .map_err(|e| e.to_string())?;
    brush_parser::parse_tokens(&tokens, &opts).map_err(|e| e.to_string())
}

/// An upper bound on how deeply the parser will recurse: the deepest nesting of brackets
/// and compound-command keywords, plus standalone `!` and backquotes (which nest without
/// closing brackets). Counts quoted text too, so it overestimates, never under.
fn nesting_estimate(src: &str) -> usize {
    let mut depth: usize = 0;
    let mut max: usize = 0;
    let mut extra: usize = 0;
    let bytes = src.as_bytes();
    let mut word_start = None;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'(' | b'{' => {
                depth += 1;
                max = max.max(depth + extra);
            }
            b')' | b'}' => depth = depth.saturating_sub(1),
            b'`' => {
                extra += 1;
                max = max.max(depth + extra);
            }
            b'!' => {
                let before = i == 0 || bytes[i - 1].is_ascii_whitespace();
                let after = bytes.get(i + 1).is_none_or(|c| c.is_ascii_whitespace());
                if before && after {
                    extra += 1;
                    max = max.max(depth + extra);
                }
            }
            _ => {}
        }
        let is_word = b.is_ascii_alphabetic();
        match (is_word, word_start) {
            (true, None) => word_start = Some(i),
            (false, Some(s)) => {
                match &src[s..i] {
                    "if" | "case" | "while" | "until" | "for" | "select" | "function" | "elif"
                    | "coproc" => {
                        depth += 1;
                        max = max.max(depth + extra);
                    }
                    "fi" | "esac" | "done" => depth = depth.saturating_sub(1),
                    _ => {}
                }
                word_start = None;
            }
            _ => {}
        }
    }
    max
}

/// The text of a simple command as written (normalized spacing).
fn simple_text(sc: &ast::SimpleCommand) -> String {
    sc.to_string()
}

/// `/dev/tcp/HOST/PORT` (bash's network redirection) → `HOST:PORT`.
pub(crate) fn tcp_device(p: &str) -> Option<String> {
    let rest = p
        .strip_prefix("/dev/tcp/")
        .or_else(|| p.strip_prefix("/dev/udp/"))?;
    let (host, port) = rest.split_once('/')?;
    (!host.is_empty()).then(|| format!("{host}:{port}"))
}

/// Files that are not files anyone keeps: writing or reading them is not a file action.
fn is_special(p: &str) -> bool {
    matches!(
        p,
        "/dev/null"
            | "/dev/zero"
            | "/dev/stdout"
            | "/dev/stderr"
            | "/dev/stdin"
            | "/dev/tty"
            | "/dev/random"
            | "/dev/urandom"
    ) || p.starts_with("/dev/fd/")
        || p.starts_with("/proc/self/fd/")
}

pub(crate) fn is_assignment(word: &str) -> bool {
    match word.split_once('=') {
        Some((name, _)) => {
            !name.is_empty()
                && !name.starts_with(|c: char| c.is_ascii_digit())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        }
        None => false,
    }
}

/// `$'…'` escapes.
fn ansi_c(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('0') => {}
            Some('e' | 'E') => out.push('\u{1b}'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// At most `max` characters.
pub(crate) fn cap(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_estimates_bound_depth() {
        assert_eq!(nesting_estimate("echo hi"), 0);
        assert_eq!(nesting_estimate("(a; (b)) && { c; }"), 2);
        assert_eq!(nesting_estimate("if a; then if b; then c; fi; fi"), 2);
        assert_eq!(nesting_estimate("if a; then b; fi; if c; then d; fi"), 1);
        assert_eq!(nesting_estimate(&"(".repeat(500)), 500);
        assert_eq!(nesting_estimate("[[ ! ! x ]] != y"), 2);
    }

    #[test]
    fn tcp_devices() {
        assert_eq!(
            tcp_device("/dev/tcp/1.2.3.4/80").as_deref(),
            Some("1.2.3.4:80")
        );
        assert_eq!(tcp_device("/dev/tcp/"), None);
        assert_eq!(tcp_device("/tmp/x"), None);
    }
}
