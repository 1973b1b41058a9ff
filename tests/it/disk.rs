//! A full disk under the store and under a deploy target, swept over small
//! amounts of free space on real (tmpfs) file systems: every failure names
//! the file and says "No space left on device", the store stays intact,
//! and once there is room again `resume` leaves no orphan at the provider.
//! `init` on a full disk leaves nothing behind. Mounting needs root, as the
//! rest of the suite does (it installs its servers with apt).

use crate::support;

use rekey::store::Store;
use rekey_test_artifacts::plugins;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use support::{KeyServer, Project, text};

const ADMIN_VAR: &str = "TEST_API_ADMIN_TOKEN";
const NO_SPACE: &str = "No space left on device";

/// A small tmpfs mounted on a folder, unmounted when dropped.
struct Tmpfs {
    path: PathBuf,
}

impl Tmpfs {
    fn mount(path: PathBuf, kib: u64) -> Self {
        std::fs::create_dir_all(&path).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={kib}k,mode=0700"), "tmpfs"])
            .arg(&path)
            .status()
            .unwrap();
        assert!(status.success(), "mounting a tmpfs on {} failed: these tests need root", path.display());
        Self { path }
    }

    /// Fills the file system until `kib` KiB are left.
    fn leave(&self, kib: u64) {
        let stats = rustix::fs::statvfs(&self.path).unwrap();
        let free = stats.f_bavail * stats.f_frsize;
        let fill = free.saturating_sub(kib * 1024);
        std::fs::write(self.path.join("filler"), vec![0u8; fill as usize]).unwrap_or_else(|e| {
            // The last page may not fit: a full disk is what we want anyway.
            assert_eq!(e.raw_os_error(), Some(libc::ENOSPC), "{e}");
        });
    }

    /// Frees what [`Self::leave`] took.
    fn free(&self) {
        let _ = std::fs::remove_file(self.path.join("filler"));
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// A project whose store lives on one small tmpfs (`state/`) and whose
/// target on another (`apps/`).
struct Full {
    server: KeyServer,
    project: Project,
    state: Tmpfs,
    apps: Tmpfs,
}

impl Full {
    fn new() -> Self {
        let server = KeyServer::start().not_idempotent();
        let dir = tempfile::tempdir().unwrap();
        let state = Tmpfs::mount(dir.path().join("state"), 2048);
        let apps = Tmpfs::mount(dir.path().join("apps"), 256);
        let toml = format!(
            "store = \"state/rekey.db\"\nkey_file = \"rekey.key\"\n{}",
            support::webhook_credential("api", plugins::WEBHOOK, &server, ADMIN_VAR, "apps/api.env")
        );
        let project = Project::in_dir(dir, &toml, &[(ADMIN_VAR, KeyServer::ADMIN_TOKEN)]);
        Self { server, project, state, apps }
    }

    fn rekey(&self, args: &[&str]) -> std::process::Output {
        self.project.run(args, "")
    }

    /// The store and the provider agree, the target holds the current key,
    /// no rotation is open, and SQLite finds the file intact.
    fn assert_consistent(&self, context: &str) {
        let db = self.state.path.join("rekey.db");
        let store =
            Store::open(&rekey::store::Location::File(db.clone()), &self.project.dir.path().join("rekey.key")).unwrap();
        let live: BTreeSet<String> = self.server.keys.lock().unwrap().keys().cloned().collect();
        let stored: BTreeSet<String> =
            store.versions("api").unwrap().into_iter().filter(|v| v.revoked_at.is_none()).map(|v| v.key_id).collect();
        assert_eq!(live, stored, "{context}: orphans or lost keys");
        assert!(store.open_rotations().unwrap().is_empty(), "{context}: a rotation is still open");
        let current = store.labeled("api", rekey::store::versions::Label::Current).unwrap().unwrap();
        let deployed = support::env_value(&self.apps.path.join("api.env"), "KEY");
        assert_eq!(store.secret(&current).unwrap().as_str(), deployed, "{context}: stale target");
        assert!(store.verify_audit().unwrap().is_ok(), "{context}: audit chain");
        let check: String =
            rusqlite::Connection::open(&db).unwrap().query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
        assert_eq!(check, "ok", "{context}");
    }

    /// Rotates with `kib` KiB free on `disk`; a failure must name a file on
    /// that disk and the cause. Then frees the space and resumes.
    fn rotate_with(&self, disk: &Tmpfs, kib: u64) -> bool {
        disk.leave(kib);
        let out = self.rekey(&["rotate", "api"]);
        let said = format!("{}{}", text(&out).0, text(&out).1);
        disk.free();
        if !out.status.success() {
            assert!(said.contains(NO_SPACE), "{kib} KiB free: the cause is not named: {said}");
            let folder = format!("./{}/", disk.path.file_name().unwrap().to_string_lossy());
            assert!(said.contains(&folder), "{kib} KiB free: the file is not named: {said}");
        }
        let resumed = self.rekey(&["resume"]);
        assert!(resumed.status.success(), "{kib} KiB free, then resume: {:?}", text(&resumed));
        self.assert_consistent(&format!("{kib} KiB free on {}", disk.path.display()));
        out.status.success()
    }
}

#[test]
fn a_full_disk_under_the_store_loses_nothing_and_leaves_no_orphan() {
    let full = Full::new();
    assert!(full.rekey(&["rotate", "api"]).status.success());
    let outcomes: Vec<bool> = (0..=640).step_by(32).map(|kib| full.rotate_with(&full.state, kib)).collect();
    eprintln!(
        "store disk: {} of {} rotations failed cleanly",
        outcomes.iter().filter(|ok| !**ok).count(),
        outcomes.len()
    );
    assert!(outcomes.contains(&false), "the sweep must reach a full disk");
}

#[test]
fn a_full_disk_under_a_target_rolls_back_and_leaves_no_orphan() {
    let full = Full::new();
    assert!(full.rekey(&["rotate", "api"]).status.success());
    let outcomes: Vec<bool> = (0..=16).step_by(4).map(|kib| full.rotate_with(&full.apps, kib)).collect();
    assert!(outcomes.contains(&false), "the sweep must reach a full disk");
}

#[test]
fn init_on_a_full_disk_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let state = Tmpfs::mount(dir.path().join("state"), 512);
    std::fs::write(dir.path().join("rekey.toml"), "store = \"state/rekey.db\"\nkey_file = \"state/rekey.key\"\n")
        .unwrap();
    let init = || {
        let cache = tempfile::tempdir().unwrap();
        support::run(support::rekey(&cache).current_dir(dir.path()).arg("init"), "")
    };
    state.leave(0);
    let out = init();
    let said = text(&out).1;
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains(NO_SPACE) && said.contains("state/rekey."), "{said}");
    let left: Vec<String> = std::fs::read_dir(&state.path)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name != "filler")
        .collect();
    assert!(left.is_empty(), "init left {left:?} behind");
    state.free();
    let out = init();
    assert!(out.status.success(), "init once there is room: {:?}", text(&out));
    assert!(Path::new(&state.path.join("rekey.db")).exists());
}
