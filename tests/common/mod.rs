//! Helpers shared by the integration tests: a fresh store file in a temporary directory, account
//! fixtures, the router, and in-process requests (`tower::ServiceExt::oneshot`).
//!
//! ```ignore
//! use crate::common::{Auth, TestApp};
//! let app = TestApp::new();
//! app.org("acme", Plan::Team);
//! app.user("alice");
//! app.member("acme", "alice", Role::Read);
//! let res = app.get("/", &Auth::Session(app.session("alice"))).await;
//! assert_eq!(res.status, 200);
//! ```

use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use tower::ServiceExt;

use hubstats::accounts::{self, SessionId};
use hubstats::config::{Config, Overrides};
use hubstats::domain::{Day, OrgName, Plan, RepoKey, RepoName, RepoType, Role, Username};
use hubstats::store::{Batch, SharedStore, SourceId, WriteMode};
use hubstats::web::throttle::LoginThrottle;
use hubstats::web::{router_with_throttle, AppState};

/// The password [`TestApp::user`] gives every user: `password-<name>`.
pub fn password_of(user: &str) -> String {
    format!("password-{user}")
}

pub fn org_name(s: &str) -> OrgName {
    OrgName::parse(s).unwrap()
}

pub fn username(s: &str) -> Username {
    Username::parse(s).unwrap()
}

/// A service over a fresh store file; the directory lives as long as the value.
pub struct TestApp {
    pub dir: tempfile::TempDir,
    pub store_path: PathBuf,
    pub store: SharedStore,
    pub config: Config,
    /// The sign-in throttle every request of this app shares (replace it to control its clock).
    pub throttle: Arc<LoginThrottle>,
}

impl TestApp {
    pub fn new() -> Self {
        Self::with_config(|_| {})
    }

    /// With a configuration adjusted by `f` (e.g. `|c| c.secure_cookies = true`).
    pub fn with_config(f: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store_path = dir.path().join("hubstats.db");
        let flags = Overrides {
            store: Some(store_path.to_string_lossy().into_owned()),
            ..Default::default()
        };
        let mut config = Config::load(&flags, |_| None).unwrap();
        config.listen = "127.0.0.1:0".parse().unwrap();
        f(&mut config);
        let store: SharedStore = hubstats::store::open(&store_path.to_string_lossy()).unwrap();
        TestApp {
            dir,
            store_path,
            store,
            config,
            throttle: Arc::default(),
        }
    }

    /// The router of the service, over this store.
    pub fn router(&self) -> Router {
        let state = AppState {
            store: self.store.clone(),
            config: Arc::new(self.config.clone()),
        };
        router_with_throttle(state, self.throttle.clone())
    }

    pub fn org(&self, name: &str, plan: Plan) {
        self.store.create_org(&org_name(name), plan).unwrap();
    }

    /// Creates a user whose password is [`password_of`] its name.
    pub fn user(&self, name: &str) {
        accounts::create_user(self.store.as_ref(), &username(name), &password_of(name)).unwrap();
    }

    pub fn member(&self, org: &str, user: &str, role: Role) {
        self.store
            .set_member(&org_name(org), &username(user), role)
            .unwrap();
    }

    /// A new API token of `user`.
    pub fn token(&self, user: &str) -> String {
        accounts::create_token(self.store.as_ref(), &username(user)).unwrap()
    }

    /// A new sign-in session of `user` (the session cookie's value).
    pub fn session(&self, user: &str) -> SessionId {
        accounts::start_session(self.store.as_ref(), &username(user)).unwrap()
    }

    /// Records downloads of a repository (`name` is `org/repo`), creating it if needed.
    pub fn downloads(&self, repo_type: RepoType, name: &str, day: &str, downloads: u64) {
        let key = RepoKey {
            repo_type,
            name: RepoName::parse(name).unwrap(),
        };
        let day: Day = day.parse().unwrap();
        // Each call is a source of its own, so calls for one repository-day add up.
        static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut batch = Batch::new(
            SourceId::parse(&format!("test-{call}")).unwrap(),
            WriteMode::Replace,
        );
        batch.days.push((key, day, downloads));
        batch.apply(self.store.as_ref()).unwrap();
    }

    pub async fn get(&self, path: &str, auth: &Auth) -> TestResponse {
        self.send(auth.apply(Request::get(path)).body(Body::empty()).unwrap())
            .await
    }

    /// A browser-style GET (asks for HTML).
    pub async fn get_html(&self, path: &str, auth: &Auth) -> TestResponse {
        let req = auth
            .apply(Request::get(path))
            .header(header::ACCEPT, "text/html,*/*;q=0.8");
        self.send(req.body(Body::empty()).unwrap()).await
    }

    /// POSTs an `application/x-www-form-urlencoded` body built from `fields`.
    pub async fn post_form(
        &self,
        path: &str,
        auth: &Auth,
        fields: &[(&str, &str)],
    ) -> TestResponse {
        self.post_form_with(path, auth, fields, &[]).await
    }

    /// Like [`Self::post_form`] with extra request headers.
    pub async fn post_form_with(
        &self,
        path: &str,
        auth: &Auth,
        fields: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> TestResponse {
        let mut req = auth
            .apply(Request::builder().method(Method::POST).uri(path))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        self.send(req.body(Body::from(form_encode(fields))).unwrap())
            .await
    }

    pub async fn send(&self, req: Request<Body>) -> TestResponse {
        let res = self.router().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes().to_vec());
        TestResponse {
            status,
            headers,
            body: bytes.map_err(|e| e.to_string()),
        }
    }
}

/// Credentials a test request carries.
#[derive(Debug, Clone)]
pub enum Auth {
    None,
    Bearer(String),
    Session(SessionId),
    /// A raw `Cookie` header value.
    Cookie(String),
}

impl Auth {
    pub fn apply(&self, req: axum::http::request::Builder) -> axum::http::request::Builder {
        match self {
            Auth::None => req,
            Auth::Bearer(t) => req.header(header::AUTHORIZATION, format!("Bearer {t}")),
            Auth::Session(s) => {
                req.header(header::COOKIE, format!("hubstats_session={}", s.secret()))
            }
            Auth::Cookie(c) => req.header(header::COOKIE, c.as_str()),
        }
    }
}

pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// The body, or the error that ended it (a failed stream).
    pub body: Result<Vec<u8>, String>,
}

impl TestResponse {
    /// The body as text (empty when the stream failed).
    pub fn text(&self) -> String {
        self.body
            .as_ref()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Every `Set-Cookie` header.
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect()
    }

    /// The `Set-Cookie` header that sets `name`.
    pub fn set_cookie(&self, name: &str) -> Option<String> {
        self.set_cookies()
            .into_iter()
            .find(|c| c.starts_with(&format!("{name}=")))
    }

    /// The value `Set-Cookie` gives to `name`.
    pub fn cookie_value(&self, name: &str) -> Option<String> {
        let c = self.set_cookie(name)?;
        let value = c.split(';').next()?.split_once('=')?.1;
        Some(value.to_owned())
    }
}

/// Percent-encodes form fields (`application/x-www-form-urlencoded`).
pub fn form_encode(fields: &[(&str, &str)]) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                    (b as char).to_string()
                }
                b' ' => "+".to_owned(),
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The value of `<input ... name="{name}" value="...">` in an HTML page.
pub fn input_value(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\""))?;
    let tag_start = html[..at].rfind('<')?;
    let tag_end = at + html[at..].find('>')?;
    let tag = &html[tag_start..tag_end];
    let v = tag.split("value=\"").nth(1)?;
    Some(v[..v.find('"')?].to_owned())
}

/// `hubstats --store STORE` from the built binary, with no `HUBSTATS_*` or `RUST_LOG` from the
/// environment that runs the tests.
pub fn hubstats_command(store: impl AsRef<std::ffi::OsStr>) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_hubstats"));
    for var in [
        "HUBSTATS_STORE",
        "HUBSTATS_TODAY",
        "HUBSTATS_CONFIG",
        "RUST_LOG",
    ] {
        cmd.env_remove(var);
    }
    cmd.arg("--store").arg(store);
    cmd
}

/// Runs `hubstats --store STORE --today TODAY args...` in `dir` (STORE a file or a
/// `clickhouse://` location).
pub fn hubstats_in(
    dir: &std::path::Path,
    store: &str,
    today: &str,
    args: &[&str],
) -> std::process::Output {
    hubstats_command(store)
        .current_dir(dir)
        .args(["--today", today])
        .args(args)
        .output()
        .unwrap()
}

/// [`hubstats_in`] that must succeed; its standard output.
pub fn hubstats_ok(dir: &std::path::Path, store: &str, today: &str, args: &[&str]) -> String {
    let out = hubstats_in(dir, store, today, args);
    assert!(
        out.status.success(),
        "{args:?} on {store} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs `hubstats --store STORE args...` with `stdin` as standard input.
pub fn run_hubstats(store: &std::path::Path, args: &[&str], stdin: &str) -> std::process::Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = hubstats_command(store)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let _ = input.write_all(stdin.as_bytes()); // the command may exit before reading it
    drop(input);
    child.wait_with_output().unwrap()
}
