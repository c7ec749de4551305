//! [`RepoNames`]: an organization's repository names lower-cased into one buffer, so a search
//! scans one contiguous buffer with one vectorised substring search instead of visiting
//! 20,000 separately allocated names (each visit a cache miss, which was most of a search's
//! time at that size).

use std::sync::Arc;

use memchr::memmem::Finder;

use super::index::Run;
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
        push_names(&repos, &mut text, &mut starts);
        Self::finish(repos, text, starts)
    }

    /// The names of `repos`, a list made of runs (in order) that are either copied from
    /// `base`'s list (so their names are copied as bytes from `base`) or new.
    pub(super) fn patched(repos: RepoSummaries, base: &RepoNames, runs: &[Run]) -> Self {
        let mut text = Vec::with_capacity(base.text.len());
        let mut starts = Vec::with_capacity(repos.len() + 1);
        let mut at = 0;
        for run in runs {
            match run.from {
                Some(from) => {
                    let (first, end) = (base.starts[from], base.starts[from + run.len]);
                    let shift = text.len();
                    text.extend_from_slice(&base.text[first..end]);
                    starts.extend(
                        base.starts[from..][..run.len]
                            .iter()
                            .map(|s| s - first + shift),
                    );
                }
                None => push_names(&repos[at..][..run.len], &mut text, &mut starts),
            }
            at += run.len;
        }
        debug_assert_eq!(at, repos.len(), "the runs cover the list");
        Self::finish(repos, text, starts)
    }

    fn finish(repos: RepoSummaries, text: Vec<u8>, mut starts: Vec<usize>) -> Self {
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

/// Appends the lower-cased names of `repos` to `text`, each followed by `\n`, and where
/// each begins to `starts`.
fn push_names(repos: &[RepoSummary], text: &mut Vec<u8>, starts: &mut Vec<usize>) {
    for r in repos {
        starts.push(text.len());
        text.extend(r.key.name.as_str().bytes().map(|b| b.to_ascii_lowercase()));
        text.push(b'\n');
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
