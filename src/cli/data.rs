use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use crate::config::Config;

pub fn import(_config: &Config, _files: &[PathBuf]) -> Result<()> {
    bail!("import is not written yet")
}

pub fn export(_config: &Config, _org: &str, _output: Option<&Path>) -> Result<()> {
    bail!("export is not written yet")
}
