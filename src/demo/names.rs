//! Plausible repository names (`llama-7b-instruct`, `Mistral-7B-v0.3-GGUF`,
//! `common-crawl-dedup`, `wiki_en_2023`), drawn from a small vocabulary. Every name passes
//! [`RepoName::parse`]; duplicates are made unique with a `-v2`, `-v3`… suffix.

use std::collections::HashSet;

use rand::seq::IndexedRandom;
use rand::{Rng, RngExt};

use crate::domain::{NameError, RepoKey, RepoName, RepoType};

const FAMILIES: &[&str] = &[
    "llama",
    "Llama",
    "mistral",
    "Mistral",
    "qwen",
    "Qwen2.5",
    "phi",
    "phi-3.5",
    "gemma",
    "falcon",
    "bert",
    "roberta",
    "CodeBERTa",
    "t5",
    "flan-t5",
    "whisper",
    "wav2vec2",
    "clip",
    "vit",
    "sdxl",
    "stable-diffusion",
    "bloom",
    "gpt2",
    "GPT-J",
    "pythia",
    "mpt",
    "starcoder",
    "deberta-v3",
    "electra",
    "distilbert",
    "e5",
    "bge",
    "minilm",
    "yolo",
    "sam",
    "detr",
    "opus-mt",
    "marian",
    "OLMo",
    "Zephyr",
];
const SIZES: &[&str] = &[
    "7b", "7B", "13b", "70b", "1.3b", "2.7b", "350m", "125m", "base", "large", "small", "tiny",
    "xl", "3B", "8B", "0.5B", "mini",
];
const VARIANTS: &[&str] = &[
    "instruct",
    "chat",
    "base",
    "uncased",
    "cased",
    "v0.1",
    "v0.3",
    "v2",
    "v3",
    "it",
    "dpo",
    "sft",
    "code",
    "math",
    "multilingual",
    "en",
    "de",
    "fr",
    "ja",
    "zh",
    "finetuned",
    "distilled",
    "128k",
    "4k",
    "turbo",
];
const QUANTS: &[&str] = &["GGUF", "AWQ", "GPTQ", "int4", "int8", "fp16", "onnx", "mlx"];
const TASKS: &[&str] = &[
    "ner",
    "sentiment",
    "qa",
    "summarization",
    "translation",
    "embed",
    "rerank",
    "asr",
    "tts",
    "ocr",
];

const SOURCES: &[&str] = &[
    "common-crawl",
    "wikipedia",
    "arxiv",
    "github-code",
    "stackexchange",
    "openwebtext",
    "pubmed",
    "books",
    "reddit",
    "news",
    "patents",
    "legal",
    "math-word-problems",
    "speech-commands",
    "imagenet",
    "coco",
    "laion",
    "the-stack",
    "c4",
    "OSCAR",
];
const PROCESSES: &[&str] = &[
    "dedup",
    "filtered",
    "clean",
    "tokenized",
    "sample",
    "raw",
    "shuffled",
    "mini",
    "full",
    "v2",
    "decontaminated",
    "parquet",
];
const TOPICS: &[&str] = &[
    "wiki", "code", "chat", "math", "medical", "legal", "news", "speech", "vision", "reviews",
];
const LANGS: &[&str] = &[
    "en", "de", "fr", "es", "ja", "zh", "multi", "EN", "sw", "hi",
];
const COUNTS: &[&str] = &["10k", "50k", "100k", "1M", "5k", "250k"];

fn pick<'a>(rng: &mut impl Rng, words: &[&'a str]) -> &'a str {
    words.choose(rng).copied().unwrap_or("x")
}

/// A model name such as `llama-7b-instruct` or `Mistral-7B-v0.3-GGUF`.
fn model_name(rng: &mut impl Rng) -> String {
    let family = pick(rng, FAMILIES);
    match rng.random_range(0..10) {
        0..=4 => format!("{family}-{}-{}", pick(rng, SIZES), pick(rng, VARIANTS)),
        5 | 6 => format!(
            "{family}-{}-{}-{}",
            pick(rng, SIZES),
            pick(rng, VARIANTS),
            pick(rng, QUANTS)
        ),
        7 => format!("{family}_{}_{}", pick(rng, TASKS), pick(rng, LANGS)),
        8 => format!("{family}-{}", pick(rng, SIZES)),
        _ => format!("{family}.{}-{}", pick(rng, TASKS), pick(rng, SIZES)),
    }
}

/// A dataset name such as `common-crawl-dedup`, `wiki_en_2023` or `code-instructions-50k`.
fn dataset_name(rng: &mut impl Rng) -> String {
    match rng.random_range(0..8) {
        0..=2 => format!("{}-{}", pick(rng, SOURCES), pick(rng, PROCESSES)),
        3 | 4 => format!(
            "{}_{}_{}",
            pick(rng, TOPICS),
            pick(rng, LANGS),
            rng.random_range(2019..=2026)
        ),
        5 | 6 => format!("{}-instructions-{}", pick(rng, TOPICS), pick(rng, COUNTS)),
        _ => format!("{}.v{}", pick(rng, SOURCES), rng.random_range(1..=4)),
    }
}

/// Draws unique repository names for one organization, in order. The same sequence of calls
/// yields the same names, so the first N repositories do not depend on how many follow.
pub struct NamePicker {
    org: String,
    taken: HashSet<(RepoType, String)>,
}

impl NamePicker {
    pub fn new(org: &str) -> Self {
        NamePicker {
            org: org.to_owned(),
            taken: HashSet::new(),
        }
    }

    /// The next unique name of type `repo_type`.
    pub fn next(&mut self, rng: &mut impl Rng, repo_type: RepoType) -> Result<RepoKey, NameError> {
        let stem = match repo_type {
            RepoType::Model => model_name(rng),
            RepoType::Dataset => dataset_name(rng),
        };
        let mut short = stem.clone();
        let mut n = 2;
        while self.taken.contains(&(repo_type, short.clone())) {
            short = format!("{stem}-v{n}");
            n += 1;
        }
        let name = RepoName::parse(&format!("{}/{short}", self.org))?;
        self.taken.insert((repo_type, short));
        Ok(RepoKey { repo_type, name })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::ChaCha8Rng;
    use rand::SeedableRng;

    #[test]
    fn names_are_valid_unique_and_varied() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut picker = NamePicker::new("acme-ai");
        let mut seen = HashSet::new();
        for i in 0..5000 {
            let t = if i % 3 == 0 {
                RepoType::Dataset
            } else {
                RepoType::Model
            };
            let key = picker.next(&mut rng, t).unwrap();
            assert!(seen.insert(key.clone()), "duplicate {key:?}");
        }
        let all: String = seen.iter().map(|k| k.name.short()).collect();
        for c in ['-', '_', '.'] {
            assert!(all.contains(c), "no {c:?} in any name");
        }
        assert!(all.chars().any(|c| c.is_ascii_uppercase()));
    }
}
