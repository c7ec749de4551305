//! What to do after `ingest` or `import` created organizations. They start on the free plan
//! with no members, so their dashboards answer 403 until someone is a member and the plan has
//! analytics: the commands that get there, ready to copy, on standard error.

use std::collections::BTreeSet;

use std::io::Write;

use anyhow::{Context, Result};

use crate::config::{Config, DEFAULT_STORE};
use crate::domain::OrgName;
use crate::store::Store;

/// Organizations named one by one; beyond, `org list` shows the rest.
const NAMED: usize = 3;

/// The organizations the store holds now.
pub(super) fn org_names(store: &dyn Store) -> Result<BTreeSet<OrgName>> {
    Ok(store.orgs()?.into_iter().map(|o| o.name).collect())
}

/// Prints the next steps for the organizations created since `known` was read that are still
/// on the free plan or without members (nothing when there is none).
pub(super) fn print(config: &Config, store: &dyn Store, known: &BTreeSet<OrgName>) -> Result<()> {
    let mut waiting = Vec::new();
    for org in store.orgs()? {
        let new = !known.contains(&org.name);
        if new && (!org.plan.has_analytics() || store.members(&org.name)?.is_empty()) {
            waiting.push(org.name);
        }
    }
    waiting.sort_by(crate::accounts::display_order);
    // Advice, not the command's result: on standard error, so that scripts reading the
    // summaries see the same output as before.
    let mut err = std::io::stderr().lock();
    for line in lines(&command(config), &waiting) {
        writeln!(err, "{line}").context("writing to standard error")?;
    }
    Ok(())
}

/// `hubstats`, with the store when it is not the default one.
fn command(config: &Config) -> String {
    match config.store.as_deref() {
        None | Some(DEFAULT_STORE) => "hubstats".to_owned(),
        // A ClickHouse location may hold a password: not repeated on the screen.
        Some(s) if s.starts_with("clickhouse") => "hubstats --store <the same store>".to_owned(),
        Some(s) if s.contains(|c: char| c.is_whitespace() || c == '\'') => {
            format!("hubstats --store \"{s}\"")
        }
        Some(s) => format!("hubstats --store {s}"),
    }
}

fn lines(hubstats: &str, orgs: &[OrgName]) -> Vec<String> {
    let Some(first) = orgs.first() else {
        return Vec::new();
    };
    let (named, more) = orgs.split_at(orgs.len().min(NAMED));
    let names: Vec<&str> = named.iter().map(OrgName::as_str).collect();
    let mut out = vec![
        String::new(),
        format!(
            "{} {} on the free plan with no members: {} dashboard answers 403 until a \
             member signs in on the Team or Enterprise plan. Next:",
            match orgs.len() {
                1 => format!("New organization {}", names[0]),
                n => format!(
                    "{n} new organizations ({}{})",
                    names.join(", "),
                    match more.len() {
                        0 => String::new(),
                        m => format!(" and {m} more: `{hubstats} org list`"),
                    }
                ),
            },
            if orgs.len() == 1 { "is" } else { "are" },
            if orgs.len() == 1 { "its" } else { "each one's" },
        ),
        format!("  {hubstats} user create USER            # asks for a password"),
    ];
    for org in named {
        out.push(format!("  {hubstats} member add {org} USER"));
        out.push(format!("  {hubstats} org set-plan {org} team"));
    }
    out.push(format!(
        "  {hubstats} serve                       # then sign in as USER: \
         /organizations/{first}/settings/publisher-analytics"
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_organization_gets_its_commands() {
        let acme = OrgName::parse("acme").unwrap();
        let text = lines("hubstats", &[acme]).join("\n");
        assert!(text.contains("New organization acme is on the free plan with no members"));
        assert!(text.contains("  hubstats member add acme USER\n"), "{text}");
        assert!(
            text.contains("  hubstats org set-plan acme team\n"),
            "{text}"
        );
        assert!(lines("hubstats", &[]).is_empty());
    }

    #[test]
    fn many_organizations_are_named_up_to_three() {
        let orgs: Vec<OrgName> = ["a", "b", "c", "d", "e"]
            .iter()
            .map(|n| OrgName::parse(n).unwrap())
            .collect();
        let text = lines("hubstats --store x.db", &orgs).join("\n");
        assert!(
            text.contains(
                "5 new organizations (a, b, c and 2 more: `hubstats --store x.db org list`) are"
            ),
            "{text}"
        );
        assert!(text.contains("member add c USER") && !text.contains("member add d"));
    }
}
