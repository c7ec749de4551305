//! [`RepoNames`]: an organization's repository names lower-cased into one buffer, so a search
//! scans one contiguous buffer with one vectorised substring search instead of visiting
//! 20,000 separately allocated names (each visit a cache miss, which was most of a search's
//! time at that size).

use std::sync::Arc;

use memchr::memmem::Finder;

use super::{RepoSummaries, RepoSummary};

/// The names of a [`RepoSummaries`] list, position by position: `text` holds every full name
/// (`org/name`) lower-cased (ASCII), each followed by `\n` (which no name contains).
#[derive(Debug, Clone)]
pub struct RepoNames {
    repos: RepoSummaries,
    text: Arc<[u8]>,
    /// `starts[i]`: where name `i` begins in `text`; one more entry, `text.len()`.
    starts: Arc<[usize]>,
}

impl RepoNames {
    pub fn new(repos: RepoSummaries) -> Self {
        let mut text =
            Vec::with_capacity(repos.iter().map(|r| r.key.name.as_str().len() + 1).sum());
        let mut starts = Vec::with_capacity(repos.len() + 1);
        for r in repos.iter() {
            starts.push(text.len());
            text.extend(r.key.name.as_str().bytes().map(|b| b.to_ascii_lowercase()));
            text.push(b'\n');
        }
        starts.push(text.len());
        RepoNames {
            repos,
            text: text.into(),
            starts: starts.into(),
        }
    }

    /// Whether these are the names of the very list `repos` (the same shared allocation).
    pub fn aligned_with(&self, repos: &[RepoSummary]) -> bool {
        std::ptr::eq(self.repos.as_ptr(), repos.as_ptr()) && self.repos.len() == repos.len()
    }

    /// The positions of the names containing `needle` (lower-case), ascending; `None` when
    /// the needle holds a line break (it could match across two names here).
    pub fn matching(&self, needle: &str) -> Option<Vec<usize>> {
        if needle.contains('\n') {
            return None;
        }
        let finder = Finder::new(needle.as_bytes());
        let mut found = Vec::new();
        let mut at = 0;
        while let Some(offset) = finder.find(&self.text[at..]) {
            let i = self.starts.partition_point(|&s| s <= at + offset) - 1;
            found.push(i);
            at = self.starts[i + 1];
        }
        Some(found)
    }

    /// Approximate heap size.
    pub fn bytes(&self) -> usize {
        self.text.len() + self.starts.len() * std::mem::size_of::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{RepoKey, RepoName, RepoType};

    fn list(names: &[&str]) -> RepoSummaries {
        (names.iter())
            .map(|n| RepoSummary {
                key: RepoKey {
                    repo_type: RepoType::Model,
                    name: RepoName::parse(n).expect("a repository name"),
                },
                total: 0,
                adjustment: 0,
                first_day: None,
                last_day: None,
            })
            .collect()
    }

    #[test]
    fn finds_each_matching_name_once_ignoring_case() {
        let repos = list(&[
            "acme/Llama-ll",
            "acme/small",
            "acme/x",
            "acme/LL",
            "acme/l-l",
        ]);
        let names = RepoNames::new(repos.clone());
        assert_eq!(names.matching("ll"), Some(vec![0, 1, 3]));
        assert_eq!(names.matching("acme/"), Some(vec![0, 1, 2, 3, 4]));
        assert_eq!(names.matching("l-l"), Some(vec![4]));
        assert_eq!(names.matching("zz"), Some(vec![]));
        // Never across two names.
        assert_eq!(names.matching("llacme"), Some(vec![]));
        assert_eq!(names.matching("ll\nacme"), None);
        assert!(names.aligned_with(&repos));
        let copy: Vec<RepoSummary> = repos.to_vec();
        assert!(!names.aligned_with(&copy), "another list of the same names");
    }
}
