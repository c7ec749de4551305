use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("unknown repository type {0:?} (expected \"model\" or \"dataset\")")]
    RepoType(String),
    #[error("invalid name {name:?}: {reason}")]
    Name { name: String, reason: &'static str },
}

/// `model` or `dataset`. Models order before datasets, as in the CSV export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RepoType {
    Model,
    Dataset,
}

impl RepoType {
    pub const ALL: [RepoType; 2] = [RepoType::Model, RepoType::Dataset];

    pub fn as_str(self) -> &'static str {
        match self {
            RepoType::Model => "model",
            RepoType::Dataset => "dataset",
        }
    }

    /// The plural used in URLs: `models` / `datasets`.
    pub fn plural(self) -> &'static str {
        match self {
            RepoType::Model => "models",
            RepoType::Dataset => "datasets",
        }
    }

    pub fn from_plural(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.plural() == s)
    }
}

impl FromStr for RepoType {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Self, NameError> {
        match s {
            "model" => Ok(RepoType::Model),
            "dataset" => Ok(RepoType::Dataset),
            other => Err(NameError::RepoType(other.to_owned())),
        }
    }
}

impl fmt::Display for RepoType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

const MAX_PART_LEN: usize = 96;

/// Checks one part of a Hub name: letters, digits, `-`, `_`, `.`; no leading or trailing `-`
/// or `.`; no `--` or `..`; 1 to 96 characters.
fn check_part(part: &str) -> Result<(), &'static str> {
    if part.is_empty() {
        return Err("a name part is empty");
    }
    if part.len() > MAX_PART_LEN {
        return Err("a name part is longer than 96 characters");
    }
    if !part
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err("only letters, digits, '-', '_' and '.' are allowed");
    }
    let edge = |b: u8| matches!(b, b'-' | b'.');
    if edge(part.as_bytes()[0]) || edge(part.as_bytes()[part.len() - 1]) {
        return Err("a name part cannot start or end with '-' or '.'");
    }
    if part.contains("--") || part.contains("..") {
        return Err("'--' and '..' are not allowed");
    }
    Ok(())
}

/// An organization name (the part of a repository name before `/`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct OrgName(String);

impl OrgName {
    pub fn parse(s: &str) -> Result<Self, NameError> {
        check_part(s).map_err(|reason| NameError::Name {
            name: s.to_owned(),
            reason,
        })?;
        Ok(OrgName(s.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OrgName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

/// A full repository name `org/name`. Shared (`Arc<str>`): the read index hands out the names
/// of 20,000 repositories per dashboard request, and a clone is then a reference count, not a
/// copy. Two clones of one name compare equal by address, without reading the bytes (the
/// table matches each repository's summary with its sums this way).
#[derive(Debug, Clone, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct RepoName(std::sync::Arc<str>);

impl std::hash::Hash for RepoName {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state)
    }
}

impl PartialEq for RepoName {
    fn eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0) || self.0 == other.0
    }
}

impl Ord for RepoName {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        if std::sync::Arc::ptr_eq(&self.0, &other.0) {
            return std::cmp::Ordering::Equal;
        }
        self.0.cmp(&other.0)
    }
}

impl PartialOrd for RepoName {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl RepoName {
    pub fn parse(s: &str) -> Result<Self, NameError> {
        let invalid = |reason| NameError::Name {
            name: s.to_owned(),
            reason,
        };
        let (org, name) = s.split_once('/').ok_or(invalid("expected \"org/name\""))?;
        check_part(org).map_err(invalid)?;
        check_part(name).map_err(invalid)?;
        Ok(RepoName(s.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The organization: the part before `/`.
    pub fn org(&self) -> OrgName {
        OrgName(self.org_str().to_owned())
    }

    /// The organization's name, borrowed (no allocation, for per-event paths).
    pub fn org_str(&self) -> &str {
        &self.0[..self.slash()]
    }

    /// The part after `/`.
    pub fn short(&self) -> &str {
        &self.0[self.slash() + 1..]
    }

    fn slash(&self) -> usize {
        // The constructor guarantees exactly one '/'.
        self.0.find('/').unwrap_or(0)
    }
}

impl fmt::Display for RepoName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_hub_names() {
        for ok in [
            "huggingface/CodeBERTa-small-v1",
            "a/b",
            "org_1/x.y-z",
            "A/B_",
        ] {
            let n = RepoName::parse(ok).unwrap();
            assert_eq!(n.as_str(), ok);
        }
        assert_eq!(RepoName::parse("acme/x").unwrap().org().as_str(), "acme");
        assert_eq!(RepoName::parse("acme/x").unwrap().short(), "x");
    }

    #[test]
    fn rejects_bad_names() {
        let long = format!("a/{}", "x".repeat(97));
        for bad in [
            "", "noslash", "a/b/c", "/b", "a/", "-a/b", "a/b.", "a b/c", "a/é", "a/b--c", "a/b..c",
            "a,b/c", "a/\"b\"", &long,
        ] {
            assert!(RepoName::parse(bad).is_err(), "{bad:?} should be rejected");
        }
        assert!(RepoName::parse(&format!("a/{}", "x".repeat(96))).is_ok());
    }

    #[test]
    fn repo_types_order_models_first() {
        assert!(RepoType::Model < RepoType::Dataset);
        assert_eq!("dataset".parse::<RepoType>().unwrap(), RepoType::Dataset);
        assert!("Model".parse::<RepoType>().is_err());
        assert_eq!(RepoType::from_plural("models"), Some(RepoType::Model));
    }
}
