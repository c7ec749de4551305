//! Reads of the durable layout: an organization's version, the repositories changed since a
//! version (to build or patch an index), sources, and the streamed export.

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::chunk;
use super::{repo_type_from_code, StoreResult};
use crate::domain::{Day, DayRange, OrgName, RepoKey, RepoName};
use crate::store::index::RepoSeries;
use crate::store::{CountsStats, DailyRow, SourceId, SourceInfo, StoreError};

/// The organization's id and data version.
pub(super) fn org(conn: &Connection, org: &OrgName) -> StoreResult<Option<(i64, u64)>> {
    let mut stmt = conn.prepare_cached("SELECT id, version FROM count_orgs WHERE name = ?1")?;
    let row = stmt
        .query_row([org.as_str()], |r| Ok((r.get(0)?, r.get::<_, i64>(1)?)))
        .optional()?;
    Ok(row.map(|(id, v)| (id, v as u64)))
}

pub(super) fn repo_count(conn: &Connection, org: &OrgName) -> StoreResult<u64> {
    let mut stmt = conn.prepare_cached(
        "SELECT COUNT(*) FROM count_repos r JOIN count_orgs o ON o.id = r.org_id WHERE o.name = ?1",
    )?;
    let n: i64 = stmt.query_row([org.as_str()], |r| r.get(0))?;
    Ok(n as u64)
}

pub(super) fn source(conn: &Connection, source: &SourceId) -> StoreResult<Option<SourceInfo>> {
    let mut stmt = conn.prepare_cached(
        "SELECT s.applied_unix, (SELECT COALESCE(SUM(c.rows), 0) FROM chunks c WHERE c.source_id = s.id) \
         FROM sources s WHERE s.name = ?1",
    )?;
    let row = stmt
        .query_row([source.as_str()], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
        })
        .optional()?;
    Ok(row.map(|(applied_unix, rows)| SourceInfo {
        source: source.clone(),
        rows: rows as u64,
        applied_unix,
    }))
}

/// The organization's rows of each source holding some, by source id: one pass over its
/// repositories' chunks (the `(repo_id, span, source_id)` key).
pub(super) fn org_source_rows(conn: &Connection, org_id: i64) -> StoreResult<Vec<(i64, u64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT c.source_id, SUM(c.rows) FROM count_repos r JOIN chunks c ON c.repo_id = r.id \
         WHERE r.org_id = ?1 GROUP BY c.source_id HAVING SUM(c.rows) > 0",
    )?;
    let rows = stmt.query_map([org_id], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Every source by id: its name and when it last wrote.
pub(super) fn sources_by_id(conn: &Connection) -> StoreResult<Vec<(i64, SourceId, i64)>> {
    let mut stmt = conn.prepare_cached("SELECT id, name, applied_unix FROM sources")?;
    let rows = stmt.query_map([], |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get(2)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, name, applied) = row?;
        out.push((id, SourceId::parse(&name)?, applied));
    }
    Ok(out)
}

/// The sources holding rows, with their rows (one pass over the chunks), and the repositories.
pub(super) fn stats(conn: &Connection) -> StoreResult<CountsStats> {
    let repositories: i64 = conn.query_row("SELECT COUNT(*) FROM count_repos", [], |r| r.get(0))?;
    let mut stmt = conn.prepare(
        "SELECT s.name, s.applied_unix, c.rows FROM sources s \
         JOIN (SELECT source_id, SUM(rows) AS rows FROM chunks GROUP BY source_id) c \
           ON c.source_id = s.id \
         WHERE c.rows > 0 ORDER BY s.name",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, i64>(2)?,
        ))
    })?;
    let mut sources = Vec::new();
    for row in rows {
        let (name, applied_unix, rows) = row?;
        sources.push(SourceInfo {
            source: SourceId::parse(&name)?,
            rows: rows as u64,
            applied_unix,
        });
    }
    Ok(CountsStats {
        repositories: repositories as u64,
        sources,
    })
}

pub(super) fn repo_key(code: i64, name: &str) -> StoreResult<RepoKey> {
    let name = RepoName::parse(name)
        .map_err(|e| StoreError::Backend(format!("stored repository name: {e}").into()))?;
    Ok(RepoKey {
        repo_type: repo_type_from_code(code)?,
        name,
    })
}

/// A repository read back: id, key, adjustment, and its days with every source summed.
type MergedRepo = (i64, RepoKey, i64, Vec<(i32, u64)>);

/// Collects consecutive result rows of one repository (`id` in column 0, chunks' `span` and
/// `data` in columns 4 and 5, NULL for a repository without chunks) into its merged days.
struct RepoRows {
    id: i64,
    key: RepoKey,
    adjustment: i64,
    days: Vec<(i32, u64)>,
}

impl RepoRows {
    fn start(row: &Row<'_>) -> StoreResult<Self> {
        let name = row.get_ref(2)?.as_str().map_err(rusqlite::Error::from)?;
        Ok(RepoRows {
            id: row.get(0)?,
            key: repo_key(row.get(1)?, name)?,
            adjustment: row.get(3)?,
            days: Vec::new(),
        })
    }

    fn add_chunk(&mut self, row: &Row<'_>) -> StoreResult<()> {
        let Some(span) = row.get::<_, Option<i32>>(4)? else {
            return Ok(());
        };
        let data = row.get_ref(5)?.as_blob().map_err(rusqlite::Error::from)?;
        chunk::decode(span, data, &mut self.days)
    }

    /// Days ascending, the sources of one day summed.
    fn merged(mut self) -> StoreResult<MergedRepo> {
        self.days.sort_by_key(|(d, _)| *d);
        let mut merged: Vec<(i32, u64)> = Vec::with_capacity(self.days.len());
        for (day, n) in self.days {
            match merged.last_mut() {
                Some((d, sum)) if *d == day => {
                    *sum = sum.checked_add(n).ok_or_else(|| {
                        StoreError::Invalid(format!("the downloads of {} overflow", self.key.name))
                    })?
                }
                _ => merged.push((day, n)),
            }
        }
        Ok((self.id, self.key, self.adjustment, merged))
    }
}

/// Walks query rows grouped by repository, calling `f` with each repository's merged days.
fn for_each_repo(
    mut rows: rusqlite::Rows<'_>,
    f: &mut dyn FnMut(MergedRepo) -> StoreResult<()>,
) -> StoreResult<()> {
    let mut current: Option<RepoRows> = None;
    while let Some(row) = rows.next()? {
        let id: i64 = row.get(0)?;
        if current.as_ref().is_none_or(|c| c.id != id) {
            if let Some(done) = current.take() {
                f(done.merged()?)?;
            }
            current = Some(RepoRows::start(row)?);
        }
        if let Some(c) = current.as_mut() {
            c.add_chunk(row)?;
        }
    }
    if let Some(done) = current {
        f(done.merged()?)?;
    }
    Ok(())
}

const REPO_CHUNKS: &str = "SELECT r.id, r.repo_type, r.name, r.adjustment, c.span, c.data \
     FROM count_repos r LEFT JOIN chunks c ON c.repo_id = r.id";

/// The repositories of the organization changed after `since` (all of them for -1), with
/// their merged series.
pub(super) fn repos_since(
    conn: &Connection,
    org_id: i64,
    since: i64,
) -> StoreResult<Vec<(i64, RepoSeries)>> {
    let mut stmt = conn.prepare_cached(&format!(
        "{REPO_CHUNKS} WHERE r.org_id = ?1 AND r.version > ?2 ORDER BY r.id, c.span"
    ))?;
    let mut out = Vec::new();
    for_each_repo(stmt.query(params![org_id, since])?, &mut |(
        id,
        key,
        adj,
        days,
    )| {
        out.push((id, RepoSeries::new(key, adj, &days)?));
        Ok(())
    })?;
    Ok(out)
}

/// Streams the organization's daily rows in export order, one repository in memory at a time:
/// repositories from the `(org_id, repo_type, name)` index, each one's chunks from the
/// `(repo_id, span, source_id)` key, so SQLite never sorts.
pub(super) fn stream_org(
    conn: &Connection,
    org: &OrgName,
    range: Option<DayRange>,
    f: &mut dyn FnMut(DailyRow<'_>) -> std::io::Result<()>,
) -> StoreResult<()> {
    let Some((org_id, _)) = self::org(conn, org)? else {
        return Ok(());
    };
    let mut stmt = conn.prepare_cached(&format!(
        "{REPO_CHUNKS} WHERE r.org_id = ?1 ORDER BY r.repo_type, r.name, c.span"
    ))?;
    let (from, to) = range.map_or((i32::MIN, i32::MAX), |r| {
        (r.from.epoch_days(), r.to.epoch_days())
    });
    let result = for_each_repo(stmt.query([org_id])?, &mut |(_, key, adj, days)| {
        let sum: u64 = days.iter().map(|(_, n)| n).sum();
        let total = u64::try_from((i128::from(adj) + i128::from(sum)).max(0)).unwrap_or(0);
        for &(day, downloads) in days.iter().filter(|(d, _)| (from..=to).contains(d)) {
            let row = DailyRow {
                repo_type: key.repo_type,
                repo_name: key.name.as_str(),
                total,
                day: Day::from_epoch_days(day),
                downloads,
            };
            f(row).map_err(|e| StoreError::Backend(Box::new(e)))?;
        }
        Ok(())
    });
    result
}

/// Every repository-day value of `source`, by repository and day (for a copy of the store).
pub(super) fn source_days(
    conn: &Connection,
    source: &SourceId,
    f: &mut dyn FnMut(&RepoKey, Day, u64) -> StoreResult<()>,
) -> StoreResult<()> {
    let mut stmt = conn.prepare(
        "SELECT r.repo_type, r.name, c.span, c.data FROM chunks c \
         JOIN count_repos r ON r.id = c.repo_id JOIN sources s ON s.id = c.source_id \
         WHERE s.name = ?1 ORDER BY r.repo_type, r.name, c.span",
    )?;
    let mut rows = stmt.query([source.as_str()])?;
    let mut days = Vec::new();
    while let Some(r) = rows.next()? {
        let name: String = r.get(1)?;
        let name = RepoName::parse(&name)
            .map_err(|e| StoreError::Backend(format!("stored repository: {e}").into()))?;
        let repo = RepoKey {
            repo_type: repo_type_from_code(r.get(0)?)?,
            name,
        };
        days.clear();
        let data: Vec<u8> = r.get(3)?;
        chunk::decode(r.get(2)?, &data, &mut days)?;
        for &(day, n) in &days {
            if n > 0 {
                f(&repo, Day::from_epoch_days(day), n)?;
            }
        }
    }
    Ok(())
}
