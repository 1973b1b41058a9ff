//! A real OpenLDAP `slapd` on free loopback ports (one LDAP, for StartTLS,
//! one LDAPS), its certificate issued by a test CA, for the `ldap-password`
//! provider's tests. Its directory: the service account `app` under
//! `ou=services`, and `rotator`, which may write the passwords there and
//! nothing else.

use super::pki::Ca;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const BASE: &str = "dc=example,dc=org";
pub const ACCOUNT_DN: &str = "cn=app,ou=services,dc=example,dc=org";
pub const ROTATOR_DN: &str = "cn=rotator,dc=example,dc=org";
pub const ROTATOR_PASSWORD: &str = "rotator-pw-71c2";
pub const FIRST_PASSWORD: &str = "firstAppBindPassword0123456789";

/// A `slapd` killed when dropped.
pub struct Slapd {
    /// Plain LDAP (StartTLS).
    pub port: u16,
    /// LDAPS.
    pub ldaps_port: u16,
    child: Child,
    dir: tempfile::TempDir,
}

impl Slapd {
    /// A server with the directory above, serving a certificate for
    /// 127.0.0.1 and `localhost` from `ca`.
    pub fn start(ca: &Ca) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path();
        let issued = ca.issue(&["127.0.0.1", "localhost"]);
        std::fs::write(path.join("server.crt"), issued.cert).unwrap();
        std::fs::write(path.join("server.key"), issued.key).unwrap();
        std::fs::write(path.join("ca.crt"), ca.pem()).unwrap();
        std::fs::create_dir(path.join("db")).unwrap();
        std::fs::write(path.join("slapd.conf"), config(path)).unwrap();
        std::fs::write(path.join("data.ldif"), directory()).unwrap();
        let added = Command::new("/usr/sbin/slapadd")
            .arg("-f")
            .arg(path.join("slapd.conf"))
            .arg("-l")
            .arg(path.join("data.ldif"))
            .output()
            .expect("slapd is installed (scripts/test installs it)");
        assert!(added.status.success(), "slapadd: {}", String::from_utf8_lossy(&added.stderr));
        let (port, ldaps_port) = (super::free_port(), super::free_port());
        let child = Self::spawn(path, port, ldaps_port);
        let slapd = Self { port, ldaps_port, child, dir };
        slapd.wait();
        slapd
    }

    fn spawn(dir: &Path, port: u16, ldaps_port: u16) -> Child {
        let urls = format!("ldap://127.0.0.1:{port}/ ldaps://127.0.0.1:{ldaps_port}/");
        Command::new("/usr/sbin/slapd")
            .arg("-f")
            .arg(dir.join("slapd.conf"))
            .args(["-h", &urls, "-d", "0"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("slapd is installed (scripts/test installs it)")
    }

    fn wait(&self) {
        for _ in 0..100 {
            if self.bind(ROTATOR_DN, ROTATOR_PASSWORD) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("slapd did not start on ports {} and {}", self.port, self.ldaps_port);
    }

    /// Whether `dn` can bind with `password`, over LDAPS.
    pub fn bind(&self, dn: &str, password: &str) -> bool {
        Command::new("ldapwhoami")
            .args(["-x", "-H", &format!("ldaps://127.0.0.1:{}", self.ldaps_port), "-D", dn, "-y"])
            .arg(self.password_file(password))
            .env("LDAPTLS_CACERT", self.dir.path().join("ca.crt"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap()
            .success()
    }

    /// `password` in a file of its own, so it is not on a command line.
    fn password_file(&self, password: &str) -> std::path::PathBuf {
        let file = self.dir.path().join(format!("bind-{}", std::process::id()));
        std::fs::write(&file, password).unwrap();
        file
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// slapd.conf: one MDB database under [`BASE`]; passwords stored salted
/// and hashed; `rotator` may write the passwords of `ou=services` only.
fn config(dir: &Path) -> String {
    let dir = dir.display();
    format!(
        "include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
pidfile {dir}/slapd.pid
modulepath /usr/lib/ldap
moduleload back_mdb
TLSCACertificateFile {dir}/ca.crt
TLSCertificateFile {dir}/server.crt
TLSCertificateKeyFile {dir}/server.key
password-hash {{SSHA}}
database mdb
maxsize 10485760
suffix \"{BASE}\"
rootdn \"cn=admin,{BASE}\"
directory {dir}/db
access to dn.subtree=\"ou=services,{BASE}\" attrs=userPassword
  by dn.exact=\"{ROTATOR_DN}\" write
  by anonymous auth
  by * none
access to attrs=userPassword
  by self read
  by anonymous auth
  by * none
access to * by * read
"
    )
}

fn directory() -> String {
    format!(
        "dn: {BASE}
objectClass: dcObject
objectClass: organization
dc: example
o: Example

dn: ou=services,{BASE}
objectClass: organizationalUnit
ou: services

dn: {ROTATOR_DN}
objectClass: person
cn: rotator
sn: rotator
userPassword: {ROTATOR_PASSWORD}

dn: {ACCOUNT_DN}
objectClass: person
cn: app
sn: app
userPassword: {FIRST_PASSWORD}
"
    )
}
