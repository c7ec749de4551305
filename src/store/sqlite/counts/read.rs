//! Reads of `Counts`. An unknown organization has no repositories, so its reads are empty.

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::{backend, repo_type_code, repo_type_from_code};
use crate::domain::{Day, DayRange, OrgName, RepoKey, RepoName, RepoType};
use crate::store::{DailyFilter, DailyRow, RepoSummary, StoreError, StoreResult};

const SUMMARY_COLUMNS: &str = "repo_type, name, adjustment, daily_sum, first_day, last_day";

fn org_id(conn: &Connection, org: &OrgName) -> StoreResult<Option<i64>> {
    let mut stmt = conn.prepare_cached("SELECT id FROM orgs WHERE name = ?1")?;
    Ok(stmt.query_row([org.as_str()], |r| r.get(0)).optional()?)
}

pub(super) fn repos(conn: &Connection, org: &OrgName) -> StoreResult<Vec<RepoSummary>> {
    let Some(org_id) = org_id(conn, org)? else {
        return Ok(Vec::new());
    };
    let sql =
        format!("SELECT {SUMMARY_COLUMNS} FROM repos WHERE org_id = ?1 ORDER BY repo_type, name");
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query([org_id])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(summary(row)?);
    }
    Ok(out)
}

pub(super) fn repo(conn: &Connection, repo: &RepoKey) -> StoreResult<Option<RepoSummary>> {
    let sql = format!(
        "SELECT {SUMMARY_COLUMNS} FROM repos \
         WHERE org_id = (SELECT id FROM orgs WHERE name = ?1) AND repo_type = ?2 AND name = ?3"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let org = repo.name.org();
    let mut rows = stmt.query(params![
        org.as_str(),
        repo_type_code(repo.repo_type),
        repo.name.as_str()
    ])?;
    rows.next()?.map(summary).transpose()
}

fn summary(row: &Row<'_>) -> StoreResult<RepoSummary> {
    let key = repo_key(row.get(0)?, text(row, 1)?)?;
    let adjustment: i64 = row.get(2)?;
    let daily_sum: i64 = row.get(3)?;
    let day = |i| -> StoreResult<Option<Day>> {
        Ok(row.get::<_, Option<i32>>(i)?.map(Day::from_epoch_days))
    };
    Ok(RepoSummary {
        key,
        total: total(adjustment, daily_sum),
        adjustment,
        first_day: day(4)?,
        last_day: day(5)?,
    })
}

fn text<'r>(row: &'r Row<'_>, i: usize) -> StoreResult<&'r str> {
    row.get_ref(i)?
        .as_str()
        .map_err(|e| backend(format!("stored text: {e}")))
}

fn repo_key(code: i64, name: &str) -> StoreResult<RepoKey> {
    let name =
        RepoName::parse(name).map_err(|e| backend(format!("stored repository name: {e}")))?;
    Ok(RepoKey {
        repo_type: repo_type_from_code(code)?,
        name,
    })
}

/// A total is never negative: a source total is a `u64`, and later writes only add.
fn total(adjustment: i64, daily_sum: i64) -> u64 {
    u64::try_from(adjustment.saturating_add(daily_sum)).unwrap_or(0)
}

/// Each repository's downloads in `range` as the difference of two running totals: the last
/// `cum` on or before the range's end minus the last `cum` before its start (two lookups on the
/// `(repo_id, day)` key per repository, whatever the range's length). Repositories whose days
/// all lie outside the range are skipped by their first and last day.
pub(super) fn period_sums(
    conn: &Connection,
    org: &OrgName,
    range: DayRange,
) -> StoreResult<Vec<(RepoKey, u64)>> {
    let Some(org_id) = org_id(conn, org)? else {
        return Ok(Vec::new());
    };
    let mut stmt = conn.prepare_cached(
        "SELECT repo_type, name, \
           COALESCE((SELECT cum FROM daily WHERE repo_id = r.id AND day <= ?3 \
                     ORDER BY day DESC LIMIT 1), 0) \
         - COALESCE((SELECT cum FROM daily WHERE repo_id = r.id AND day < ?2 \
                     ORDER BY day DESC LIMIT 1), 0) \
         FROM repos r \
         WHERE org_id = ?1 AND last_day >= ?2 AND first_day <= ?3 \
         ORDER BY repo_type, name",
    )?;
    let (from, to) = (range.from.epoch_days(), range.to.epoch_days());
    let mut rows = stmt.query(params![org_id, from, to])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let sum: i64 = row.get(2)?;
        if sum > 0 {
            out.push((repo_key(row.get(0)?, text(row, 1)?)?, sum as u64));
        }
    }
    Ok(out)
}

pub(super) fn org_daily(
    conn: &Connection,
    org: &OrgName,
    range: Option<DayRange>,
) -> StoreResult<Vec<(Day, RepoType, u64)>> {
    let Some(org_id) = org_id(conn, org)? else {
        return Ok(Vec::new());
    };
    let (from, to) = day_bounds(range);
    let mut stmt = conn.prepare_cached(
        "SELECT day, repo_type, downloads FROM org_days \
         WHERE org_id = ?1 AND day >= ?2 AND day <= ?3 ORDER BY day, repo_type",
    )?;
    let mut rows = stmt.query(params![org_id, from, to])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let downloads: i64 = row.get(2)?;
        out.push((
            Day::from_epoch_days(row.get(0)?),
            repo_type_from_code(row.get(1)?)?,
            downloads as u64,
        ));
    }
    Ok(out)
}

fn day_bounds(range: Option<DayRange>) -> (i32, i32) {
    range.map_or((i32::MIN, i32::MAX), |r| {
        (r.from.epoch_days(), r.to.epoch_days())
    })
}

const DAILY_SELECT: &str =
    "SELECT r.repo_type, r.name, r.adjustment + r.daily_sum, d.day, d.downloads \
     FROM repos r CROSS JOIN daily d ON d.repo_id = r.id \
     WHERE r.org_id = ?1 AND d.day >= ?2 AND d.day <= ?3";

/// Streams daily rows in export order: repositories from the `(org_id, repo_type, name)`
/// index, each one's days from the `(repo_id, day)` key, so SQLite never sorts or buffers.
pub(super) fn for_each_daily(
    conn: &Connection,
    org: &OrgName,
    filter: DailyFilter<'_>,
    f: &mut dyn FnMut(DailyRow<'_>) -> std::io::Result<()>,
) -> StoreResult<()> {
    let Some(org_id) = org_id(conn, org)? else {
        return Ok(());
    };
    let (from, to) = day_bounds(filter.range);
    let Some(keys) = filter.repos else {
        let mut stmt = conn.prepare_cached(&format!(
            "{DAILY_SELECT} ORDER BY r.repo_type, r.name, d.day"
        ))?;
        return stream(stmt.query(params![org_id, from, to])?, f);
    };
    let mut keys: Vec<&RepoKey> = keys.iter().filter(|k| k.name.org() == *org).collect();
    keys.sort();
    keys.dedup();
    let sql = format!("{DAILY_SELECT} AND r.repo_type = ?4 AND r.name = ?5 ORDER BY d.day");
    let mut stmt = conn.prepare_cached(&sql)?;
    for key in keys {
        let code = repo_type_code(key.repo_type);
        stream(
            stmt.query(params![org_id, from, to, code, key.name.as_str()])?,
            f,
        )?;
    }
    Ok(())
}

fn stream(
    mut rows: rusqlite::Rows<'_>,
    f: &mut dyn FnMut(DailyRow<'_>) -> std::io::Result<()>,
) -> StoreResult<()> {
    while let Some(row) = rows.next()? {
        let downloads: i64 = row.get(4)?;
        let daily = DailyRow {
            repo_type: repo_type_from_code(row.get(0)?)?,
            repo_name: text(row, 1)?,
            total: total(0, row.get(2)?),
            day: Day::from_epoch_days(row.get(3)?),
            downloads: downloads as u64,
        };
        f(daily).map_err(|e| StoreError::Backend(Box::new(e)))?;
    }
    Ok(())
}
