//! The counting rules: which requests are downloads. [`Rules::default`] is the Hub's
//! documented behaviour; a TOML rules file ([`Rules::parse_toml`]) overrides any of its keys
//! (`methods`, `statuses`, `model_root_files`, `model_extensions`, `dataset_window_secs`) and
//! adds or overrides library rules (`[libraries]`, see [`libraries`]) and user-agent classes
//! (`[[agent_classes]]`, see [`agents`]).
//!
//! A model request with a known path counts when its file has one of `model_extensions`, or
//! else matches the rule of the repository's library ([`query`]) or, without one, is one of
//! `model_root_files`.

mod agents;
mod libraries;
mod query;

use std::collections::HashSet;

use serde::Deserialize;

pub use agents::{AgentClass, AgentClasses, OTHER as OTHER_AGENT};
pub use libraries::{Libraries, Library};
pub use query::{PathParts, Query, QueryError};

use crate::domain::{LogEvent, RepoType};
use crate::store::EventFields;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("rules: {0}")]
pub struct RulesError(String);

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Rules {
    /// Methods of a candidate request (upper-case).
    pub methods: Vec<String>,
    /// Statuses of a candidate request.
    pub statuses: Vec<u16>,
    /// Model files at the repository root whose request is a download (when the path is
    /// known).
    pub model_root_files: Vec<String>,
    /// Extensions (without the dot) whose request is a model download in any folder.
    pub model_extensions: Vec<String>,
    /// A dataset's downloader counts once per window of this many seconds (fixed windows from
    /// midnight UTC; must divide a day, so a window belongs to one day).
    pub dataset_window_secs: u32,
    /// Model libraries and their rules: the shipped ones, with a rules file's `[libraries]`
    /// (`name = "query"`) added or overriding.
    pub libraries: Libraries,
    /// User-agent classes kept with each event, tried in order (counts include every class).
    pub agent_classes: AgentClasses,
}

impl Default for Rules {
    fn default() -> Self {
        let strings = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect();
        Rules {
            methods: strings(&["GET", "HEAD"]),
            statuses: vec![200, 302, 304, 307],
            model_root_files: strings(&[
                "config.json",
                "config.yaml",
                "hyperparams.yaml",
                "params.json",
                "meta.yaml",
            ]),
            model_extensions: strings(&["gguf"]),
            dataset_window_secs: 300,
            libraries: Libraries::default(),
            agent_classes: AgentClasses::default(),
        }
    }
}

/// Who made a dataset request, for the per-window deduplication.
#[derive(PartialEq, Eq, Hash)]
enum Downloader<'a> {
    User(&'a str),
    Ip(&'a str),
    /// Neither id: the request counts by itself.
    Alone([u8; 16]),
}

impl Rules {
    /// Rules from a TOML file's text: each key present replaces the default's.
    pub fn parse_toml(text: &str) -> Result<Self, RulesError> {
        let mut rules: Rules = toml::from_str(text).map_err(|e| RulesError(e.to_string()))?;
        for m in &mut rules.methods {
            if m.is_empty() || !m.bytes().all(|b| b.is_ascii_alphabetic()) {
                return Err(RulesError(format!("methods: {m:?} is not an HTTP method")));
            }
            m.make_ascii_uppercase();
        }
        if let Some(s) = rules.statuses.iter().find(|s| !(100..=599).contains(*s)) {
            return Err(RulesError(format!("statuses: {s} is not an HTTP status")));
        }
        let w = rules.dataset_window_secs;
        if w == 0 || 86_400 % w != 0 {
            return Err(RulesError(format!(
                "dataset_window_secs: {w} does not divide a day (86400 seconds)"
            )));
        }
        Ok(rules)
    }

    /// A `GET`/`HEAD` with a counted status (by default).
    pub fn is_candidate(&self, e: &LogEvent) -> bool {
        self.methods.contains(&e.method) && self.statuses.contains(&e.status)
    }

    /// The query of a library with a rule (`None` for no library, an unknown one, or one
    /// counted by the default query files).
    pub fn library_query(&self, library: Option<&str>) -> Option<&Query> {
        self.libraries.get(library?)?.query.as_ref()
    }

    /// Whether a request for this file of a model of `library` is a download.
    pub fn model_path_counts(&self, library: Option<&str>, path: &str) -> bool {
        let parts = PathParts::of(path);
        let ext = parts.extension();
        if !ext.is_empty() && self.model_extensions.iter().any(|x| x == ext) {
            return true;
        }
        match self.library_query(library) {
            Some(query) => query.matches(&parts),
            None => self.model_root_files.iter().any(|f| f == path),
        }
    }

    /// The fields of a repository's events that [`Rules::downloads`] reads: a model's are
    /// counted by their request alone (method, status, path), a dataset's by downloader and
    /// instant too.
    pub fn fields(&self, repo_type: RepoType) -> EventFields {
        match repo_type {
            RepoType::Model => EventFields::Request,
            RepoType::Dataset => EventFields::All,
        }
    }

    /// The downloads of one repository-day from all its events (any order, no duplicates);
    /// `library` is the repository's (models only).
    pub fn downloads(
        &self,
        repo_type: RepoType,
        library: Option<&str>,
        events: &[LogEvent],
    ) -> u64 {
        let candidates = events.iter().filter(|e| self.is_candidate(e));
        match repo_type {
            RepoType::Model => candidates
                .filter(|e| {
                    e.path
                        .as_deref()
                        .is_none_or(|p| self.model_path_counts(library, p))
                })
                .count() as u64,
            RepoType::Dataset => {
                let window_ms = i64::from(self.dataset_window_secs.max(1)) * 1000;
                let seen: HashSet<(i64, Downloader)> = candidates
                    .map(|e| (e.at_ms.div_euclid(window_ms), downloader(e)))
                    .collect();
                seen.len() as u64
            }
        }
    }
}

fn downloader(e: &LogEvent) -> Downloader<'_> {
    match (&e.user, &e.ip) {
        (Some(u), _) => Downloader::User(u),
        (None, Some(ip)) => Downloader::Ip(ip),
        (None, None) => Downloader::Alone(e.key()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{RepoKey, RepoName};

    fn event(repo_type: RepoType, secs: i64, user: Option<&str>, ip: Option<&str>) -> LogEvent {
        LogEvent {
            repo: RepoKey {
                repo_type,
                name: RepoName::parse("acme/r").unwrap(),
            },
            at_ms: 1_714_521_600_000 + secs * 1000, // 2024-05-01T00:00:00Z
            method: "GET".into(),
            status: 200,
            path: None,
            user: user.map(str::to_owned),
            ip: ip.map(str::to_owned),
        }
    }

    #[test]
    fn a_rules_file_overrides_only_its_keys() {
        let rules = Rules::parse_toml("statuses = [200]\nmethods = [\"get\"]\n").unwrap();
        assert_eq!(rules.statuses, vec![200]);
        assert_eq!(rules.methods, vec!["GET".to_owned()]);
        assert_eq!(rules.dataset_window_secs, 300);
        assert_eq!(Rules::parse_toml("").unwrap(), Rules::default());
        for bad in [
            "dataset_window_secs = 7",
            "statuses = [42]",
            "colour = 1",
            "methods = [\"G T\"]",
        ] {
            assert!(Rules::parse_toml(bad).is_err(), "{bad}");
        }
    }

    /// The rules file in docs/LOGS.md lists the defaults.
    #[test]
    fn the_documented_rules_file_is_the_default() {
        let readme = include_str!("../../../docs/LOGS.md");
        let start = readme.find("# rules.toml").unwrap();
        let end = start + readme[start..].find("```").unwrap();
        assert_eq!(
            Rules::parse_toml(&readme[start..end]).unwrap(),
            Rules::default()
        );
    }

    /// The `[libraries]` example of docs/LOGS.md parses.
    #[test]
    fn the_documented_libraries_example_parses() {
        let readme = include_str!("../../../docs/LOGS.md");
        let start = readme.find("[libraries]\nmylib").unwrap();
        let end = start + readme[start..].find("```").unwrap();
        let rules = Rules::parse_toml(&readme[start..end]).unwrap();
        assert!(rules.model_path_counts(Some("peft"), "adapter_model.bin"));
        assert!(rules.model_path_counts(Some("timm"), "config.json"));
    }

    /// The `[[agent_classes]]` example of docs/LOGS.md parses, and its shipped-classes table is the
    /// default.
    #[test]
    fn the_documented_agent_classes_are_the_rules() {
        let readme = include_str!("../../../docs/LOGS.md");
        let start = readme
            .find("[[agent_classes]]\nclass = \"mirror\"")
            .unwrap();
        let end = start + readme[start..].find("```").unwrap();
        let rules = Rules::parse_toml(&readme[start..end]).unwrap();
        assert_eq!(rules.agent_classes.classify(Some("MirrorBot/2")), "mirror");
        let table: Vec<String> = readme
            .lines()
            .skip_while(|l| !l.starts_with("| Class | Patterns |"))
            .skip(2)
            .take_while(|l| l.starts_with("| `"))
            .map(str::to_owned)
            .collect();
        let shipped: Vec<String> = AgentClasses::default()
            .iter()
            .map(|c| {
                let patterns: Vec<String> = c.patterns.iter().map(|p| format!("`{p}`")).collect();
                format!("| `{}` | {} |", c.class, patterns.join(", "))
            })
            .collect();
        assert_eq!(table, shipped);
    }

    #[test]
    fn candidates_are_get_or_head_with_counted_statuses() {
        let rules = Rules::default();
        let mut e = event(RepoType::Model, 0, None, None);
        for (method, status, counts) in [
            ("GET", 200, true),
            ("HEAD", 302, true),
            ("GET", 304, true),
            ("GET", 307, true),
            ("GET", 206, false),
            ("GET", 404, false),
            ("POST", 200, false),
        ] {
            e.method = method.into();
            e.status = status;
            assert_eq!(rules.is_candidate(&e), counts, "{method} {status}");
        }
    }

    #[test]
    fn model_paths_count_root_query_files_and_any_gguf() {
        let rules = Rules::default();
        for (path, counts) in [
            ("config.json", true),
            ("meta.yaml", true),
            ("sub/config.json", false),
            ("model.safetensors", false),
            ("q4/model-Q4_K_M.gguf", true),
            ("model.gguf", true),
            (".gguf", false),
            ("notes.gguf.txt", false),
        ] {
            assert_eq!(rules.model_path_counts(None, path), counts, "{path}");
        }
        let mut with_path = event(RepoType::Model, 0, None, None);
        with_path.path = Some("README.md".into());
        let without = event(RepoType::Model, 1, None, None);
        assert_eq!(
            rules.downloads(RepoType::Model, None, &[with_path, without]),
            1
        );
    }

    #[test]
    fn datasets_count_one_per_downloader_per_five_minute_window() {
        let rules = Rules::default();
        let d = RepoType::Dataset;
        let events = [
            event(d, 0, Some("u"), Some("ip1")),
            event(d, 299, Some("u"), Some("ip2")), // same user, same window
            event(d, 300, Some("u"), None),        // next window
            event(d, 10, None, Some("ip1")),       // no user: by address
            event(d, 20, None, Some("ip1")),
            event(d, 30, None, None), // neither: alone
            event(d, 31, None, None),
        ];
        assert_eq!(rules.downloads(d, None, &events), 5);
    }

    #[test]
    fn a_librarys_rule_replaces_the_root_files_and_gguf_still_counts() {
        let rules = Rules::default();
        for (library, path, counts) in [
            (Some("peft"), "adapter_config.json", true),
            (Some("peft"), "config.json", false),
            (Some("peft"), "q/m.gguf", true),
            (Some("timm"), "model.safetensors", true),
            (Some("spacy"), "en_core_web_sm-any-py3-none-any.whl", true),
            (Some("nemo"), "sub/x.json", true),
            (Some("transformers"), "config.json", true), // no rule: the default files
            (Some("transformers"), "model.safetensors", false),
            (Some("no-such-library"), "config.json", true),
            (None, "adapter_config.json", false),
        ] {
            assert_eq!(
                rules.model_path_counts(library, path),
                counts,
                "{library:?} {path}"
            );
        }
    }

    #[test]
    fn a_rules_file_adds_and_overrides_libraries() {
        let rules = Rules::parse_toml(
            "[libraries]\npeft = 'path_extension:\"safetensors\"'\n\
             mylib = 'path_prefix:\"weights/\"'\ntimm = \"\"\n",
        )
        .unwrap();
        assert!(rules.model_path_counts(Some("peft"), "a.safetensors"));
        assert!(!rules.model_path_counts(Some("peft"), "adapter_config.json"));
        assert!(rules.model_path_counts(Some("mylib"), "weights/x"));
        assert!(rules.model_path_counts(Some("timm"), "config.json"));
        assert!(rules.model_path_counts(Some("open_clip"), "model.safetensors"));
        let e = Rules::parse_toml("[libraries]\npeft = 'path:'\n").unwrap_err();
        assert!(
            e.to_string()
                .contains("libraries.peft: at character 6: expected a quoted value"),
            "{e}"
        );
        let e = Rules::parse_toml("[libraries]\n\"a b\" = ''\n").unwrap_err();
        assert!(e.to_string().contains("not a library name"), "{e}");
    }

    #[test]
    fn a_rules_file_replaces_the_agent_classes() {
        let rules = Rules::parse_toml(
            "[[agent_classes]]\nclass = \"mirror\"\npatterns = [\"MirrorBot/\"]\n",
        )
        .unwrap();
        assert_eq!(
            rules.agent_classes.classify(Some("mirrorbot/1.0")),
            "mirror"
        );
        assert_eq!(rules.agent_classes.classify(Some("curl/8")), OTHER_AGENT);
        for bad in [
            "[[agent_classes]]\nclass = \"\"\npatterns = [\"x\"]\n",
            "[[agent_classes]]\nclass = \"x\"\npatterns = []\n",
            "[[agent_classes]]\nclass = \"x\"\npatterns = [\"\"]\n",
        ] {
            assert!(Rules::parse_toml(bad).is_err(), "{bad}");
        }
    }
}
