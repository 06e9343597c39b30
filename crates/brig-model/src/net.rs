//! Hosts of normalized targets: the one reading of "which host does this URL reach" that
//! policy, detection and the risk register share.

/// The host of a host name, `host:port`, `user@host` or URL: no scheme, user, port or path;
/// IPv6 brackets and a trailing dot removed; lower-cased. (`https://u@Files.Example.com:8443/x`
/// → `files.example.com`, `http://[::1]:8080/` → `::1`.)
pub fn host_part(target: &str) -> String {
    let rest = target.trim();
    let rest = rest.split_once("://").map_or(rest, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = host.strip_prefix('[') {
        v6.split(']').next().unwrap_or(v6)
    } else {
        host.split(':').next().unwrap_or(host)
    };
    host.trim_end_matches('.').to_ascii_lowercase()
}

/// `user@` stripped, lower-cased `host[:port]` of a `scheme://` URL; `None` for anything
/// else (paths, addresses) and for `file://`, which names no host of the network.
pub fn url_authority(target: &str) -> Option<String> {
    let (scheme, rest) = target.split_once("://")?;
    if scheme.eq_ignore_ascii_case("file") {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    (!authority.is_empty()).then(|| authority.to_ascii_lowercase())
}

/// The host of a `scheme://` URL (see [`host_part`]); `None` for anything else.
pub fn url_host(target: &str) -> Option<String> {
    url_authority(target)
        .map(|a| host_part(&a))
        .filter(|h| !h.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        assert_eq!(
            host_part("https://user:pw@Registry.NPMJS.org:443/pkg?x=1"),
            "registry.npmjs.org"
        );
        assert_eq!(host_part("registry.npmjs.org"), "registry.npmjs.org");
        assert_eq!(host_part("http://[::1]:8080/x"), "::1");
        assert_eq!(
            url_authority("https://u:p@Example.COM:8443/a?b").as_deref(),
            Some("example.com:8443")
        );
        assert_eq!(
            url_host("https://u@Files.Example.com:8443/x").as_deref(),
            Some("files.example.com")
        );
        assert_eq!(url_host("file:///etc/passwd"), None);
        assert_eq!(url_host("/etc/passwd"), None);
        assert_eq!(url_host("https://"), None);
    }
}
