//! Several `rekey daemon`s sharing one PostgreSQL store: each in a folder
//! of its own (its own `rekey.toml` and listen port) naming the same
//! database, master key and target files, against a key API on loopback
//! that records creates overlapping for one credential. Killed at random
//! and restarted, they rotate every credential with never two rotations
//! of one at once, no orphan, no lost key and an intact audit chain; a
//! daemon stopped past its lease writes nothing once another took over.
//!
//! `REKEY_FLEET_DAEMONS`, `REKEY_FLEET_CREDENTIALS` and
//! `REKEY_FLEET_SECONDS` size the campaign (3, 200 and 20 here), and
//! `REKEY_FLEET_KILLS=0` measures without kills: `scripts/fleet-campaign`
//! measures 1, 2 and 3 daemons (and one on SQLite) and runs the campaign
//! for two minutes.

use crate::support;

use rekey::store::Store;
use rekey::store::rotations::State;
use std::collections::BTreeSet;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};
use support::daemon::{ADMIN_VAR, names, webhook_credentials};
use support::{KeyServer, postgres, text};

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Daemons sharing one store.
struct Fleet {
    server: KeyServer,
    names: Vec<String>,
    members: Vec<Member>,
    cache: tempfile::TempDir,
    _targets: tempfile::TempDir,
}

/// One daemon's folder and process.
struct Member {
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Fleet {
    /// `daemons` folders over one new database, `credentials` webhook
    /// credentials due every `max_age`, leases of `lease`.
    fn new(daemons: usize, credentials: usize, max_age: &str, lease: &str, server: KeyServer) -> Self {
        let names = names(credentials);
        let targets = tempfile::tempdir().unwrap();
        let shared_targets = format!("type = \"env-file\", path = \"{}/", targets.path().display());
        let body =
            webhook_credentials(&server, &names, max_age).replace("type = \"env-file\", path = \"", &shared_targets);
        let store = support::store_lines();
        let cache = tempfile::tempdir().unwrap();
        let members: Vec<Member> = (0..daemons)
            .map(|i| {
                let dir = tempfile::tempdir().unwrap();
                let port = support::free_port();
                let toml = format!(
                    "{store}store_lease = \"{lease}\"\n[daemon]\nlisten = \"127.0.0.1:{port}\"\nconcurrency = 8\n{body}"
                );
                std::fs::write(dir.path().join("rekey.toml"), &toml).unwrap();
                let member = Member { dir, child: None };
                if i == 0 {
                    assert!(member.run(&cache, &["init"]).status.success());
                }
                support::approve_plugins(&toml, |args| member.run(&cache, args));
                member
            })
            .collect();
        for member in &members[1..] {
            std::fs::copy(members[0].dir.path().join("rekey.key"), member.dir.path().join("rekey.key")).unwrap();
        }
        Self { server, names, members, cache, _targets: targets }
    }

    fn store(&self) -> Store {
        rekey::state::open(&rekey::config::Config::load(&self.members[0].dir.path().join("rekey.toml")).unwrap())
            .unwrap()
    }

    /// Starts member `i`'s daemon, its log appended to `daemon.log`.
    fn start(&mut self, i: usize) {
        let member = &mut self.members[i];
        let log = std::fs::OpenOptions::new().create(true).append(true).open(member.dir.path().join("daemon.log"));
        let child =
            member.command(&self.cache, &["daemon"]).stdout(Stdio::null()).stderr(log.unwrap()).spawn().unwrap();
        member.child = Some(child);
    }

    fn signal(&self, i: usize, signal: rustix::process::Signal) {
        let child = self.members[i].child.as_ref().expect("running");
        rustix::process::kill_process(rustix::process::Pid::from_raw(child.id() as i32).unwrap(), signal).unwrap();
    }

    fn kill(&mut self, i: usize) {
        let mut child = self.members[i].child.take().expect("running");
        child.kill().unwrap();
        child.wait().unwrap();
    }

    fn log(&self, i: usize) -> String {
        std::fs::read_to_string(self.members[i].dir.path().join("daemon.log")).unwrap_or_default()
    }

    /// Waits (up to `limit`) until `done`.
    fn wait_for(&self, what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + limit;
        while !done() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}; first daemon's log:\n{}", self.log(0));
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Two folders, one credential, and a key API taking 3 s a request:
    /// the first daemon has started rotating it (and is waiting on the API).
    fn with_a_slow_rotation_under_way() -> (Self, Store) {
        let server = KeyServer::start().with_latency(Duration::from_secs(3));
        let mut fleet = Fleet::new(2, 1, "1d", "2s", server);
        let store = fleet.store();
        fleet.start(0);
        fleet.wait_for("the first daemon to start a rotation", Duration::from_secs(30), || {
            !store.open_rotations().unwrap().is_empty()
        });
        (fleet, store)
    }

    /// With the first daemon stopped past its lease: the other folder's
    /// `rekey resume` takes the rotation over and finishes it; continued,
    /// the first daemon finds its lease lost and writes nothing more.
    fn take_over_from_the_stopped_daemon(mut self, store: &Store) {
        let rotation = store.open_rotations().unwrap().remove(0);
        let resumed = self.members[1].run(&self.cache, &["resume"]);
        assert!(resumed.status.success(), "{:?}", text(&resumed));
        assert_eq!(store.rotation(&rotation.id).unwrap().state, State::Succeeded);
        let audit = store.audit_log(None).unwrap().len();
        let journal = store.journal(&rotation.id).unwrap().len();

        self.signal(0, rustix::process::Signal::CONT);
        self.wait_for("the stopped daemon to find its lease lost", Duration::from_secs(30), || {
            self.log(0).contains("lost the lease on `c00`")
        });
        std::thread::sleep(Duration::from_secs(2));
        assert_eq!(store.audit_log(None).unwrap().len(), audit, "the stopped daemon wrote to the audit log");
        assert_eq!(store.journal(&rotation.id).unwrap().len(), journal, "the stopped daemon wrote to the journal");
        assert_eq!(store.rotation(&rotation.id).unwrap().state, State::Succeeded);
        self.kill(0);
        self.assert_consistent(store);
    }

    /// The provider's live keys against the store's unrevoked ones, and
    /// the audit chain: what must hold after anything.
    fn assert_consistent(&self, store: &Store) {
        let live: BTreeSet<String> = self.server.keys.lock().unwrap().keys().cloned().collect();
        let mut stored = BTreeSet::new();
        for name in &self.names {
            stored
                .extend(store.versions(name).unwrap().into_iter().filter(|v| v.revoked_at.is_none()).map(|v| v.key_id));
        }
        assert_eq!(live.difference(&stored).count(), 0, "orphans: keys live at the provider that no version holds");
        assert_eq!(stored.difference(&live).count(), 0, "lost keys: stored keys the provider no longer has");
        store.verify_audit().unwrap().expect("the audit chain verifies");
    }
}

impl Member {
    fn command(&self, cache: &tempfile::TempDir, args: &[&str]) -> std::process::Command {
        let mut command = support::rekey(cache);
        command.current_dir(self.dir.path()).args(args).env(ADMIN_VAR, KeyServer::ADMIN_TOKEN);
        command
    }

    fn run(&self, cache: &tempfile::TempDir, args: &[&str]) -> std::process::Output {
        support::run(&mut self.command(cache, args), "")
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        for member in &mut self.members {
            if let Some(mut child) = member.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

#[test]
fn daemons_killed_at_random_share_the_credentials_with_no_overlap_orphan_or_loss() {
    let daemons = setting("REKEY_FLEET_DAEMONS", 3) as usize;
    // One daemon on SQLite is the baseline the measurements compare with.
    if !support::on_postgres() && daemons > 1 {
        return eprintln!("fleet: runs with REKEY_TEST_STORE=postgres (scripts/test does)");
    }
    let kill = setting("REKEY_FLEET_KILLS", 1) == 1;
    let credentials = setting("REKEY_FLEET_CREDENTIALS", 200) as usize;
    let seconds = setting("REKEY_FLEET_SECONDS", 20);
    // Due again a second after each rotation: the daemons never run out of work.
    let server = KeyServer::start().with_latency(Duration::from_millis(10));
    let mut fleet = Fleet::new(daemons, credentials, "1s", "3s", server);
    for i in 0..daemons {
        fleet.start(i);
    }
    let store = fleet.store();
    let started = Instant::now();
    let (mut kills, mut resumes) = (0, Vec::new());
    while started.elapsed() < Duration::from_secs(seconds) {
        std::thread::sleep(Duration::from_millis(1500 + (support::rand_u128() % 2000) as u64));
        if daemons < 2 || !kill {
            continue;
        }
        let victim = (support::rand_u128() % daemons as u128) as usize;
        fleet.kill(victim);
        let killed = Instant::now();
        kills += 1;
        // Its rotations under way: another daemon must finish them.
        let open: Vec<String> = store
            .open_rotations()
            .unwrap()
            .into_iter()
            .filter(|r| r.state == State::Running && !store.is_held(&r.credential).unwrap())
            .map(|r| r.id)
            .collect();
        if !open.is_empty() {
            fleet.wait_for("another daemon to finish the killed one's rotations", Duration::from_secs(60), || {
                open.iter().all(|id| store.rotation(id).unwrap().state != State::Running)
            });
            resumes.push(killed.elapsed());
        }
        fleet.start(victim);
    }
    let elapsed = started.elapsed();
    let succeeded = store.rotations_since(0).unwrap().iter().filter(|r| r.state == State::Succeeded).count();
    for i in 0..daemons {
        fleet.signal(i, rustix::process::Signal::TERM);
    }
    for member in &mut fleet.members {
        member.child.take().unwrap().wait().unwrap();
    }
    // SIGTERM stopped rotations at a step boundary; they resume at the next start.
    let resumed = fleet.members[0].run(&fleet.cache, &["resume"]);
    assert!(resumed.status.success(), "{:?}", text(&resumed));
    let (most, overlaps) = fleet.server.creates_at_once();
    eprintln!(
        "fleet: {daemons} daemon(s), {credentials} credentials, {:.0} s: {succeeded} rotations ({:.0}/min), {kills} kills, \
         {} interrupted rotation(s) finished by another daemon (slowest {:.1} s after the kill), {most} creates at once, {overlaps} overlapping",
        elapsed.as_secs_f64(),
        succeeded as f64 * 60.0 / elapsed.as_secs_f64(),
        resumes.len(),
        resumes.iter().max().map_or(0.0, Duration::as_secs_f64),
    );
    assert_eq!(overlaps, 0, "two rotations of one credential ran at once");
    assert!(store.open_rotations().unwrap().iter().all(|r| r.state != State::Running), "rotations left running");
    for name in &fleet.names {
        assert!(
            store.rotations(name).unwrap().iter().any(|r| r.state == State::Succeeded),
            "`{name}` was never rotated"
        );
    }
    fleet.assert_consistent(&store);
}

#[test]
fn a_daemon_stopped_past_its_lease_writes_nothing_once_another_took_over() {
    if !support::on_postgres() {
        return eprintln!("fleet: runs with REKEY_TEST_STORE=postgres (scripts/test does)");
    }
    let (fleet, store) = Fleet::with_a_slow_rotation_under_way();
    fleet.signal(0, rustix::process::Signal::STOP);
    std::thread::sleep(Duration::from_secs(3));
    fleet.take_over_from_the_stopped_daemon(&store);
}

#[test]
fn a_daemon_stopped_inside_a_transaction_holds_up_nobody_past_its_lease() {
    if !support::on_postgres() {
        return eprintln!("fleet: runs with REKEY_TEST_STORE=postgres (scripts/test does)");
    }
    let (fleet, store) = Fleet::with_a_slow_rotation_under_way();
    let database = support::store_database(fleet.members[0].dir.path()).unwrap();
    let pid = fleet.members[0].child.as_ref().expect("running").id();
    postgres::stop_at_its_next_write(&database, pid, || {});

    // The server ends its session once idle for the lease's lifetime, and
    // with it the transaction that held up every other writer.
    fleet.wait_for("the server to end the stopped daemon's transaction", Duration::from_secs(10), || {
        postgres::idle_in_a_transaction(&database) == 0
    });
    fleet.wait_for("the stopped daemon's lease to expire", Duration::from_secs(10), || !store.is_held("c00").unwrap());
    fleet.take_over_from_the_stopped_daemon(&store);
}
