//! A model library's name, as a repository's `library_name` on the Hub (`peft`, `timm`,
//! `open_clip`, `PaddleOCR`, `wan2.2`): 1 to 64 ASCII letters, digits, `-`, `_` and `.`,
//! starting with a letter or digit. Case matters, as on the Hub.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a library name (1 to 64 letters, digits, '-', '_' or '.', starting with a letter or digit)")]
pub struct LibraryNameError(pub String);

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LibraryName(String);

impl LibraryName {
    pub const MAX_LEN: usize = 64;

    pub fn parse(s: &str) -> Result<Self, LibraryNameError> {
        let allowed = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.');
        let ok = s.len() <= Self::MAX_LEN
            && s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
            && s.bytes().all(allowed);
        if ok {
            Ok(LibraryName(s.to_owned()))
        } else {
            let shown: String = s.chars().take(Self::MAX_LEN + 1).collect();
            Err(LibraryNameError(shown))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Maps keyed by library name can be looked up by `&str` (the orders agree).
impl std::borrow::Borrow<str> for LibraryName {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for LibraryName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_hubs_library_keys() {
        for good in ["peft", "open_clip", "PaddleOCR", "wan2.2", "3dtopia-xl"] {
            assert_eq!(LibraryName::parse(good).unwrap().as_str(), good);
        }
        for bad in ["", "-x", ".x", "a b", "é", "a/b", &"x".repeat(65)] {
            assert!(LibraryName::parse(bad).is_err(), "{bad}");
        }
    }
}
