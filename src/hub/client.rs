//! A polite client of a hub's public listing API (the Hugging Face Hub's `GET /api/models` and
//! `GET /api/datasets`, as `huggingface_hub`'s `list_models`/`list_datasets` call them):
//! `?author=ORG&expand[]=downloads&expand[]=downloadsAllTime&limit=N`, a JSON array of
//! `{"id": "org/name", "downloads": …, "downloadsAllTime": …}` per page, the next page in the
//! `Link` header (`<url>; rel="next"`).
//!
//! Politeness: a User-Agent naming hubstats, one request at a time per listing, `429` and `503`
//! waited out as `Retry-After` says (at most [`MAX_RETRY_AFTER`]), other `5xx` and lost
//! connections retried after 1, 2, 4, … seconds, a page never followed to another host (the
//! token stays with the hub). Every failure names the organization, the listing, the page and
//! what the hub answered.

use std::io::Read;
use std::time::Duration;

use crate::domain::{OrgName, RepoKey, RepoName, RepoType};

/// What hubstats says it is to the hub.
pub const USER_AGENT: &str = concat!(
    "hubstats/",
    env!("CARGO_PKG_VERSION"),
    " (publisher analytics; collects public download counters once a day)"
);

/// Repositories asked for per page.
pub const PAGE_SIZE: u32 = 1000;

/// The longest `Retry-After` waited for; a hub asking for more fails the listing.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);

/// The most bytes read of one page (a page of 1,000 repositories is about 150 KB).
const MAX_PAGE_BYTES: u64 = 64 << 20;

/// How to reach the hub.
#[derive(Debug, Clone)]
pub struct HubClient {
    agent: ureq::Agent,
    /// `https://huggingface.co`, without a trailing `/`.
    base: String,
    token: Option<String>,
    /// Retries of one page after a `5xx`, a `429` or a lost connection.
    pub max_retries: u32,
    /// The first wait before a retry without `Retry-After`; doubled each time.
    pub backoff: Duration,
}

/// One repository as the hub lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub key: RepoKey,
    pub downloads_all_time: u64,
}

/// Why a listing failed. Each names the organization, listing and page.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error("{org}: {listing}, page {page}: the hub answered {status}{detail}")]
    Status {
        org: String,
        listing: &'static str,
        page: u32,
        status: u16,
        detail: String,
    },
    /// `reason` names the URL.
    #[error("{org}: {listing}, page {page}: no answer: {reason}")]
    Unreachable {
        org: String,
        listing: &'static str,
        page: u32,
        url: String,
        reason: String,
    },
    #[error("{org}: {listing}, page {page}: the answer is not the expected JSON: {reason}")]
    Malformed {
        org: String,
        listing: &'static str,
        page: u32,
        reason: String,
    },
}

/// The listing being read, for errors and retries.
struct Page<'a> {
    org: &'a OrgName,
    repo_type: RepoType,
    number: u32,
}

impl Page<'_> {
    fn listing(&self) -> &'static str {
        self.repo_type.plural()
    }

    fn status(&self, status: u16, detail: String) -> HubError {
        HubError::Status {
            org: self.org.to_string(),
            listing: self.listing(),
            page: self.number,
            status,
            detail,
        }
    }

    fn malformed(&self, reason: impl std::fmt::Display) -> HubError {
        HubError::Malformed {
            org: self.org.to_string(),
            listing: self.listing(),
            page: self.number,
            reason: reason.to_string(),
        }
    }
}

#[derive(serde::Deserialize)]
struct Entry {
    id: String,
    #[serde(rename = "downloadsAllTime")]
    downloads_all_time: Option<u64>,
}

impl HubClient {
    /// A client of the hub at `base` (`https://huggingface.co`), sending `token` if given.
    pub fn new(base: &str, token: Option<String>) -> Self {
        let config = ureq::Agent::config_builder()
            .user_agent(USER_AGENT)
            .timeout_connect(Some(Duration::from_secs(10)))
            .timeout_per_read(Some(Duration::from_secs(60)))
            .timeout_per_write(Some(Duration::from_secs(60)))
            // A refusal's status, `Retry-After` and body are read in [`HubClient::fetch`].
            .http_status_as_error(false)
            // The hub is reached directly, whatever proxy the environment names.
            .proxy(None)
            .build();
        let agent = ureq::Agent::new_with_config(config);
        HubClient {
            agent,
            base: base.trim_end_matches('/').to_owned(),
            token,
            max_retries: 4,
            backoff: Duration::from_secs(1),
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// Every repository of `repo_type` the hub lists for `org`, page after page; `seen` is
    /// called with the number listed so far after each page.
    pub fn list(
        &self,
        org: &OrgName,
        repo_type: RepoType,
        seen: &mut dyn FnMut(u64),
    ) -> Result<Vec<Listed>, HubError> {
        let mut url = format!(
            "{}/api/{}?author={}&expand[]=downloads&expand[]=downloadsAllTime&limit={PAGE_SIZE}",
            self.base,
            repo_type.plural(),
            org
        );
        let mut out = Vec::new();
        for number in 1.. {
            let page = Page {
                org,
                repo_type,
                number,
            };
            let (body, next) = self.fetch(&url, &page)?;
            out.extend(parse_page(&body, &page)?);
            seen(out.len() as u64);
            match next {
                Some(next) => url = self.same_hub(&next, &page)?,
                None => break,
            }
        }
        Ok(out)
    }

    /// The next page's absolute URL, only on this hub (a token is never sent elsewhere).
    fn same_hub(&self, next: &str, page: &Page<'_>) -> Result<String, HubError> {
        let url = if next.starts_with('/') {
            format!("{}{next}", self.base)
        } else {
            next.to_owned()
        };
        let on_hub = url
            .strip_prefix(&self.base)
            .is_some_and(|rest| rest.starts_with('/'));
        if !on_hub {
            return Err(page.malformed(format!(
                "the next page {url:?} is not on the hub {}",
                self.base
            )));
        }
        Ok(url)
    }

    /// One page's body and its next page, retried as the module says.
    fn fetch(&self, url: &str, page: &Page<'_>) -> Result<(Vec<u8>, Option<String>), HubError> {
        let mut attempt = 0;
        loop {
            let mut req = self.agent.get(url).header("Accept", "application/json");
            if let Some(token) = &self.token {
                req = req.header("Authorization", &format!("Bearer {token}"));
            }
            let wait = match req.call() {
                Ok(resp) if resp.status().as_u16() < 400 => {
                    let next = header(&resp, "Link").and_then(next_link);
                    let mut body = Vec::new();
                    let read = resp
                        .into_body()
                        .into_reader()
                        .take(MAX_PAGE_BYTES)
                        .read_to_end(&mut body);
                    match read {
                        Ok(_) => return Ok((body, next)),
                        Err(e) => {
                            let e = self.unreachable(url, page, format!("{url}: {e}"));
                            self.retry(&mut attempt, None, e)?
                        }
                    }
                }
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let retry_after = header(&resp, "Retry-After").map(str::to_owned);
                    let detail = excerpt(resp.into_body());
                    let e = page.status(status, detail);
                    match status {
                        429 | 500..=599 => {
                            let asked = retry_after.as_deref().map(parse_retry_after);
                            self.retry(&mut attempt, asked, e)?
                        }
                        _ => return Err(e),
                    }
                }
                Err(t) => {
                    let e = self.unreachable(url, page, t.to_string());
                    self.retry(&mut attempt, None, e)?
                }
            };
            tracing::warn!(
                org = %page.org, listing = page.listing(), page = page.number,
                wait_ms = wait.as_millis() as u64, attempt, "the hub asked to wait; retrying"
            );
            std::thread::sleep(wait);
        }
    }

    /// How long to wait before the next attempt, or the error when retries are spent or the
    /// hub asks for a longer wait than [`MAX_RETRY_AFTER`]. `asked`: the `Retry-After`, when
    /// the answer had one (`None` inside: unreadable, so backed off as without).
    fn retry(
        &self,
        attempt: &mut u32,
        asked: Option<Option<Duration>>,
        e: HubError,
    ) -> Result<Duration, HubError> {
        if *attempt >= self.max_retries {
            return Err(e);
        }
        let backoff = self.backoff.saturating_mul(1 << (*attempt).min(16));
        *attempt += 1;
        match asked.flatten() {
            Some(wait) if wait > MAX_RETRY_AFTER => Err(e),
            Some(wait) => Ok(wait),
            None => Ok(backoff),
        }
    }

    fn unreachable(&self, url: &str, page: &Page<'_>, reason: String) -> HubError {
        HubError::Unreachable {
            org: page.org.to_string(),
            listing: page.listing(),
            page: page.number,
            url: url.to_owned(),
            reason,
        }
    }
}

/// `Retry-After` as seconds (`120`) or an HTTP date; `None` when it is neither.
fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    // HTTP dates end in `GMT`, which RFC 2822 calls obsolete.
    let value = match value.strip_suffix(" GMT") {
        Some(v) => format!("{v} +0000"),
        None => value.to_owned(),
    };
    let format = time::format_description::well_known::Rfc2822;
    let at = time::OffsetDateTime::parse(&value, &format).ok()?;
    let secs = (at - time::OffsetDateTime::now_utc())
        .whole_seconds()
        .max(0);
    Some(Duration::from_secs(secs as u64))
}

/// A header's value, when it is text.
fn header<'a>(resp: &'a ureq::http::Response<ureq::Body>, name: &str) -> Option<&'a str> {
    resp.headers().get(name)?.to_str().ok()
}

/// The first 200 characters of an error answer's body, as `: …` (nothing when empty).
fn excerpt(answer: ureq::Body) -> String {
    let mut body = Vec::new();
    let _ = answer.into_reader().take(200).read_to_end(&mut body);
    let text = String::from_utf8_lossy(&body);
    let text = text.trim();
    if text.is_empty() {
        String::new()
    } else {
        format!(": {text}")
    }
}

/// The `rel="next"` target of a `Link` header.
pub fn next_link(header: &str) -> Option<String> {
    let mut rest = header;
    while let Some(start) = rest.find('<') {
        let end = start + rest[start..].find('>')?;
        let target = &rest[start + 1..end];
        let params_end = rest[end..].find('<').map_or(rest.len(), |i| end + i);
        let params = &rest[end + 1..params_end];
        let is_next = params.split(';').any(|p| {
            let p = p.trim().trim_end_matches(',').trim();
            p.eq_ignore_ascii_case("rel=\"next\"") || p.eq_ignore_ascii_case("rel=next")
        });
        if is_next {
            return Some(target.to_owned());
        }
        rest = &rest[params_end..];
    }
    None
}

/// One page's repositories; every one must be of `org` (as the hub spells it) and carry its
/// all-time counter.
fn parse_page(body: &[u8], page: &Page<'_>) -> Result<Vec<Listed>, HubError> {
    let entries: Vec<Entry> = serde_json::from_slice(body).map_err(|e| page.malformed(e))?;
    let mut out = Vec::with_capacity(entries.len());
    for entry in entries {
        let name = RepoName::parse(&entry.id)
            .map_err(|e| page.malformed(format!("repository {:?}: {e}", entry.id)))?;
        if name.org_str() != page.org.as_str() {
            let hint = if name.org_str().eq_ignore_ascii_case(page.org.as_str()) {
                format!(" (the hub spells the organization {})", name.org_str())
            } else {
                String::new()
            };
            return Err(page.malformed(format!(
                "it lists {} for author {}{hint}",
                entry.id, page.org
            )));
        }
        let Some(all_time) = entry.downloads_all_time else {
            return Err(page.malformed(format!(
                "{} has no downloadsAllTime (does the hub know expand[]=downloadsAllTime?)",
                entry.id
            )));
        };
        if all_time > crate::store::MAX_COUNT {
            return Err(page.malformed(format!(
                "{}: downloadsAllTime {all_time} is larger than {}",
                entry.id,
                crate::store::MAX_COUNT
            )));
        }
        out.push(Listed {
            key: RepoKey {
                repo_type: page.repo_type,
                name,
            },
            downloads_all_time: all_time,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_link_is_found_among_others() {
        let h = r#"<https://h.co/api/models?p=0>; rel="prev", <https://h.co/api/models?cursor=a,b>; rel="next""#;
        assert_eq!(
            next_link(h).as_deref(),
            Some("https://h.co/api/models?cursor=a,b")
        );
        assert_eq!(next_link(r#"<https://h.co/x>; rel="prev""#), None);
        assert_eq!(
            next_link("</api/x?c=1>; rel=next").as_deref(),
            Some("/api/x?c=1")
        );
    }

    #[test]
    fn retry_after_is_seconds_or_a_date() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("Tue, 01 Jan 2000 00:00:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn a_page_must_list_the_organization_with_its_counters() {
        let org = OrgName::parse("acme").unwrap();
        let page = Page {
            org: &org,
            repo_type: RepoType::Model,
            number: 2,
        };
        let ok = parse_page(
            br#"[{"id":"acme/a","downloads":3,"downloadsAllTime":10,"_id":"x"}]"#,
            &page,
        )
        .unwrap();
        assert_eq!(ok[0].downloads_all_time, 10);
        let other = parse_page(br#"[{"id":"Acme/a","downloadsAllTime":1}]"#, &page);
        let msg = other.unwrap_err().to_string();
        assert!(
            msg.contains("acme: models, page 2") && msg.contains("spells the organization Acme"),
            "{msg}"
        );
        let missing = parse_page(br#"[{"id":"acme/a","downloads":3}]"#, &page);
        assert!(missing
            .unwrap_err()
            .to_string()
            .contains("downloadsAllTime"));
        let bad = parse_page(b"{\"error\":", &page);
        assert!(bad
            .unwrap_err()
            .to_string()
            .contains("not the expected JSON"));
    }
}
