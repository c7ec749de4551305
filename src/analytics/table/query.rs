//! What the table is asked for: search, type filter, sort column and order, page.

use std::str::FromStr;

use memchr::memmem::Finder;

use crate::domain::{RepoKey, RepoType};

pub const DEFAULT_PER_PAGE: u32 = 50;
pub const MAX_PER_PAGE: u32 = 500;

/// The column a table is sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Downloads,
    Name,
    Total,
    Change,
}

impl SortKey {
    pub const ALL: [SortKey; 4] = [
        SortKey::Downloads,
        SortKey::Name,
        SortKey::Total,
        SortKey::Change,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SortKey::Downloads => "downloads",
            SortKey::Name => "name",
            SortKey::Total => "total",
            SortKey::Change => "change",
        }
    }

    /// The order a column sorts in when first clicked: names A→Z, numbers largest first.
    pub fn default_order(self) -> Order {
        match self {
            SortKey::Name => Order::Asc,
            _ => Order::Desc,
        }
    }
}

impl FromStr for SortKey {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                format!("unknown sort {s:?} (expected downloads, name, total or change)")
            })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Asc,
    Desc,
}

impl Order {
    pub fn as_str(self) -> &'static str {
        match self {
            Order::Asc => "asc",
            Order::Desc => "desc",
        }
    }

    pub fn reverse(self) -> Order {
        match self {
            Order::Asc => Order::Desc,
            Order::Desc => Order::Asc,
        }
    }
}

impl FromStr for Order {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "asc" => Ok(Order::Asc),
            "desc" => Ok(Order::Desc),
            _ => Err(format!("unknown order {s:?} (expected asc or desc)")),
        }
    }
}

/// Which rows of the table to return. `page` is 1-based; `per_page` is capped at
/// [`MAX_PER_PAGE`] by whoever parses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableQuery {
    /// Case-insensitive substring of the full repository name (`org/name`).
    pub q: Option<String>,
    pub repo_type: Option<RepoType>,
    pub sort: SortKey,
    pub order: Order,
    pub page: u32,
    pub per_page: u32,
}

impl TableQuery {
    /// The search, lower-cased (ASCII, as names are compared); `None` without one.
    pub fn needle(&self) -> Option<String> {
        (self.q.as_deref())
            .map(str::to_ascii_lowercase)
            .filter(|q| !q.is_empty())
    }

    /// Whether a repository passes the search and the type filter (what the table lists and
    /// what the CSV of a view exports). The search is lower-cased once, here.
    pub fn matcher(&self) -> impl Fn(&RepoKey) -> bool + '_ {
        let needle = self
            .needle()
            .map(|q| Finder::new(q.as_bytes()).into_owned());
        move |key| {
            self.repo_type.is_none_or(|t| key.repo_type == t)
                && (needle.as_ref()).is_none_or(|q| contains_caseless(key.name.as_str(), q))
        }
    }
}

/// The longest name searched in place (the Hub's names are at most 96 bytes).
const NAME_BUFFER: usize = 256;

/// Whether `haystack` contains the lower-case needle of `finder`, ignoring ASCII case, without
/// allocating: a search runs over every repository name on each keystroke. The name is
/// lower-cased into a buffer on the stack and searched with a finder built once per search
/// (`memchr2` per name for the needle's first byte, then a byte loop, each cost more in set-up
/// than a name's few dozen bytes take to scan).
fn contains_caseless(haystack: &str, finder: &Finder<'_>) -> bool {
    let h = haystack.as_bytes();
    if h.len() > NAME_BUFFER {
        return finder
            .find(haystack.to_ascii_lowercase().as_bytes())
            .is_some();
    }
    // Copied and lower-cased in one loop (`copy_from_slice` calls the C library's `memmove`,
    // whose start-up cost dominated on names this short).
    let mut buffer = [0u8; NAME_BUFFER];
    for (to, from) in buffer.iter_mut().zip(h) {
        *to = from.to_ascii_lowercase();
    }
    finder.find(&buffer[..h.len()]).is_some()
}

impl Default for TableQuery {
    fn default() -> Self {
        TableQuery {
            q: None,
            repo_type: None,
            sort: SortKey::Downloads,
            order: Order::Desc,
            page: 1,
            per_page: DEFAULT_PER_PAGE,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{contains_caseless, Finder};

    #[test]
    fn search_ignores_ascii_case_anywhere_in_the_name() {
        for (name, needle) in [
            ("acme/Llama-3", "ll"),
            ("acme/LLAMA", "lla"),
            ("acme/x-ll", "ll"),
            ("acme/a", "acme/a"),
            ("acme/ab", "b"),
            ("acme/ab", "/a"),
            ("acme/ab", "c"),
            ("acme/ab", "acme/abc"),
            ("acme/Ab", ""),
            ("acme/l-l", "ll"),
            ("acme/é-ll", "ll"),
        ] {
            let want = name.to_ascii_lowercase().contains(needle);
            let finder = Finder::new(needle);
            assert_eq!(
                contains_caseless(name, &finder),
                want,
                "{name:?} {needle:?}"
            );
            let long = format!("{}{name}", "x".repeat(300));
            assert_eq!(
                contains_caseless(&long, &finder),
                want || long.contains(needle)
            );
        }
    }
}
