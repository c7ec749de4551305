use anyhow::{bail, Result};

use super::{MemberCommand, OrgCommand, TokenCommand, UserCommand};
use crate::config::Config;

pub fn org(_config: &Config, _c: OrgCommand) -> Result<()> {
    bail!("org commands are not written yet")
}
pub fn user(_config: &Config, _c: UserCommand) -> Result<()> {
    bail!("user commands are not written yet")
}
pub fn member(_config: &Config, _c: MemberCommand) -> Result<()> {
    bail!("member commands are not written yet")
}
pub fn token(_config: &Config, _c: TokenCommand) -> Result<()> {
    bail!("token commands are not written yet")
}
