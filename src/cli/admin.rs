//! Admin commands: organizations and plans, users, memberships and API tokens.

use std::io::{IsTerminal, Read};

use anyhow::{bail, Context, Result};

use super::output;
use super::{MemberCommand, OrgCommand, TokenCommand, UserCommand};
use crate::accounts;
use crate::config::Config;
use crate::domain::{OrgName, Username};
use crate::store::SharedStore;

/// Passwords shorter than this are refused (NIST SP 800-63B's minimum).
pub const MIN_PASSWORD_CHARS: usize = 8;

pub(super) fn open(config: &Config) -> Result<SharedStore> {
    super::data::open_store(config)
}

fn org_name(s: &str) -> Result<OrgName> {
    OrgName::parse(s).context("organization name")
}

fn username(s: &str) -> Result<Username> {
    Username::parse(s).context("user name")
}

/// A Unix time as a UTC date and time (`2026-11-27 13:05`).
pub(super) fn when(unix: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]");
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| unix.to_string())
}

pub fn org(config: &Config, c: OrgCommand) -> Result<()> {
    let store = open(config)?;
    match c {
        OrgCommand::Create { org, plan } => {
            let org = org_name(&org)?;
            store.create_org(&org, plan)?;
            output::line(format_args!(
                "created organization {org} on the {plan} plan"
            ))?;
        }
        OrgCommand::SetPlan { org, plan } => {
            let org = org_name(&org)?;
            store.set_plan(&org, plan)?;
            output::line(format_args!("organization {org} is now on the {plan} plan"))?;
        }
        OrgCommand::List => {
            let orgs = accounts::orgs_for_display(store.as_ref())?;
            let mut rows = Vec::with_capacity(orgs.len());
            for o in &orgs {
                let repos = store.repo_count(&o.name)?;
                rows.push(vec![
                    o.name.to_string(),
                    o.plan.to_string(),
                    repos.to_string(),
                ]);
            }
            let columns = [
                output::Column {
                    heading: "ORGANIZATION",
                    numeric: false,
                },
                output::Column {
                    heading: "PLAN",
                    numeric: false,
                },
                output::Column {
                    heading: "REPOS",
                    numeric: true,
                },
            ];
            output::lines(output::table(&columns, &rows))?;
        }
        OrgCommand::Delete { org, yes } => {
            let org = org_name(&org)?;
            store
                .org(&org)?
                .with_context(|| format!("organization {org} not found"))?;
            let repos = store.repo_count(&org)?;
            if !yes {
                bail!(
                    "this deletes organization {org}, its {} repositories, their download counts \
                     and its memberships; run again with --yes to do it",
                    repos
                );
            }
            store.delete_org(&org)?;
            output::line(format_args!(
                "deleted organization {org} and its {} repositories",
                repos
            ))?;
        }
    }
    Ok(())
}

pub fn user(config: &Config, c: UserCommand) -> Result<()> {
    match c {
        UserCommand::Create {
            user,
            password_stdin,
        } => {
            let user = username(&user)?;
            let password = new_password(password_stdin)?;
            let store = open(config)?;
            accounts::create_user(store.as_ref(), &user, &password)?;
            output::line(format_args!("created user {user}"))?;
        }
        UserCommand::SetPassword {
            user,
            password_stdin,
        } => {
            let user = username(&user)?;
            let store = open(config)?;
            if store.password_hash(&user)?.is_none() {
                bail!("user {user} not found");
            }
            let password = new_password(password_stdin)?;
            let hash = accounts::hash_password(&password)?;
            store.set_password_hash(&user, &hash)?;
            output::line(format_args!(
                "changed the password of {user}; their sessions have ended"
            ))?;
        }
        UserCommand::List => {
            let store = open(config)?;
            let header = format!("{:<32} {:>5} {:<16}", "USER", "ORGS", "CREATED (UTC)");
            let rows = store.users()?.into_iter().map(|u| {
                format!(
                    "{:<32} {:>5} {:<16}",
                    u.name.as_str(),
                    u.orgs,
                    when(u.created_unix)
                )
            });
            output::lines(std::iter::once(header).chain(rows))?;
        }
        UserCommand::Delete { user } => {
            let user = username(&user)?;
            open(config)?.delete_user(&user)?;
            output::line(format_args!(
                "deleted user {user} with their memberships, tokens and sessions"
            ))?;
        }
    }
    Ok(())
}

/// A new password: from standard input with `--password-stdin`, else asked twice on the
/// terminal without echo. At least [`MIN_PASSWORD_CHARS`] characters.
fn new_password(from_stdin: bool) -> Result<String> {
    let password = if from_stdin {
        read_password(std::io::stdin().lock())?
    } else if std::io::stdin().is_terminal() {
        prompt_twice()?
    } else {
        bail!("standard input is not a terminal: give the password with --password-stdin");
    };
    check_length(&password)?;
    Ok(password)
}

fn check_length(password: &str) -> Result<()> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        bail!("the password is too short: {chars} characters, at least {MIN_PASSWORD_CHARS}");
    }
    Ok(())
}

fn prompt_twice() -> Result<String> {
    let first = rpassword::prompt_password("Password: ").context("reading the password")?;
    check_length(&first)?;
    let second = rpassword::prompt_password("Password again: ").context("reading the password")?;
    if first != second {
        bail!("the two passwords differ; nothing was changed");
    }
    Ok(first)
}

/// The password from standard input: everything up to the end, without the final line break.
fn read_password(mut input: impl Read) -> Result<String> {
    let mut text = String::new();
    input
        .read_to_string(&mut text)
        .context("reading the password from standard input")?;
    let password = text.strip_suffix('\n').unwrap_or(&text);
    let password = password.strip_suffix('\r').unwrap_or(password);
    if password.is_empty() {
        bail!("the password on standard input is empty");
    }
    Ok(password.to_owned())
}

pub fn member(config: &Config, c: MemberCommand) -> Result<()> {
    let store = open(config)?;
    match c {
        MemberCommand::Add { org, user, role } => {
            let (org, user) = (org_name(&org)?, username(&user)?);
            store.set_member(&org, &user, role)?;
            output::line(format_args!(
                "{user} is a member of {org} with the {role} role"
            ))?;
        }
        MemberCommand::Remove { org, user } => {
            let (org, user) = (org_name(&org)?, username(&user)?);
            store.remove_member(&org, &user)?;
            output::line(format_args!("removed {user} from {org}"))?;
        }
        MemberCommand::List { org } => {
            let org = org_name(&org)?;
            let header = format!("{:<32} {:<6}", "USER", "ROLE");
            let rows = store
                .members(&org)?
                .into_iter()
                .map(|(user, role)| format!("{:<32} {:<6}", user.as_str(), role.as_str()));
            output::lines(std::iter::once(header).chain(rows))?;
        }
    }
    Ok(())
}

pub fn token(config: &Config, c: TokenCommand) -> Result<()> {
    let store = open(config)?;
    match c {
        TokenCommand::Create { user } => {
            let user = username(&user)?;
            let token = accounts::create_token(store.as_ref(), &user)?;
            output::lines([
                format!("created an API token for {user}; it is shown only this once:"),
                token,
            ])?;
        }
        TokenCommand::List { user } => {
            let user = username(&user)?;
            let header = format!(
                "{:<12} {:<16} {:<16} {}",
                "PREFIX", "CREATED (UTC)", "LAST USED (UTC)", "STATUS"
            );
            let rows = store.tokens(&user)?.into_iter().map(|t| {
                format!(
                    "{:<12} {:<16} {:<16} {}",
                    t.prefix.as_deref().unwrap_or("(unknown)"),
                    when(t.created_unix),
                    t.last_used_unix.map_or_else(|| "never".to_owned(), when),
                    t.revoked_unix
                        .map_or_else(|| "live".to_owned(), |r| format!("revoked {}", when(r))),
                )
            });
            output::lines(std::iter::once(header).chain(rows))?;
        }
        TokenCommand::Revoke { token } => {
            if !accounts::revoke_token(store.as_ref(), &token)? {
                bail!("no live token matches (unknown or already revoked)");
            }
            output::line("revoked the token")?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::read_password;

    #[test]
    fn password_loses_only_its_final_line_break() {
        assert_eq!(read_password(&b"s3cret\n"[..]).unwrap(), "s3cret");
        assert_eq!(read_password(&b"s3cret\r\n"[..]).unwrap(), "s3cret");
        assert_eq!(
            read_password(&b" spaced pass "[..]).unwrap(),
            " spaced pass "
        );
        assert!(read_password(&b"\n"[..]).is_err());
        assert!(read_password(&b""[..]).is_err());
    }
}
