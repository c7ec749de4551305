//! "Data through Dec 7, 2026 (request logs, last ingest 2 h ago; breakdown CSV imported
//! Nov 2, 2026)": how far an organization's figures go and where they come from.

use crate::domain::Day;
use crate::hub::provenance::OrgHub;
use crate::store::SourceInfo;
use crate::web::charts::long_date;

/// An instant shown relative to now when recent (`2 h ago`), else as a day, with the exact
/// UTC time in `datetime` and `title`.
pub struct When {
    pub iso: String,
    pub title: String,
    pub text: String,
}

impl When {
    pub fn new(unix: i64, now_unix: i64) -> Self {
        let day = Day::from_epoch_days(unix.div_euclid(86_400) as i32);
        let secs = unix.rem_euclid(86_400);
        let (h, m) = (secs / 3600, secs % 3600 / 60);
        let ago = now_unix - unix;
        let text = match ago {
            a if a < 60 => "just now".to_owned(),
            a if a < 3600 => format!("{} min ago", a / 60),
            a if a < 86_400 => format!("{} h ago", a / 3600),
            _ => long_date(day),
        };
        When {
            iso: format!("{day}T{h:02}:{m:02}:{:02}Z", secs % 60),
            title: format!("{}, {h:02}:{m:02} UTC", long_date(day)),
            text,
        }
    }
}

/// One source of the organization's figures.
pub struct SourceNote {
    /// `logs`, `breakdown`, `hub`, `demo`, …
    pub source: String,
    /// `request logs, last ingest`.
    pub text: String,
    pub when: Option<When>,
}

pub struct Freshness {
    /// The organization's last day with downloads, as `YYYY-MM-DD` and in words.
    pub through: Option<(String, String)>,
    pub sources: Vec<SourceNote>,
}

impl Freshness {
    pub fn new(
        last_day: Option<Day>,
        sources: &[SourceInfo],
        hub: Option<&OrgHub>,
        now_unix: i64,
    ) -> Self {
        let when =
            |s: &SourceInfo| (s.applied_unix > 0).then(|| When::new(s.applied_unix, now_unix));
        let sources = sources
            .iter()
            .map(|s| {
                let (text, when) = match s.source.as_str() {
                    "logs" => ("request logs, last ingest".to_owned(), when(s)),
                    "breakdown" => ("breakdown CSV imported".to_owned(), when(s)),
                    "demo" => ("demo data generated".to_owned(), when(s)),
                    // The hub's snapshots are per organization: their last day says more than
                    // the source's last write (another organization's collection).
                    "hub" => match hub {
                        Some(h) => (
                            format!(
                                "the hub's public counters, last snapshot {}",
                                long_date(h.last)
                            ),
                            None,
                        ),
                        None => ("the hub's public counters".to_owned(), None),
                    },
                    other => (other.to_owned(), when(s)),
                };
                SourceNote {
                    source: s.source.as_str().to_owned(),
                    text,
                    when,
                }
            })
            .collect();
        Freshness {
            through: last_day.map(|d| (d.to_string(), long_date(d))),
            sources,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SourceId;

    #[test]
    fn recent_instants_read_as_ago_and_older_ones_as_days() {
        let at = 1_796_000_000; // 2026-11-30T00:53:20Z
        let w = When::new(at, at + 7_300);
        assert_eq!(w.text, "2 h ago");
        assert_eq!(w.iso, "2026-11-30T00:53:20Z");
        assert_eq!(w.title, "Nov 30, 2026, 00:53 UTC");
        assert_eq!(When::new(at, at + 30).text, "just now");
        assert_eq!(When::new(at, at + 600).text, "10 min ago");
        assert_eq!(When::new(at, at + 3 * 86_400).text, "Nov 30, 2026");
    }

    #[test]
    fn sources_are_named_for_people() {
        let info = |name: &str| SourceInfo {
            source: SourceId::parse(name).unwrap(),
            rows: 1,
            applied_unix: 1_796_000_000,
        };
        let f = Freshness::new(
            Some("2026-12-07".parse().unwrap()),
            &[info("breakdown"), info("logs")],
            None,
            1_796_000_000 + 7_300,
        );
        assert_eq!(f.through.unwrap().1, "Dec 7, 2026");
        let texts: Vec<String> = (f.sources.iter())
            .map(|s| format!("{} {}", s.text, s.when.as_ref().unwrap().text))
            .collect();
        assert_eq!(
            texts,
            [
                "breakdown CSV imported 2 h ago",
                "request logs, last ingest 2 h ago"
            ]
        );
    }
}
