//! The demo organizations: a large Enterprise organization (its size is the `--repos` flag),
//! a small Team organization and a Free one, each with a fixed seed so that every run draws
//! the same repositories; and a Team organization whose downloads are counted from generated
//! request logs ([`log_org`]).

use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

use super::generator::{profile, OrgShape, RepoProfile};
use super::names::NamePicker;
use crate::domain::{NameError, OrgName, Plan, RepoKey, RepoType};

/// Names of every organization the demo writes; a store holding any other organization is
/// not a demo store.
pub const DEMO_ORG_NAMES: [&str; 5] = [
    "acme-ai",
    "Northwind-Labs",
    "tinker.garage",
    LOG_ORG_NAME,
    HUB_ORG_NAME,
];

/// The organization the demo fills from generated request logs, through `hubstats ingest`'s
/// path, rather than from invented daily counts.
pub const LOG_ORG_NAME: &str = "streamline-ml";

/// The organization the demo fills from simulated daily snapshots of a hub's public counters,
/// as `hubstats collect` would.
pub const HUB_ORG_NAME: &str = "open-weights-guild";

/// Default size of the large organization.
pub const DEFAULT_LARGE_REPOS: usize = 300;

/// One demo organization and how to draw its repositories.
#[derive(Debug, Clone)]
pub struct DemoOrg {
    pub name: &'static str,
    pub plan: Plan,
    pub repos: usize,
    seed: u64,
    dataset_share: f64,
    pub shape: OrgShape,
}

/// One demo repository: its key and download model.
#[derive(Debug, Clone)]
pub struct DemoRepo {
    pub key: RepoKey,
    pub profile: RepoProfile,
}

/// The demo organizations; the first (Enterprise) one has `large_repos` repositories.
pub fn demo_orgs(large_repos: usize) -> Vec<DemoOrg> {
    vec![
        DemoOrg {
            name: DEMO_ORG_NAMES[0],
            plan: Plan::Enterprise,
            repos: large_repos,
            seed: 0xAC3E_0001,
            dataset_share: 0.3,
            shape: OrgShape {
                history_days: 3 * 365 + 1,
                scale: 1.0,
                flagships: &[3000.0, 1200.0, 600.0],
            },
        },
        DemoOrg {
            name: DEMO_ORG_NAMES[1],
            plan: Plan::Team,
            repos: 28,
            seed: 0x0A7B_0002,
            dataset_share: 0.4,
            shape: OrgShape {
                history_days: 540,
                scale: 0.4,
                flagships: &[400.0],
            },
        },
        DemoOrg {
            name: DEMO_ORG_NAMES[2],
            plan: Plan::Free,
            repos: 6,
            seed: 0x7123_0003,
            dataset_share: 0.3,
            shape: OrgShape {
                history_days: 365,
                scale: 0.1,
                flagships: &[50.0],
            },
        },
    ]
}

/// The log-fed demo organization: 40 repositories whose popularity ranks their share of the
/// generated requests.
pub fn log_org() -> DemoOrg {
    DemoOrg {
        name: LOG_ORG_NAME,
        plan: Plan::Team,
        repos: 40,
        seed: 0x5_7EA3_0004,
        dataset_share: 0.35,
        shape: OrgShape {
            history_days: 30,
            scale: 1.0,
            flagships: &[2000.0, 800.0],
        },
    }
}

/// The snapshot-fed demo organization: 16 repositories, four months of daily snapshots.
pub fn hub_org() -> DemoOrg {
    DemoOrg {
        name: HUB_ORG_NAME,
        plan: Plan::Team,
        repos: 16,
        seed: 0x4B_0B5E_0005,
        dataset_share: 0.3,
        shape: OrgShape {
            history_days: 120,
            scale: 1.0,
            flagships: &[900.0, 300.0],
        },
    }
}

impl DemoOrg {
    pub fn org_name(&self) -> Result<OrgName, NameError> {
        OrgName::parse(self.name)
    }

    /// Every repository of the organization, always the same ones in the same order; the
    /// first N do not depend on how many there are in all.
    pub fn draw_repos(&self) -> Result<Vec<DemoRepo>, NameError> {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let mut names = NamePicker::new(self.name);
        (0..self.repos)
            .map(|index| {
                let repo_type = if index > 0 && rng.random_bool(self.dataset_share) {
                    RepoType::Dataset
                } else {
                    RepoType::Model
                };
                let key = names.next(&mut rng, repo_type)?;
                let profile = profile(self.seed, index, repo_type, &self.shape);
                Ok(DemoRepo { key, profile })
            })
            .collect()
    }
}
