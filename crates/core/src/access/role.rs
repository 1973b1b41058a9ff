//! Roles, scopes and what they allow a caller.

use globset::{Glob, GlobSet, GlobSetBuilder};

/// A token's role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads status, credentials and history.
    Viewer,
    /// A viewer who also reads and verifies the audit log.
    Auditor,
    /// A viewer who also rotates, rolls back and resumes.
    Rotator,
    /// Everything, tokens included.
    Admin,
}

/// What a request does, as far as access goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Read status, credentials, history.
    View,
    /// Read or verify the audit log.
    Audit,
    /// Rotate, roll back, resume.
    Rotate,
    /// Create, list and revoke tokens.
    ManageTokens,
}

impl Role {
    /// Whether the role may do `action` at all (the scope decides which
    /// credentials).
    pub fn allows(self, action: Action) -> bool {
        match action {
            Action::View => true,
            Action::Audit => matches!(self, Self::Auditor | Self::Admin),
            Action::Rotate => matches!(self, Self::Rotator | Self::Admin),
            Action::ManageTokens => self == Self::Admin,
        }
    }

    /// The role's name, as written on the command line and in the store.
    pub fn name(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Auditor => "auditor",
            Self::Rotator => "rotator",
            Self::Admin => "admin",
        }
    }

    /// The role named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        [Self::Viewer, Self::Auditor, Self::Rotator, Self::Admin].into_iter().find(|r| r.name() == name)
    }
}

/// The credentials a token covers.
#[derive(Clone, Debug)]
pub struct Scope {
    globs: Vec<String>,
    set: GlobSet,
}

/// A glob that is not one.
#[derive(Debug, thiserror::Error)]
#[error("`{glob}` is not a credential pattern: {reason}")]
pub struct ScopeError {
    glob: String,
    reason: String,
}

impl Scope {
    /// The credentials matching any of `globs`; every credential when empty.
    pub fn new(globs: Vec<String>) -> Result<Self, ScopeError> {
        let mut set = GlobSetBuilder::new();
        for glob in &globs {
            set.add(Glob::new(glob).map_err(|e| ScopeError { glob: glob.clone(), reason: e.kind().to_string() })?);
        }
        let set = set.build().map_err(|e| ScopeError { glob: globs.join(", "), reason: e.to_string() })?;
        Ok(Self { globs, set })
    }

    /// Whether `credential` is covered.
    pub fn covers(&self, credential: &str) -> bool {
        self.globs.is_empty() || self.set.is_match(credential)
    }

    /// The globs, as given.
    pub fn globs(&self) -> &[String] {
        &self.globs
    }
}

/// Who a request comes from: a valid token's name, role and scope.
#[derive(Clone, Debug)]
pub struct Caller {
    /// The token's name.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// Its scope.
    pub scope: Scope,
}

impl Caller {
    /// Whether the caller may do `action` to `credential` (`None`: to no
    /// credential in particular).
    pub fn may(&self, action: Action, credential: Option<&str>) -> bool {
        self.role.allows(action) && (self.role == Role::Admin || credential.is_none_or(|name| self.scope.covers(name)))
    }

    /// Whether the caller may see every credential.
    pub fn sees_everything(&self) -> bool {
        self.role == Role::Admin || self.scope.globs().is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(role: Role, globs: &[&str]) -> Caller {
        let scope = Scope::new(globs.iter().map(|g| g.to_string()).collect()).unwrap();
        Caller { name: "t".into(), role, scope }
    }

    #[test]
    fn each_role_may_do_what_its_name_says_and_no_more() {
        use Action::*;
        let table = [
            (Role::Viewer, [true, false, false, false]),
            (Role::Auditor, [true, true, false, false]),
            (Role::Rotator, [true, false, true, false]),
            (Role::Admin, [true, true, true, true]),
        ];
        for (role, expected) in table {
            let got = [View, Audit, Rotate, ManageTokens].map(|a| role.allows(a));
            assert_eq!(got, expected, "{role:?}");
        }
    }

    #[test]
    fn a_scope_limits_every_role_but_admin() {
        let rotator = caller(Role::Rotator, &["payments-*"]);
        assert!(rotator.may(Action::Rotate, Some("payments-db")));
        assert!(!rotator.may(Action::Rotate, Some("search-api")));
        assert!(!rotator.may(Action::View, Some("search-api")));
        assert!(caller(Role::Admin, &["payments-*"]).may(Action::Rotate, Some("search-api")));
        assert!(caller(Role::Viewer, &[]).may(Action::View, Some("anything")));
    }

    #[test]
    fn a_bad_pattern_is_refused_with_its_reason() {
        let error = Scope::new(vec!["pay[ments".into()]).unwrap_err();
        assert!(error.to_string().starts_with("`pay[ments` is not a credential pattern"), "{error}");
    }
}
