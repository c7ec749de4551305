//! Domain types of the data contract (see `docs/DATA.md`): what a repository, a day, a period and
//! an account role are. Every type here validates on construction, so the rest of the code
//! never sees an invalid name, date or range. This module knows nothing of storage or HTTP.

mod account;
mod day;
mod event;
mod library;
mod name;
mod period;

pub use account::{IngestKeyName, Plan, Role, Username};
pub use day::Day;
pub use event::LogEvent;
pub use library::{LibraryName, LibraryNameError};
pub use name::{NameError, OrgName, RepoName, RepoType};
pub use period::{DayRange, Period, PeriodError, PeriodKind};

/// One repository: its type and full `org/name`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RepoKey {
    pub repo_type: RepoType,
    pub name: RepoName,
}
