//! Printing to standard output. A reader that stops early (`hubstats org list | head -1`)
//! closes the pipe; that ends the output quietly instead of panicking like `println!`.

use std::fmt::Display;
use std::io::{ErrorKind, Write};

use anyhow::{Context, Result};

/// Writes `lines` to standard output, one per line; a closed pipe is not an error.
pub fn lines<I>(lines: I) -> Result<()>
where
    I: IntoIterator,
    I::Item: Display,
{
    let mut out = std::io::stdout().lock();
    let written = lines
        .into_iter()
        .try_for_each(|line| writeln!(out, "{line}"))
        .and_then(|()| out.flush());
    match written {
        Err(e) if e.kind() == ErrorKind::BrokenPipe => Ok(()),
        other => other.context("writing to standard output"),
    }
}

/// Writes one line to standard output (see [`lines`]).
pub fn line(text: impl Display) -> Result<()> {
    lines([text])
}
