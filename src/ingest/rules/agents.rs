//! User-agent classes: which client made a request (`huggingface_hub`, `transformers`, `git`,
//! `browser`, a crawler, CI, …), kept with each event for breakdowns; counts include every
//! class. A class matches when its user-agent contains one of its patterns, ignoring ASCII
//! case; the first matching class in order wins (so `sentence-transformers` comes before
//! `transformers`, whose pattern it contains, and crawlers before browsers); no match (or no
//! user-agent) is `other`. A rules file's `[[agent_classes]]` replaces the whole list.

use serde::{Deserialize, Deserializer};

/// The class of a request no class matches, or without a user-agent.
pub const OTHER: &str = "other";
/// The most bytes of a user-agent looked at.
const MAX_AGENT: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentClass {
    pub class: String,
    /// Lower-case substrings of the user-agent.
    pub patterns: Vec<String>,
}

/// The classes in the order they are tried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentClasses(Vec<AgentClass>);

impl Default for AgentClasses {
    fn default() -> Self {
        let class = |class: &str, patterns: &[&str]| AgentClass {
            class: class.to_owned(),
            patterns: patterns.iter().map(|p| (*p).to_owned()).collect(),
        };
        AgentClasses(vec![
            class(
                "bot",
                &["bot", "crawler", "spider", "slurp", "facebookexternalhit"],
            ),
            class(
                "ci",
                &[
                    "ci/true",
                    "github-actions",
                    "gitlab-ci",
                    "jenkins",
                    "buildkite",
                    "circleci",
                    "travis-ci",
                ],
            ),
            class(
                "sentence-transformers",
                &["sentence_transformers/", "sentence-transformers/"],
            ),
            class("diffusers", &["diffusers/"]),
            class("transformers", &["transformers/"]),
            class("datasets", &["datasets/"]),
            class(
                "huggingface_hub",
                &["huggingface_hub/", "hf_hub/", "huggingface-cli/"],
            ),
            class("git", &["git/", "git-lfs/"]),
            class("curl/wget", &["curl/", "wget/"]),
            class("browser", &["mozilla/"]),
        ])
    }
}

impl AgentClasses {
    /// The class of a request made with `agent`.
    pub fn classify(&self, agent: Option<&str>) -> &str {
        let Some(agent) = agent else {
            return OTHER;
        };
        let mut end = agent.len().min(MAX_AGENT);
        while !agent.is_char_boundary(end) {
            end -= 1;
        }
        let agent = agent[..end].to_ascii_lowercase();
        self.0
            .iter()
            .find(|c| c.patterns.iter().any(|p| agent.contains(p.as_str())))
            .map_or(OTHER, |c| c.class.as_str())
    }

    pub fn iter(&self) -> impl Iterator<Item = &AgentClass> {
        self.0.iter()
    }
}

impl<'de> Deserialize<'de> for AgentClasses {
    /// A rules file's list: class names of 1 to 32 printable ASCII characters, non-empty
    /// patterns (compared in lower case).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut classes = Vec::<AgentClass>::deserialize(d)?;
        for (i, c) in classes.iter_mut().enumerate() {
            let printable = c.class.bytes().all(|b| b.is_ascii_graphic());
            if c.class.is_empty() || c.class.len() > 32 || !printable {
                return Err(serde::de::Error::custom(format!(
                    "agent_classes[{i}]: class {:?} is not 1 to 32 printable ASCII characters",
                    c.class
                )));
            }
            if c.patterns.is_empty() || c.patterns.iter().any(String::is_empty) {
                return Err(serde::de::Error::custom(format!(
                    "agent_classes[{i}] ({}): patterns must be non-empty strings",
                    c.class
                )));
            }
            for p in &mut c.patterns {
                p.make_ascii_lowercase();
            }
        }
        Ok(AgentClasses(classes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_classes_name_the_usual_clients() {
        let classes = AgentClasses::default();
        for (agent, class) in [
            (
                "transformers/4.44.0; python/3.11.9; hf_hub/0.24.5; torch/2.4.0",
                "transformers",
            ),
            (
                "sentence_transformers/3.0.1; hf_hub/0.24.5; python/3.11",
                "sentence-transformers",
            ),
            ("diffusers/0.30.0; hf_hub/0.24.5", "diffusers"),
            ("datasets/2.21.0; hf_hub/0.24.5; python/3.11", "datasets"),
            ("huggingface_hub/0.24.5; python/3.12", "huggingface_hub"),
            (
                "unknown/None; hf_hub/0.24.5; python/3.10",
                "huggingface_hub",
            ),
            ("git/2.43.0", "git"),
            ("git-lfs/3.5.1 (GitHub; linux amd64; go 1.21.8)", "git"),
            ("curl/8.5.0", "curl/wget"),
            ("Wget/1.21.4", "curl/wget"),
            (
                "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
                "browser",
            ),
            (
                "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
                "bot",
            ),
            ("transformers/4.44.0; hf_hub/0.24.5; ci/true", "ci"),
            ("python-requests/2.32.3", OTHER),
        ] {
            assert_eq!(classes.classify(Some(agent)), class, "{agent}");
        }
        assert_eq!(classes.classify(None), OTHER);
        let long = format!("{}curl/8", "é".repeat(600));
        assert_eq!(classes.classify(Some(&long)), OTHER); // past the bytes looked at
    }
}
