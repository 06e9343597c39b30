//! Path resolution for action targets: `file://` URLs, `~`, relative paths and lexical
//! normalization. Purely textual: the filesystem is never consulted (no symlinks resolved,
//! no existence checks), so the result is what the call *names*, not what it reaches.

use super::ToolContext;

/// A path argument turned into an action target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Resolved {
    pub path: String,
    /// `~` or `~/…`: kept as written, because the agent's home is not known here.
    pub home_relative: bool,
    /// Relative, and the context had neither a cwd nor a root to resolve it against.
    pub unresolved: bool,
}

/// Resolves one path argument against the context.
pub(crate) fn resolve(raw: &str, ctx: &ToolContext<'_>) -> Resolved {
    let decoded;
    let raw = match file_url_path(raw) {
        Some(FileUrl::Local(p)) => {
            decoded = p;
            decoded.as_str()
        }
        // file://host/share: not a local path; keep the URL so nothing is misattributed.
        Some(FileUrl::Remote) => return plain(raw.to_string()),
        None => raw,
    };
    if raw == "~" || raw.starts_with("~/") {
        return Resolved {
            path: raw.to_string(),
            home_relative: true,
            unresolved: false,
        };
    }
    if raw.starts_with('/') {
        return plain(lexical(raw));
    }
    let base = ctx.cwd.or_else(|| ctx.roots.first().map(|p| p.as_path()));
    match base {
        Some(base) => plain(lexical(&format!("{}/{}", base.to_string_lossy(), raw))),
        None => Resolved {
            path: lexical(raw),
            home_relative: false,
            unresolved: true,
        },
    }
}

fn plain(path: String) -> Resolved {
    Resolved {
        path,
        home_relative: false,
        unresolved: false,
    }
}

/// Lexical normalization: drops `.` and empty components (duplicate slashes, trailing
/// slash), folds `..` into its parent. `..` past `/` stays at `/`; a relative path keeps
/// leading `..` it cannot fold.
pub(crate) fn lexical(path: &str) -> String {
    let absolute = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for comp in path.split('/') {
        match comp {
            "" | "." => {}
            ".." => match parts.last() {
                Some(&last) if last != ".." => {
                    parts.pop();
                }
                _ if absolute => {}
                _ => parts.push(".."),
            },
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (absolute, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

enum FileUrl {
    Local(String),
    Remote,
}

/// `file:///p`, `file://localhost/p` → `/p` (percent-decoded); other hosts → `Remote`.
fn file_url_path(raw: &str) -> Option<FileUrl> {
    let scheme = raw.get(..7)?;
    if !scheme.eq_ignore_ascii_case("file://") {
        return None;
    }
    let rest = &raw[7..];
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if !host.is_empty() && !host.eq_ignore_ascii_case("localhost") {
        return Some(FileUrl::Remote);
    }
    // A query or fragment is not part of the path.
    let path = path.split(['?', '#']).next().unwrap_or("/");
    Some(FileUrl::Local(percent_decode(path)))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push(h * 16 + l);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Whether a string reads like a filesystem path rather than an address, URL or name:
/// absolute, `./`, `../`, `~`, `file://`, or containing a `/`, or a bare `name.ext`;
/// never when it has `://` (other than `file://`) or an `@` outside a path.
pub(crate) fn looks_like_path(s: &str) -> bool {
    let s = s.trim();
    if s.is_empty() {
        return false;
    }
    if s.starts_with('/')
        || s.starts_with("./")
        || s.starts_with("../")
        || s == "~"
        || s.starts_with("~/")
        || s.get(..7)
            .is_some_and(|p| p.eq_ignore_ascii_case("file://"))
    {
        return true;
    }
    if s.contains("://") || s.contains('@') || s.contains(char::is_whitespace) {
        return false;
    }
    s.contains('/') || s.contains('.')
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};

    fn ctx<'a>(cwd: Option<&'a Path>, roots: &'a [PathBuf]) -> ToolContext<'a> {
        ToolContext { cwd, roots }
    }

    #[test]
    fn lexical_folds_dots_and_slashes() {
        assert_eq!(lexical("/a//b/./c/"), "/a/b/c");
        assert_eq!(lexical("/a/b/../c"), "/a/c");
        assert_eq!(lexical("/../../etc"), "/etc");
        assert_eq!(lexical("/"), "/");
        assert_eq!(lexical("//"), "/");
        assert_eq!(lexical("a/../../b"), "../b");
        assert_eq!(lexical("a/.."), ".");
        assert_eq!(lexical("../../x"), "../../x");
    }

    #[test]
    fn file_urls_become_paths() {
        let c = ctx(None, &[]);
        assert_eq!(resolve("file:///etc/passwd", &c).path, "/etc/passwd");
        assert_eq!(resolve("FILE://localhost/a%20b/c", &c).path, "/a b/c");
        assert_eq!(resolve("file:///a/../b?x=1#y", &c).path, "/b");
        assert_eq!(resolve("file://", &c).path, "/");
        // Remote hosts are not local paths: kept as written.
        assert_eq!(
            resolve("file://server/share", &c).path,
            "file://server/share"
        );
        // Bad escapes are kept literally.
        assert_eq!(resolve("file:///a%zz%4", &c).path, "/a%zz%4");
    }

    #[test]
    fn home_is_flagged_not_expanded() {
        let cwd = PathBuf::from("/w");
        let c = ctx(Some(&cwd), &[]);
        let r = resolve("~/.ssh/id_rsa", &c);
        assert_eq!(r.path, "~/.ssh/id_rsa");
        assert!(r.home_relative);
        assert!(resolve("~", &c).home_relative);
        // `~bob` is an ordinary relative name for the filesystem server.
        assert_eq!(resolve("~bob", &c).path, "/w/~bob");
    }

    #[test]
    fn relative_without_base_is_flagged() {
        let r = resolve("a/./b", &ctx(None, &[]));
        assert_eq!(r.path, "a/b");
        assert!(r.unresolved);
    }

    #[test]
    fn path_heuristic() {
        for p in ["/x", "./x", "../x", "~", "~/x", "a/b", "a.txt", "file:///x"] {
            assert!(looks_like_path(p), "{p}");
        }
        for p in [
            "a@x.com",
            "https://x/y",
            "",
            "bob",
            "hello world.txt",
            "#general",
        ] {
            assert!(!looks_like_path(p), "{p}");
        }
    }
}
