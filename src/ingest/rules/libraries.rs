//! Model libraries and their counting rules: the ones shipped with hubstats
//! (`libraries.toml`, each entry copied from huggingface.js `model-libraries.ts`), plus what a
//! rules file's `[libraries]` table adds or overrides (`name = "query"`; `""` for the default
//! query files).

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde::{Deserialize, Deserializer};

use super::query::Query;
use crate::domain::LibraryName;

const SHIPPED: &str = include_str!("libraries.toml");

/// One library's rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Library {
    /// The files whose requests are downloads; `None`: the default query files.
    pub query: Option<Query>,
    /// Where the rule comes from (a URL for shipped ones; `None` for a rules file's).
    pub source: Option<String>,
}

/// Every known library by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Libraries(BTreeMap<LibraryName, Library>);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ShippedEntry {
    query: Option<String>,
    source: String,
}

/// The shipped libraries, or why their file does not parse (a test keeps it parsing).
fn parse_shipped() -> Result<Libraries, String> {
    let entries: BTreeMap<String, ShippedEntry> =
        toml::from_str(SHIPPED).map_err(|e| e.to_string())?;
    let mut map = BTreeMap::new();
    for (name, entry) in entries {
        let key = LibraryName::parse(&name).map_err(|e| e.to_string())?;
        let query = entry
            .query
            .map(|q| Query::parse(&q).map_err(|e| format!("{name}: {e}")))
            .transpose()?;
        let source = Some(entry.source);
        map.insert(key, Library { query, source });
    }
    Ok(Libraries(map))
}

static SHIPPED_LIBRARIES: LazyLock<Libraries> = LazyLock::new(|| {
    // The file is part of the binary and `every_shipped_rule_parses` checks it.
    parse_shipped().unwrap_or_else(|e| panic!("the shipped libraries.toml: {e}"))
});

impl Default for Libraries {
    /// The shipped libraries.
    fn default() -> Self {
        SHIPPED_LIBRARIES.clone()
    }
}

impl Libraries {
    pub fn get(&self, name: &str) -> Option<&Library> {
        self.0.get(name)
    }

    /// Every library, by name (byte order).
    pub fn iter(&self) -> impl Iterator<Item = (&LibraryName, &Library)> {
        self.0.iter()
    }

    /// Adds or replaces a library's rule; an empty (or blank) query means the default query
    /// files.
    fn set(&mut self, name: &str, query: &str) -> Result<(), String> {
        let key = LibraryName::parse(name).map_err(|e| format!("libraries: {e}"))?;
        let query = match query.trim() {
            "" => None,
            _ => Some(Query::parse(query).map_err(|e| format!("libraries.{name}: {e}"))?),
        };
        self.0.insert(
            key,
            Library {
                query,
                source: None,
            },
        );
        Ok(())
    }
}

impl<'de> Deserialize<'de> for Libraries {
    /// A rules file's `[libraries]` table, applied over the shipped libraries.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let table = BTreeMap::<String, String>::deserialize(d)?;
        let mut libraries = Libraries::default();
        for (name, query) in &table {
            libraries
                .set(name, query)
                .map_err(serde::de::Error::custom)?;
        }
        Ok(libraries)
    }
}

#[cfg(test)]
mod tests {
    use super::super::query::PathParts;
    use super::*;

    const SOURCE_FILE: &str = "https://github.com/huggingface/huggingface.js/blob/00142be70773c00449b42eb1acb4cef3db6e0e17/packages/tasks/src/model-libraries.ts";

    #[test]
    fn every_shipped_rule_parses_and_names_its_source() {
        let shipped = parse_shipped().unwrap();
        let with_rule = shipped.iter().filter(|(_, l)| l.query.is_some()).count();
        assert!(with_rule >= 25, "{with_rule} libraries with a rule");
        for (name, library) in shipped.iter() {
            assert_eq!(
                library.source.as_deref(),
                Some(format!("{SOURCE_FILE} (entry {name})").as_str())
            );
        }
    }

    #[test]
    fn shipped_rules_are_the_published_ones() {
        let l = Libraries::default();
        let rule = |name: &str| l.get(name).unwrap().query.as_ref().unwrap().as_str();
        assert_eq!(
            rule("timm"),
            r#"path:"pytorch_model.bin" OR path:"model.safetensors""#
        );
        assert_eq!(rule("peft"), r#"path:"adapter_config.json""#);
        assert!(l.get("transformers").unwrap().query.is_none());
        let open_clip = l.get("open_clip").unwrap().query.as_ref().unwrap();
        for (path, counts) in [
            ("open_clip_pytorch_model.bin", true),
            ("pytorch_model.bin", true),
            ("config.json", false),
        ] {
            assert_eq!(open_clip.matches(&PathParts::of(path)), counts, "{path}");
        }
    }
}
