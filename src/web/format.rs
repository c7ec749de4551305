//! Number formatting for pages: thousands separators (`4,362,460`), compact figures (`4.36M`),
//! signed changes and percentages.

/// `4362460` → `4,362,460`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

const UNITS: [(u64, &str); 4] = [
    (1_000_000_000_000, "T"),
    (1_000_000_000, "B"),
    (1_000_000, "M"),
    (1_000, "k"),
];

/// At most three significant digits with a unit: `4362460` → `4.36M`, `12345` → `12.3k`,
/// `2500` → `2.5k`; below 1,000 the number itself.
pub fn compact(n: u64) -> String {
    for (i, (unit, suffix)) in UNITS.iter().enumerate() {
        if n < *unit {
            continue;
        }
        let value = n as f64 / *unit as f64;
        let decimals = if value < 10.0 {
            2
        } else if value < 100.0 {
            1
        } else {
            0
        };
        let text = format!("{value:.decimals$}");
        // Rounding can reach the next unit: 999,999 is 1M, not 1000k.
        if text == "1000" && i > 0 {
            return format!("1{}", UNITS[i - 1].1);
        }
        let text = if text.contains('.') {
            text.trim_end_matches('0').trim_end_matches('.')
        } else {
            &text
        };
        return format!("{text}{suffix}");
    }
    n.to_string()
}

/// A size in bytes for people, in decimal units (1 MB = 1,000,000 bytes; the one convention of
/// hubstats' pages and commands): `531 MB`, `12 kB`, `1.2 GB`, `900 B`. (Chrome and Firefox
/// label binary units "MB": they show the same file about 5% smaller.)
pub fn bytes(n: u64) -> String {
    let units = [
        (1_000_000_000_000, "TB"),
        (1_000_000_000, "GB"),
        (1_000_000, "MB"),
        (1_000, "kB"),
    ];
    for (unit, name) in units {
        if n >= unit {
            let value = n as f64 / unit as f64;
            return if value < 10.0 {
                format!("{value:.1} {name}")
            } else {
                format!("{value:.0} {name}")
            };
        }
    }
    format!("{n} B")
}

/// `+1,234`, `−56` (a real minus sign), `0`.
pub fn signed(n: i64) -> String {
    let abs = thousands(n.unsigned_abs());
    match n {
        0 => abs,
        n if n > 0 => format!("+{abs}"),
        _ => format!("\u{2212}{abs}"),
    }
}

/// The change from `previous` to `now` in percent, one decimal: `+12.5%`; `None` when there
/// was nothing before (a change from zero has no percentage).
pub fn percent_change(now: u64, previous: u64) -> Option<String> {
    if previous == 0 {
        return None;
    }
    let pct = (now as f64 - previous as f64) / previous as f64 * 100.0;
    let text = format!("{:.1}%", pct.abs());
    Some(match pct {
        p if text == "0.0%" || p == 0.0 => text,
        p if p > 0.0 => format!("+{text}"),
        _ => format!("\u{2212}{text}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        let cases = [
            (0, "0"),
            (999, "999"),
            (1000, "1,000"),
            (4362460, "4,362,460"),
        ];
        for (n, s) in cases {
            assert_eq!(thousands(n), s);
        }
        assert_eq!(thousands(u64::MAX), "18,446,744,073,709,551,615");
    }

    #[test]
    fn compact_figures() {
        let cases = [
            (0, "0"),
            (999, "999"),
            (1000, "1k"),
            (2_500, "2.5k"),
            (12_345, "12.3k"),
            (123_456, "123k"),
            (999_999, "1M"),
            (1_000_500, "1M"),
            (4_362_460, "4.36M"),
            (2_167_284_000, "2.17B"),
        ];
        for (n, s) in cases {
            assert_eq!(compact(n), s, "{n}");
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(bytes(900), "900 B");
        assert_eq!(bytes(12_345), "12 kB");
        assert_eq!(bytes(531_234_567), "531 MB");
        assert_eq!(bytes(1_234_000_000), "1.2 GB");
    }

    #[test]
    fn changes() {
        assert_eq!(signed(1234), "+1,234");
        assert_eq!(signed(-5), "\u{2212}5");
        assert_eq!(signed(0), "0");
        assert_eq!(percent_change(150, 100).as_deref(), Some("+50.0%"));
        assert_eq!(percent_change(1, 3).as_deref(), Some("\u{2212}66.7%"));
        assert_eq!(percent_change(100_000, 100_001).as_deref(), Some("0.0%"));
        assert_eq!(percent_change(5, 0), None);
    }
}
