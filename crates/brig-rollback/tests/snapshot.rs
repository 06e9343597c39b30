//! The object store and workspace snapshots on real files.

use std::os::unix::fs::PermissionsExt;

use brig_rollback::objects::{ObjectId, Objects};
use brig_rollback::snapshot::{diff, take, Change, Kind, Snapshot, RACY_NS};
use brig_rollback::RollbackError;

#[test]
fn content_is_stored_once_and_checked_on_read() {
    let tmp = tempfile::tempdir().unwrap();
    let objects = Objects::open(&tmp.path().join("objects")).unwrap();
    let text = "the same line again\n".repeat(2_000);
    let (id, new) = objects.put(text.as_bytes()).unwrap();
    assert!(new);
    let (again, new) = objects.put(text.as_bytes()).unwrap();
    assert_eq!((again, new), (id, false), "deduplicated");
    assert_eq!(objects.get(&id).unwrap(), text.as_bytes());
    // Compressed on disk.
    let path = tmp
        .path()
        .join("objects")
        .join(&id.to_hex()[..2])
        .join(&id.to_hex()[2..]);
    assert!(std::fs::metadata(&path).unwrap().len() < text.len() as u64 / 10);
    // Altered on disk: reported, never returned.
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();
    assert!(matches!(
        objects.get(&id),
        Err(RollbackError::DamagedObject(_))
    ));
    // Replaced by other valid content: also reported.
    std::fs::write(&path, zstd::bulk::compress(b"other", 3).unwrap()).unwrap();
    assert!(matches!(
        objects.get(&id),
        Err(RollbackError::DamagedObject(_))
    ));
    let absent = ObjectId::of(b"never stored");
    assert!(matches!(
        objects.get(&absent),
        Err(RollbackError::MissingObject(_))
    ));
}

#[test]
fn a_second_snapshot_reads_only_what_changed_and_the_diff_names_each_change() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("ws");
    std::fs::create_dir_all(ws.join("src/deep")).unwrap();
    for i in 0..200 {
        std::fs::write(ws.join(format!("src/f{i}.txt")), format!("file {i}\n")).unwrap();
    }
    std::fs::write(ws.join("src/deep/config.yaml"), "a: 1\n").unwrap();
    std::os::unix::fs::symlink("src/f1.txt", ws.join("link")).unwrap();
    let objects = Objects::open(&tmp.path().join("objects")).unwrap();
    settle();
    let (first, stats) = take(&ws, None, &objects).unwrap();
    assert_eq!(stats.hashed, 201);
    assert_eq!(
        stats.paths,
        201 + 2 + 1,
        "files, two directories, a symlink"
    );

    std::fs::write(ws.join("src/f3.txt"), "file 3, edited by the agent\n").unwrap();
    std::fs::remove_file(ws.join("src/f4.txt")).unwrap();
    std::fs::write(ws.join("src/new.txt"), "created\n").unwrap();
    std::fs::set_permissions(
        ws.join("src/f5.txt"),
        std::fs::Permissions::from_mode(0o777),
    )
    .unwrap();
    std::fs::rename(ws.join("src/f6.txt"), ws.join("src/deep/f6-moved.txt")).unwrap();
    // Same size, new content: caught by the times, not by the size.
    std::fs::write(ws.join("src/f7.txt"), "FILE 7\n").unwrap();

    settle();
    let (second, stats) = take(&ws, Some(&first), &objects).unwrap();
    // Read again: f3, f7, new.txt, and the moved file (a new path); f5's chmod changes its
    // ctime, so it is re-read too. Nothing else.
    assert_eq!(stats.hashed, 5, "{stats:?}");
    assert_eq!(
        stats.stored, 3,
        "f3, f7 and new.txt are new content; the move is not: {stats:?}"
    );
    let changes = diff(&first, &second);
    let expect = vec![
        Change::Created {
            path: "src/deep/f6-moved.txt".into(),
        },
        Change::Modified {
            path: "src/f3.txt".into(),
        },
        Change::Deleted {
            path: "src/f4.txt".into(),
        },
        Change::Permissions {
            path: "src/f5.txt".into(),
            before: first.entries["src/f5.txt"].mode,
            after: second.entries["src/f5.txt"].mode,
        },
        Change::Deleted {
            path: "src/f6.txt".into(),
        },
        Change::Modified {
            path: "src/f7.txt".into(),
        },
        Change::Created {
            path: "src/new.txt".into(),
        },
    ];
    assert_eq!(changes, expect);
    // The pre-images are in the store: the deleted file can be put back from it.
    let Kind::File { object } = &first.entries["src/f4.txt"].kind else {
        panic!("a file")
    };
    assert_eq!(objects.get(object).unwrap(), b"file 4\n");
    // The moved file is the same content as before the move.
    assert_eq!(
        first.entries["src/f6.txt"].kind,
        second.entries["src/deep/f6-moved.txt"].kind
    );
    // And nothing changed: nothing read.
    settle();
    let (third, stats) = take(&ws, Some(&second), &objects).unwrap();
    assert_eq!(stats.hashed, 0, "{stats:?}");
    assert!(diff(&second, &third).is_empty());
}

/// Lets the files just written age past the racy window, as a real workspace's have.
fn settle() {
    std::thread::sleep(std::time::Duration::from_nanos(RACY_NS as u64 + 50_000_000));
}

#[test]
fn a_file_changed_right_after_a_snapshot_is_read_again_whatever_its_times_say() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("ws");
    std::fs::create_dir_all(&ws).unwrap();
    std::fs::write(ws.join("a.txt"), "before\n").unwrap();
    let objects = Objects::open(&tmp.path().join("objects")).unwrap();
    let (first, _) = take(&ws, None, &objects).unwrap();
    // Same size, within the same clock tick as the snapshot, at once.
    std::fs::write(ws.join("a.txt"), "after!\n").unwrap();
    let (second, stats) = take(&ws, Some(&first), &objects).unwrap();
    assert_eq!(stats.hashed, 1);
    assert_eq!(
        diff(&first, &second),
        vec![Change::Modified {
            path: "a.txt".into()
        }]
    );
}

#[test]
fn a_snapshot_round_trips_through_json() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("ws");
    std::fs::create_dir_all(&ws).unwrap();
    std::fs::write(ws.join("a"), "x").unwrap();
    let objects = Objects::open(&tmp.path().join("objects")).unwrap();
    let (s, _) = take(&ws, None, &objects).unwrap();
    let json = serde_json::to_string(&s).unwrap();
    let back: Snapshot = serde_json::from_str(&json).unwrap();
    assert_eq!(back, s);
    assert!(json.contains("\"kind\":\"file\""), "{json}");
}

/// Around a command: every path that differs after it is attributed to it, with its state
/// before and after; Brig's own directory inside the workspace and a FIFO are left out.
#[test]
fn a_workspace_snapshot_pair_attributes_each_change_to_the_command_between() {
    use brig_rollback::workspace::Workspace;
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("ws");
    std::fs::create_dir_all(ws.join("src")).unwrap();
    for i in 0..50 {
        std::fs::write(ws.join(format!("src/f{i}.txt")), format!("file {i}\n")).unwrap();
    }
    let own = ws.join("brig-data");
    std::fs::create_dir_all(&own).unwrap();
    let objects = Objects::open(&own.join("objects")).unwrap();
    let fifo = std::ffi::CString::new(ws.join("pipe").to_str().unwrap()).unwrap();
    // SAFETY: std cannot make a FIFO; mkfifo(3) reads the NUL-terminated path `fifo` owns,
    // which outlives the call.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
    std::fs::set_permissions(
        ws.join("src/f3.txt"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let w = Workspace::new(vec![ws.clone()], vec![own.clone()]);

    let first = w.before(&objects).unwrap();
    assert_eq!(
        first.stats.paths, 51,
        "src, its 50 files; not brig-data, not the FIFO"
    );
    // "The command": one edit, one deletion, one creation, one permission change.
    std::thread::sleep(std::time::Duration::from_millis(150));
    std::fs::write(ws.join("src/f1.txt"), "edited\n").unwrap();
    std::fs::remove_file(ws.join("src/f2.txt")).unwrap();
    std::fs::write(ws.join("new.txt"), "new\n").unwrap();
    std::fs::set_permissions(
        ws.join("src/f3.txt"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    std::fs::write(own.join("ledger.db"), "not the workspace's").unwrap();
    let (pre, post) = w.after(&first, &objects).unwrap();
    let abs = |p: &str| ws.join(p).to_string_lossy().into_owned();
    let changed: Vec<&String> = pre.keys().collect();
    assert_eq!(
        changed,
        [
            abs("new.txt"),
            abs("src/f1.txt"),
            abs("src/f2.txt"),
            abs("src/f3.txt")
        ]
        .iter()
        .collect::<Vec<_>>()
    );
    assert_eq!(pre[&abs("new.txt")], None);
    assert_eq!(post[&abs("src/f2.txt")], None);
    let content = |e: &Option<brig_rollback::snapshot::Entry>| match &e.as_ref().unwrap().kind {
        Kind::File { object } => objects.get(object).unwrap(),
        k => panic!("{k:?}"),
    };
    assert_eq!(content(&pre[&abs("src/f1.txt")]), b"file 1\n");
    assert_eq!(content(&post[&abs("src/f1.txt")]), b"edited\n");
    assert_eq!(
        pre[&abs("src/f3.txt")].as_ref().unwrap().mode & 0o777,
        0o644
    );

    // The next command starts from there: nothing it did not do is attributed to it.
    let second = w.before(&objects).unwrap();
    assert!(second.stats.hashed <= 5, "{:?}", second.stats);
    let (pre, _) = w.after(&second, &objects).unwrap();
    assert!(pre.is_empty(), "{pre:?}");
}

/// Extended attributes are part of a path's state: a change to one is a change, and
/// restoring puts the old set back (`user.` namespace; the test file system must have them).
#[test]
fn extended_attributes_are_snapshotted_diffed_and_restored() {
    use brig_rollback::plan::{restore, same};
    use brig_rollback::snapshot::entry_at;
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("ws");
    std::fs::create_dir_all(&ws).unwrap();
    let f = ws.join("report.pdf");
    std::fs::write(&f, "pdf").unwrap();
    xattr::set(&f, "user.origin", b"https://intranet/report").expect(
        "the test's file system must support user extended attributes (ext4, xfs, btrfs, tmpfs)",
    );
    let objects = Objects::open(&tmp.path().join("objects")).unwrap();
    let (first, _) = take(&ws, None, &objects).unwrap();
    assert_eq!(
        first.entries["report.pdf"].xattrs["user.origin"],
        hex::encode("https://intranet/report")
    );
    let before = entry_at(&f, &objects).unwrap();

    std::thread::sleep(std::time::Duration::from_millis(150));
    xattr::set(&f, "user.origin", b"https://evil.example/").unwrap();
    xattr::set(&f, "user.extra", b"1").unwrap();
    let (second, _) = take(&ws, Some(&first), &objects).unwrap();
    assert!(matches!(
        diff(&first, &second).as_slice(),
        [Change::Permissions { path, .. }] if path == "report.pdf"
    ));
    assert!(!same(&before, &entry_at(&f, &objects).unwrap()));

    restore(f.to_str().unwrap(), &before, &objects).unwrap();
    assert!(same(&before, &entry_at(&f, &objects).unwrap()));
    assert_eq!(xattr::get(&f, "user.extra").unwrap(), None);
}
