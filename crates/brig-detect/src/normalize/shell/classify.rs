//! What a path means beyond "a file": credentials, privilege, persistence, monitoring,
//! network configuration. Purely textual, on resolved targets (absolute, or `~/…`).

use brig_model::ActionKind;

/// The credential a read of `path` exposes, if any (`aws`, `ssh_key`, `dotenv`, …).
pub(super) fn credential(path: &str) -> Option<&'static str> {
    let base = basename(path);
    let has_dir = |d: &str| path.contains(&format!("/{d}/")) || path.starts_with(&format!("{d}/"));
    if path.ends_with("/.aws/credentials") || path == "~/.aws/credentials" {
        return Some("aws");
    }
    let in_ssh = has_dir(".ssh") || has_dir("~/.ssh") || path.starts_with("~/.ssh/");
    let not_key = base.ends_with(".pub")
        || base.starts_with("known_hosts")
        || base.starts_with("authorized_keys")
        || base == "config"
        || base == ".ssh";
    if in_ssh && !not_key {
        return Some("ssh_key");
    }
    if [
        "id_rsa",
        "id_dsa",
        "id_ecdsa",
        "id_ed25519",
        "id_ecdsa_sk",
        "id_ed25519_sk",
    ]
    .contains(&base)
    {
        return Some("ssh_key");
    }
    let dotenv = base == ".env"
        || (base.starts_with(".env.") && !is_example(base))
        || (base.len() > 4 && base.ends_with(".env") && !is_example(&base[..base.len() - 4]));
    if dotenv {
        return Some("dotenv");
    }
    let exact: &[(&str, &str)] = &[
        (".netrc", "netrc"),
        ("_netrc", "netrc"),
        (".pgpass", "pgpass"),
        (".my.cnf", "mysql"),
        (".git-credentials", "git"),
        (".npmrc", "npm"),
        (".pypirc", "pypi"),
        (".vault-token", "vault"),
        ("credentials.json", "credentials_file"),
        ("application_default_credentials.json", "gcloud"),
    ];
    if let Some((_, what)) = exact.iter().find(|(n, _)| *n == base) {
        return Some(what);
    }
    if path.ends_with("/.kube/config") || path == "~/.kube/config" {
        return Some("kubeconfig");
    }
    if path.ends_with("/.docker/config.json") || path == "~/.docker/config.json" {
        return Some("docker");
    }
    if has_dir("gcloud")
        && (path.contains("/.config/gcloud/") || path.starts_with("~/.config/gcloud/"))
    {
        return Some("gcloud");
    }
    if path.contains("/.azure/") || path.starts_with("~/.azure/") {
        return Some("azure");
    }
    if matches!(
        path,
        "/etc/shadow" | "/etc/shadow-" | "/etc/gshadow" | "/etc/gshadow-"
    ) || path.starts_with("/var/backups/shadow")
        || path.starts_with("/var/backups/gshadow")
        || (path.starts_with("/etc/") && base.starts_with("shadow."))
    {
        return Some("shadow");
    }
    if path.starts_with("/proc/") && base == "environ" {
        return Some("process_environment");
    }
    if path.starts_with("/var/run/secrets/") || path.starts_with("/run/secrets/") {
        return Some("mounted_secret");
    }
    if [".key", ".pem", ".p12", ".pfx", ".jks", ".keystore"]
        .iter()
        .any(|e| base.ends_with(e))
        && base.len() > 4
    {
        return Some("private_key");
    }
    None
}

fn is_example(base: &str) -> bool {
    ["example", "sample", "template", "dist", "defaults"]
        .iter()
        .any(|w| base.ends_with(w))
}

/// How a write to `path` changes the system beyond the file itself. `append` writes to logs
/// are logging, not tampering.
pub(super) fn write_effect(path: &str, append: bool) -> Option<(ActionKind, &'static str)> {
    let base = basename(path);
    if path == "/etc/sudoers"
        || path.starts_with("/etc/sudoers.d/")
        || path.starts_with("/etc/sudoers.")
    {
        return Some((ActionKind::PermGrant, "sudoers"));
    }
    if base == "authorized_keys" || base == "authorized_keys2" {
        return Some((ActionKind::PermGrant, "ssh_authorized_keys"));
    }
    if matches!(
        path,
        "/etc/passwd" | "/etc/shadow" | "/etc/group" | "/etc/gshadow"
    ) {
        return Some((ActionKind::PermGrant, "accounts"));
    }
    if path.starts_with("/etc/polkit-1/")
        || path.starts_with("/etc/security/")
        || path.starts_with("/etc/pam.d/")
    {
        return Some((ActionKind::PermGrant, "auth_config"));
    }
    if path.starts_with("/etc/cron")
        || path.starts_with("/var/spool/cron")
        || path == "/etc/anacrontab"
        || path.starts_with("/var/spool/at")
    {
        return Some((ActionKind::PersistSchedule, "cron"));
    }
    if is_systemd_unit(path) {
        return Some((ActionKind::PersistSchedule, "systemd_unit"));
    }
    if path.starts_with("/etc/init.d/")
        || path == "/etc/rc.local"
        || path.starts_with("/etc/profile.d/")
        || path == "/etc/profile"
        || path == "/etc/bash.bashrc"
        || path == "/etc/zsh/zshrc"
        || path == "/etc/environment"
        || path == "/etc/ld.so.preload"
        || path.starts_with("/etc/xdg/autostart/")
        || path.contains("/.config/autostart/")
        || path.starts_with("~/.config/autostart/")
        || path.contains("/LaunchAgents/")
        || path.contains("/LaunchDaemons/")
    {
        return Some((ActionKind::PersistSchedule, "startup"));
    }
    if SHELL_RC.contains(&base) {
        return Some((ActionKind::PersistSchedule, "shell_rc"));
    }
    if path.contains("/.git/hooks/") {
        return Some((ActionKind::PersistSchedule, "git_hook"));
    }
    if let Some(what) = monitoring_path(path) {
        if !append || what == "shell_history" {
            return Some((ActionKind::MonitorTamper, what));
        }
    }
    if matches!(
        path,
        "/etc/hosts" | "/etc/resolv.conf" | "/etc/nftables.conf"
    ) || path.starts_with("/etc/iptables/")
        || path.starts_with("/etc/ufw/")
        || path.starts_with("/etc/firewalld/")
        || path.starts_with("/etc/netplan/")
        || path.starts_with("/etc/network/")
    {
        return Some((ActionKind::NetConfig, "network_config"));
    }
    None
}

/// How deleting (or moving away) `path` changes the system beyond the file itself.
pub(super) fn delete_effect(path: &str) -> Option<(ActionKind, &'static str)> {
    if let Some(what) = monitoring_path(path) {
        return Some((ActionKind::MonitorTamper, what));
    }
    None
}

/// Logs, audit configuration and shell history: what monitoring reads.
fn monitoring_path(path: &str) -> Option<&'static str> {
    let base = basename(path);
    if path == "/var/log" || path.starts_with("/var/log/") {
        return Some("logs");
    }
    if path.starts_with("/etc/audit/")
        || path.starts_with("/etc/rsyslog")
        || path.starts_with("/etc/syslog")
        || path == "/etc/systemd/journald.conf"
        || path.starts_with("/etc/systemd/journald.conf.d/")
        || path.starts_with("/etc/falco/")
        || path.starts_with("/etc/osquery/")
    {
        return Some("audit_config");
    }
    if [
        ".bash_history",
        ".zsh_history",
        ".history",
        ".sh_history",
        ".python_history",
        ".psql_history",
        ".mysql_history",
        ".lesshst",
        ".viminfo",
    ]
    .contains(&base)
    {
        return Some("shell_history");
    }
    None
}

const SHELL_RC: &[&str] = &[
    ".bashrc",
    ".bash_profile",
    ".bash_login",
    ".bash_logout",
    ".profile",
    ".zshrc",
    ".zprofile",
    ".zshenv",
    ".zlogin",
    ".kshrc",
    ".cshrc",
    ".tcshrc",
];

fn is_systemd_unit(path: &str) -> bool {
    let in_dir = [
        "/etc/systemd/",
        "/lib/systemd/",
        "/usr/lib/systemd/",
        "/run/systemd/",
        "/usr/local/lib/systemd/",
    ]
    .iter()
    .any(|d| path.starts_with(d))
        || path.contains("/.config/systemd/")
        || path.starts_with("~/.config/systemd/")
        || path.contains("/.local/share/systemd/");
    in_dir
        && [
            ".service", ".timer", ".socket", ".path", ".target", ".mount", ".conf",
        ]
        .iter()
        .any(|e| path.ends_with(e))
        && !path.ends_with("/journald.conf")
}

/// Service or process names that are monitoring, logging, audit or oversight.
pub(super) fn is_monitoring_service(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    let words: Vec<&str> = n.split(|c: char| !c.is_ascii_alphanumeric()).collect();
    MONITORING_WORDS.iter().any(|w| n.contains(w))
        || MONITORING_NAMES.iter().any(|w| words.contains(w))
}

/// Found anywhere in a name.
const MONITORING_WORDS: &[&str] = &[
    "audit",
    "falco",
    "osquery",
    "wazuh",
    "ossec",
    "sysmon",
    "syslog",
    "journald",
    "filebeat",
    "metricbeat",
    "packetbeat",
    "heartbeat",
    "winlogbeat",
    "fluentd",
    "fluent-bit",
    "td-agent",
    "splunk",
    "falcon",
    "crowdstrike",
    "sentinelone",
    "datadog",
    "newrelic",
    "cloudwatch",
    "tripwire",
    "apparmor",
    "clamav",
    "tetragon",
    "tracee",
    "sysdig",
    "velociraptor",
    "watchdog",
    "monitor",
    "telemetry",
    "oversight",
];

/// Whole words of a name (split at non-alphanumerics).
const MONITORING_NAMES: &[&str] = &["aide", "edr", "clamd", "selinux", "siem", "otelcol"];

pub(super) fn basename(path: &str) -> &str {
    let p = path.trim_end_matches('/');
    p.rsplit('/').next().unwrap_or(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials() {
        for (p, what) in [
            ("~/.aws/credentials", "aws"),
            ("/root/.aws/credentials", "aws"),
            ("/home/a/.ssh/id_ed25519", "ssh_key"),
            ("~/.ssh/deploy_key", "ssh_key"),
            ("/srv/repo/.env", "dotenv"),
            ("/srv/repo/.env.production", "dotenv"),
            ("/etc/shadow", "shadow"),
            ("/var/backups/shadow.bak", "shadow"),
            ("/proc/123/environ", "process_environment"),
            ("~/.kube/config", "kubeconfig"),
            ("/home/x/.docker/config.json", "docker"),
            ("~/.config/gcloud/credentials.db", "gcloud"),
            ("/x/.git-credentials", "git"),
            ("/x/.pgpass", "pgpass"),
        ] {
            assert_eq!(credential(p), Some(what), "{p}");
        }
        for p in [
            "/srv/repo/.env.example",
            "~/.ssh/id_rsa.pub",
            "~/.ssh/known_hosts",
            "/etc/passwd",
            "/srv/a.py",
            "~/.ssh/authorized_keys",
        ] {
            assert_eq!(credential(p), None, "{p}");
        }
    }

    #[test]
    fn write_effects() {
        assert_eq!(
            write_effect("/etc/sudoers.d/x", false).unwrap().0,
            ActionKind::PermGrant
        );
        assert_eq!(
            write_effect("/root/.ssh/authorized_keys", true).unwrap().0,
            ActionKind::PermGrant
        );
        assert_eq!(
            write_effect("/etc/cron.d/job", false).unwrap().0,
            ActionKind::PersistSchedule
        );
        assert_eq!(
            write_effect("/etc/systemd/system/x.service", false)
                .unwrap()
                .0,
            ActionKind::PersistSchedule
        );
        assert_eq!(
            write_effect("~/.bashrc", true).unwrap().0,
            ActionKind::PersistSchedule
        );
        assert_eq!(
            write_effect("/var/log/auth.log", false).unwrap().0,
            ActionKind::MonitorTamper
        );
        assert_eq!(write_effect("/var/log/app.log", true), None);
        assert_eq!(
            write_effect("/etc/hosts", true).unwrap().0,
            ActionKind::NetConfig
        );
        assert_eq!(write_effect("/srv/repo/a.txt", false), None);
        assert!(is_monitoring_service("auditd"));
        assert!(is_monitoring_service("agent-watchdog.timer"));
        assert!(!is_monitoring_service("celery-worker@reports"));
    }
}
