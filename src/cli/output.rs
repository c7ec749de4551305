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

/// A column of [`table`]: its heading and whether its values are numbers (aligned right).
pub struct Column {
    pub heading: &'static str,
    pub numeric: bool,
}

/// The lines of a table: the heading, then each row, every column as wide as its widest cell
/// (a 96-character organization name widens its column rather than pushing the next one
/// out of line), columns two spaces apart, no trailing blanks.
pub fn table(columns: &[Column], rows: &[Vec<String>]) -> Vec<String> {
    let width = |i: usize| {
        let cells = rows
            .iter()
            .filter_map(|r| r.get(i))
            .map(|c| c.chars().count());
        cells.fold(columns[i].heading.len(), usize::max)
    };
    let widths: Vec<usize> = (0..columns.len()).map(width).collect();
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = (cells.iter().enumerate())
            .map(|(i, cell)| match columns[i].numeric {
                true => format!("{cell:>w$}", w = widths[i]),
                false => format!("{cell:<w$}", w = widths[i]),
            })
            .collect();
        padded.join("  ").trim_end().to_owned()
    };
    let heading = line(columns.iter().map(|c| c.heading).collect());
    let body = rows
        .iter()
        .map(|r| line(r.iter().map(String::as_str).collect()));
    std::iter::once(heading).chain(body).collect()
}

#[cfg(test)]
mod tests {
    use super::{table, Column};

    #[test]
    fn rows_are_padded_like_the_heading() {
        let columns = [
            Column {
                heading: "ORGANIZATION",
                numeric: false,
            },
            Column {
                heading: "PLAN",
                numeric: false,
            },
            Column {
                heading: "REPOS",
                numeric: true,
            },
        ];
        let rows = [
            vec!["acme".to_owned(), "team".to_owned(), "4".to_owned()],
            vec![
                "Northwind-Labs".to_owned(),
                "free".to_owned(),
                "1200".to_owned(),
            ],
        ];
        assert_eq!(
            table(&columns, &rows),
            [
                "ORGANIZATION    PLAN  REPOS",
                "acme            team      4",
                "Northwind-Labs  free   1200",
            ]
        );
    }
}
