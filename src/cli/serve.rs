use anyhow::{bail, Result};

use crate::config::Config;

pub fn serve(_config: &Config) -> Result<()> {
    bail!("serve is not written yet")
}

pub fn demo(_config: &Config, _repos: usize, _serve: bool) -> Result<()> {
    bail!("demo is not written yet")
}
