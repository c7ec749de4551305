//! Admin commands: organizations and plans, users, memberships and API tokens.

use std::io::Read;

use anyhow::{bail, Context, Result};

use super::{MemberCommand, OrgCommand, TokenCommand, UserCommand};
use crate::accounts;
use crate::config::{Config, DEFAULT_STORE};
use crate::domain::{OrgName, Username};
use crate::store::{self, SharedStore};

fn open(config: &Config) -> Result<SharedStore> {
    let location = config.store_or(DEFAULT_STORE);
    store::open(location).with_context(|| format!("opening the store {location}"))
}

fn org_name(s: &str) -> Result<OrgName> {
    OrgName::parse(s).context("organization name")
}

fn username(s: &str) -> Result<Username> {
    Username::parse(s).context("user name")
}

pub fn org(config: &Config, c: OrgCommand) -> Result<()> {
    let store = open(config)?;
    match c {
        OrgCommand::Create { org, plan } => {
            let org = org_name(&org)?;
            store.create_org(&org, plan)?;
            println!("created organization {org} on the {plan} plan");
        }
        OrgCommand::SetPlan { org, plan } => {
            let org = org_name(&org)?;
            store.set_plan(&org, plan)?;
            println!("organization {org} is now on the {plan} plan");
        }
        OrgCommand::List => {
            println!("{:<32} {:<10} {:>8}", "ORGANIZATION", "PLAN", "REPOS");
            for o in accounts::orgs_for_display(store.as_ref())? {
                println!("{:<32} {:<10} {:>8}", o.name, o.plan, o.repo_count);
            }
        }
    }
    Ok(())
}

pub fn user(config: &Config, c: UserCommand) -> Result<()> {
    let UserCommand::Create {
        user,
        password_stdin: _,
    } = c;
    let user = username(&user)?;
    let password = read_password(std::io::stdin().lock())?;
    let store = open(config)?;
    accounts::create_user(store.as_ref(), &user, &password)?;
    println!("created user {user}");
    Ok(())
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
            println!("{user} is a member of {org} with the {role} role");
        }
        MemberCommand::Remove { org, user } => {
            let (org, user) = (org_name(&org)?, username(&user)?);
            store.remove_member(&org, &user)?;
            println!("removed {user} from {org}");
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
            println!("created an API token for {user}; it is shown only this once:");
            println!("{token}");
        }
        TokenCommand::Revoke { token } => {
            if !accounts::revoke_token(store.as_ref(), &token)? {
                bail!("no live token matches (unknown or already revoked)");
            }
            println!("revoked the token");
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
