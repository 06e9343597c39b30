//! The hunt for stealth copies and persistence, on real files in a temporary directory.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use brig_rollback::hunt::{self, Options, Place, Places};

/// Deterministic pseudo-random bytes (xorshift64*), different for each seed.
fn bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
        })
        .collect()
}

fn write(path: &Path, content: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

fn canon(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap()
}

/// A protected directory with a secret (100 KiB) and a small key file.
fn protected(tmp: &Path) -> (PathBuf, Vec<u8>, Vec<u8>) {
    let dir = tmp.join("protected");
    let secret = bytes(1, 100 * 1024);
    let key = bytes(2, 300);
    write(&dir.join("customers.csv"), &secret);
    write(&dir.join("keys/id_ed25519"), &key);
    (dir, secret, key)
}

fn tar_gz(path: &Path, members: &[(&str, &[u8])]) {
    let file = std::fs::File::create(path).unwrap();
    let gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    for (name, content) in members {
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, name, *content).unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap();
}

fn zip(path: &Path, members: &[(&str, &[u8])]) {
    let file = std::fs::File::create(path).unwrap();
    let mut zip = zip::ZipWriter::new(file);
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, content) in members {
        zip.start_file(*name, opts).unwrap();
        zip.write_all(content).unwrap();
    }
    zip.finish().unwrap();
}

#[test]
fn finds_plain_renamed_and_archived_copies() {
    let tmp = tempfile::tempdir().unwrap();
    let (prot, secret, key) = protected(tmp.path());
    let scan = tmp.path().join("home");
    write(&scan.join("work/customers.csv"), &secret); // plain copy, same name
    write(&scan.join(".cache/.x/blob.bin"), &secret); // renamed, hidden
    write(&scan.join("notes/key.txt"), &key); // small file, renamed
    write(&scan.join("notes/unrelated.txt"), &bytes(3, 100 * 1024)); // same size, different
    tar_gz(
        &scan.join("backup.tgz"),
        &[("a/readme", b"hello"), ("a/data.csv", &secret)],
    );
    zip(
        &scan.join("stuff.zip"),
        &[("k", &key), ("other", &bytes(4, 300))],
    );
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&secret).unwrap();
    write(&scan.join("customers.csv.gz"), &gz.finish().unwrap());

    let report = hunt::copies(
        std::slice::from_ref(&prot),
        std::slice::from_ref(&scan),
        &Options::default(),
    )
    .unwrap();
    let got: Vec<(PathBuf, Option<String>, PathBuf, bool)> = report
        .matches
        .iter()
        .map(|m| {
            (
                m.path.clone(),
                m.member.clone(),
                m.protected.clone(),
                m.renamed,
            )
        })
        .collect();
    let (s, p) = (canon(&scan), canon(&prot));
    let secret_p = p.join("customers.csv");
    let key_p = p.join("keys/id_ed25519");
    assert_eq!(
        got,
        vec![
            (s.join(".cache/.x/blob.bin"), None, secret_p.clone(), true),
            (
                s.join("backup.tgz"),
                Some("a/data.csv".into()),
                secret_p.clone(),
                true
            ),
            (
                s.join("customers.csv.gz"),
                Some("customers.csv".into()),
                secret_p.clone(),
                false
            ),
            (s.join("notes/key.txt"), None, key_p.clone(), true),
            (s.join("stuff.zip"), Some("k".into()), key_p.clone(), true),
            (s.join("work/customers.csv"), None, secret_p.clone(), false),
        ]
    );
    let m = &report.matches[0];
    assert_eq!(m.size, secret.len() as u64);
    assert_eq!(m.blake3, blake3::hash(&secret).to_hex().to_string());
    assert!(m.mtime.ends_with('Z') && m.mode & 0o777 != 0 && !m.hardlink);
    assert_eq!(report.protected_files, 2);
    assert_eq!(report.archives_scanned, 3);
    assert_eq!(report.files_scanned, 7);
    assert_eq!(report.skipped, Default::default());
    // The report is meant for scripts.
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["matches"][1]["member"], "a/data.csv");
    assert_eq!(json["matches"][1]["size"], secret.len());
}

#[test]
fn protected_files_are_not_their_own_copies_but_hard_links_are() {
    let tmp = tempfile::tempdir().unwrap();
    let (prot, _, _) = protected(tmp.path());
    std::fs::hard_link(prot.join("customers.csv"), tmp.path().join(".hidden")).unwrap();
    // Scanning a tree that contains the protected directory itself.
    let report = hunt::copies(&[prot], &[tmp.path().to_path_buf()], &Options::default()).unwrap();
    assert_eq!(report.matches.len(), 1, "{:?}", report.matches);
    assert!(report.matches[0].hardlink && report.matches[0].renamed);
}

#[test]
fn no_false_matches_among_same_size_files() {
    let tmp = tempfile::tempdir().unwrap();
    let prot = tmp.path().join("p");
    let size = 20 * 1024;
    let secret = bytes(7, size);
    write(&prot.join("secret"), &secret);
    let scan = tmp.path().join("scan");
    for i in 0..2000u64 {
        write(
            &scan.join(format!("d{}/f{i}", i % 20)),
            &bytes(1000 + i, size),
        );
    }
    // Same first and last 4 KiB, different middle: only the full hash tells them apart.
    for i in 0..20 {
        let mut near = secret.clone();
        near[size / 2 + i] ^= 0xff;
        write(&scan.join(format!("near/{i}")), &near);
    }
    write(&scan.join("zz/the-copy"), &secret);
    let report = hunt::copies(&[prot], std::slice::from_ref(&scan), &Options::default()).unwrap();
    let paths: Vec<_> = report.matches.iter().map(|m| m.path.clone()).collect();
    assert_eq!(paths, vec![canon(&scan).join("zz/the-copy")]);
    assert_eq!(report.files_scanned, 2021);
    // 2,000 partial reads, 21 full reads (20 near misses + the copy), and the protected file.
    let edges = 8 * 1024u64;
    assert_eq!(
        report.bytes_hashed,
        2021 * edges + 21 * size as u64 + edges + size as u64
    );
}

#[test]
fn archive_limits_are_counted() {
    let tmp = tempfile::tempdir().unwrap();
    let (prot, secret, _) = protected(tmp.path());
    let scan = tmp.path().join("scan");
    std::fs::create_dir_all(&scan).unwrap();
    tar_gz(
        &scan.join("a.tar.gz"),
        &[("inner.zip", b"not opened"), ("big", &secret)],
    );
    write(&scan.join("broken.zip"), b"PK\x03\x04 truncated");
    let opts = Options {
        max_member_bytes: 1024,
        ..Options::default()
    };
    let report = hunt::copies(&[prot], &[scan], &opts).unwrap();
    assert!(report.matches.is_empty());
    assert_eq!(report.skipped.nested_archives, 1);
    assert_eq!(report.skipped.members_too_large, 1);
    assert_eq!(report.skipped.bad_archives, 1);
}

#[test]
fn symlinks_are_not_followed_and_missing_protected_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let (prot, _, _) = protected(tmp.path());
    let scan = tmp.path().join("scan");
    std::fs::create_dir_all(&scan).unwrap();
    std::os::unix::fs::symlink(prot.join("customers.csv"), scan.join("link")).unwrap();
    std::os::unix::fs::symlink(&prot, scan.join("dirlink")).unwrap();
    let report = hunt::copies(&[prot], &[scan], &Options::default()).unwrap();
    assert!(report.matches.is_empty());
    assert_eq!(report.files_scanned, 0);
    let err = hunt::copies(&[tmp.path().join("nope")], &[], &Options::default());
    assert!(err.unwrap_err().to_string().contains("nope"));
}

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64
}

#[test]
fn persistence_finds_new_cron_systemd_keys_and_hooks_only() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let home = root.join("home/agent");
    let repo = tmp.path().join("work/repo");
    // Before the moment: all of these exist and are not reported.
    write(&root.join("etc/crontab"), b"# old\n");
    write(&root.join("etc/cron.daily/logrotate"), b"old");
    write(&root.join("etc/systemd/system/sshd.service"), b"old");
    write(&home.join(".bashrc"), b"old");
    write(
        &home.join(".ssh/authorized_keys"),
        b"ssh-ed25519 AAAA admin\n",
    );
    write(&repo.join(".git/hooks/pre-commit.sample"), b"old");
    write(&root.join("etc/unrelated.conf"), b"old");
    // The kernel stamps ctime from a coarse clock: leave it a few ticks either side.
    std::thread::sleep(Duration::from_millis(50));
    let since = now_ns();
    std::thread::sleep(Duration::from_millis(50));

    write(
        &root.join("etc/cron.d/backdoor"),
        b"* * * * * root sh -c 'x'\n",
    );
    write(&root.join("var/spool/cron/crontabs/agent"), b"@reboot x\n");
    write(
        &home.join(".config/systemd/user/helper.service"),
        b"[Service]\n",
    );
    let mut keys = std::fs::OpenOptions::new()
        .append(true)
        .open(home.join(".ssh/authorized_keys"))
        .unwrap();
    keys.write_all(b"ssh-ed25519 BBBB agent\n").unwrap();
    drop(keys);
    write(&repo.join(".git/hooks/post-checkout"), b"#!/bin/sh\nx\n");
    write(
        &repo.join(".git/hooks/pre-push.sample"),
        b"new but disabled",
    );
    write(
        &root.join("etc/unrelated-new.conf"),
        b"not a persistence place",
    );

    let places = Places {
        root: root.clone(),
        homes: vec![home.clone()],
    };
    let report = hunt::persistence_in(&places, &[tmp.path().join("work")], since);
    let got: Vec<(PathBuf, Place)> = report
        .findings
        .iter()
        .map(|f| (f.path.clone(), f.place))
        .collect();
    let mut want = vec![
        (root.join("etc/cron.d/backdoor"), Place::Cron),
        (root.join("var/spool/cron/crontabs/agent"), Place::Cron),
        (
            home.join(".config/systemd/user/helper.service"),
            Place::Systemd,
        ),
        (home.join(".ssh/authorized_keys"), Place::AuthorizedKeys),
        (repo.join(".git/hooks/post-checkout"), Place::GitHook),
    ];
    want.sort();
    assert_eq!(got, want);
    let keys = report
        .findings
        .iter()
        .find(|f| f.place == Place::AuthorizedKeys)
        .unwrap();
    // Changed, not created (where the file system keeps birth times, as ext4 and tmpfs do).
    assert!(!keys.created);
    assert_eq!(report.examined, 9);
}
