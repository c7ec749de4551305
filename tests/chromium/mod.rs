//! A real browser for the dashboard tests: the service served in-process on 127.0.0.1:0 and a
//! headless Chromium (driven over CDP by chromiumoxide) with a fresh profile.
//!
//! ```ignore
//! let server = Server::start(&app).await;
//! let chromium = Chromium::launch().await;
//! let page = chromium.page(&server.url("/login")).await;
//! sign_in(&page, &server, "alice").await;
//! chromium.close().await;
//! ```

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chromiumoxide::browser::{Browser, BrowserConfig};
use chromiumoxide::cdp::browser_protocol::browser::{
    SetDownloadBehaviorBehavior, SetDownloadBehaviorParams,
};
use chromiumoxide::cdp::browser_protocol::emulation::{
    MediaFeature, SetDeviceMetricsOverrideParams,
};
use chromiumoxide::cdp::browser_protocol::network::{BlockPattern, SetBlockedUrLsParams};
use chromiumoxide::handler::viewport::Viewport;
use chromiumoxide::page::ScreenshotParams;
use chromiumoxide::{Element, Page};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::common::{password_of, TestApp};

/// Where Debian's `chromium` package installs the browser; `HUBSTATS_CHROMIUM` overrides it.
pub const DEFAULT_CHROMIUM: &str = "/usr/bin/chromium";

/// How long a page may take to reach a state a test waits for.
pub const WAIT: Duration = Duration::from_secs(10);

/// The service over a test app's store, on an ephemeral port; stops when dropped.
pub struct Server {
    pub base: String,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Server {
    pub async fn start(app: &TestApp) -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let base = format!("http://{}", listener.local_addr().expect("local address"));
        let (stop, stopped) = oneshot::channel::<()>();
        let router = app.router();
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
            if let Err(e) = served {
                eprintln!("test server failed: {e}");
            }
        });
        Server {
            base,
            stop: Some(stop),
            task,
        }
    }

    /// The absolute URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.abort();
    }
}

/// A headless Chromium with its own profile directory; call [`Chromium::close`] at the end.
pub struct Chromium {
    browser: Browser,
    handler: JoinHandle<()>,
    _profile: tempfile::TempDir,
}

fn chromium_path() -> PathBuf {
    let path = std::env::var_os("HUBSTATS_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_CHROMIUM));
    assert!(
        path.is_file(),
        "Chromium is not installed at {}: these tests drive a real browser. Install it \
         (Debian/Ubuntu: `sudo apt-get install -y chromium`) or point HUBSTATS_CHROMIUM at a \
         Chromium/Chrome binary; or run only the other tests (`cargo test` skips these).",
        path.display()
    );
    path
}

/// Page size of the screenshots and of every page.
pub const VIEWPORT: (u32, u32) = (1280, 900);

fn config(executable: &Path, profile: &Path) -> BrowserConfig {
    let flags = [
        // `headless` itself comes with the builder's default headless mode.
        "no-sandbox",
        "disable-gpu",
        "disable-background-networking",
        "disable-component-update",
        "disable-sync",
        "no-first-run",
        "disable-dev-shm-usage",
        "force-color-profile=srgb",
    ];
    BrowserConfig::builder()
        .chrome_executable(executable)
        .disable_default_args()
        .args(flags)
        .user_data_dir(profile)
        .window_size(VIEWPORT.0, VIEWPORT.1)
        .viewport(Viewport {
            width: VIEWPORT.0,
            height: VIEWPORT.1,
            device_scale_factor: Some(1.0),
            emulating_mobile: false,
            is_landscape: true,
            has_touch: false,
        })
        .launch_timeout(Duration::from_secs(20))
        .build()
        .unwrap_or_else(|e| panic!("Chromium configuration: {e}"))
}

impl Chromium {
    pub async fn launch() -> Chromium {
        let executable = chromium_path();
        let profile = tempfile::tempdir().expect("profile directory");
        let (browser, mut handler) = Browser::launch(config(&executable, profile.path()))
            .await
            .unwrap_or_else(|e| panic!("launching Chromium ({}): {e}", executable.display()));
        // The handler drives the CDP connection; it must be polled for anything to happen.
        // Errors of single messages (e.g. events this version of the protocol does not know)
        // do not end the connection.
        let handler = tokio::spawn(async move { while handler.next().await.is_some() {} });
        Chromium {
            browser,
            handler,
            _profile: profile,
        }
    }

    /// A new tab showing `url`, loaded.
    pub async fn page(&self, url: &str) -> Page {
        let page = within(format!("opening {url}"), self.browser.new_page(url))
            .await
            .unwrap_or_else(|e| panic!("opening {url}: {e}"));
        wait_until(&page, "document.readyState === 'complete'").await;
        page
    }

    /// A blank tab that loads no scripts (for the no-JavaScript paths): requests for `.js`
    /// files fail. (Disabling script execution altogether would also stop the CDP helpers that
    /// click and read elements.)
    pub async fn page_without_scripts(&self) -> Page {
        let page = self.page("about:blank").await;
        let block = SetBlockedUrLsParams::builder()
            .url_pattern(BlockPattern::new("*://*:*/*.js?*", true))
            .url_pattern(BlockPattern::new("*://*:*/*.js", true))
            .build();
        within("Network.setBlockedURLs", page.execute(block))
            .await
            .expect("Network.setBlockedURLs");
        page
    }

    /// Lets the browser save downloads (e.g. a clicked `<a download>`) into `dir`.
    pub async fn allow_downloads(&self, dir: &Path) {
        let params = SetDownloadBehaviorParams::builder()
            .behavior(SetDownloadBehaviorBehavior::Allow)
            .download_path(dir.to_string_lossy())
            .build()
            .expect("download behaviour");
        within("Browser.setDownloadBehavior", self.browser.execute(params))
            .await
            .expect("Browser.setDownloadBehavior");
    }

    pub async fn close(mut self) {
        let _ = tokio::time::timeout(WAIT, self.browser.close()).await;
        let _ = tokio::time::timeout(WAIT, self.browser.wait()).await;
        self.handler.abort();
    }
}

/// Awaits a CDP exchange for at most [`WAIT`]: a command Chromium never answers fails the test
/// instead of hanging it.
pub async fn within<T>(
    what: impl std::fmt::Display,
    work: impl std::future::Future<Output = T>,
) -> T {
    match tokio::time::timeout(WAIT, work).await {
        Ok(v) => v,
        Err(_) => panic!("{what}: no answer from Chromium within {WAIT:?}"),
    }
}

/// Evaluates a JavaScript expression (promises are awaited) and converts its value.
pub async fn eval<T: DeserializeOwned>(page: &Page, js: &str) -> T {
    let result = within(format!("evaluating `{js}`"), page.evaluate(js))
        .await
        .unwrap_or_else(|e| panic!("evaluating `{js}`: {e}"));
    result
        .into_value()
        .unwrap_or_else(|e| panic!("value of `{js}`: {e}"))
}

/// Polls a JavaScript condition until it is true; panics after [`WAIT`] with the condition.
/// Evaluation errors (e.g. while a navigation replaces the document) count as "not yet".
pub async fn wait_until(page: &Page, condition: &str) {
    let js = format!("!!({condition})");
    let deadline = Instant::now() + WAIT;
    loop {
        let answer = tokio::time::timeout(WAIT / 4, page.evaluate(js.as_str())).await;
        if let Ok(Ok(Ok(true))) = answer.map(|r| r.map(|v| v.into_value())) {
            return;
        }
        if Instant::now() > deadline {
            let url = page.url().await.ok().flatten().unwrap_or_default();
            panic!("waited {WAIT:?} for `{condition}` on {url}");
        }
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
}

/// Waits for a loaded document whose path (and query) is `path_and_query`.
pub async fn wait_for_location(page: &Page, path_and_query: &str) {
    let expected = serde_json::to_string(path_and_query).expect("JSON string");
    wait_until(
        page,
        &format!(
            "location.pathname + location.search === {expected} && document.readyState === 'complete'"
        ),
    )
    .await;
}

/// Loads `url` in `page` and waits until it is complete.
pub async fn goto(page: &Page, url: &str) {
    within(format!("navigating to {url}"), page.goto(url))
        .await
        .unwrap_or_else(|e| panic!("navigating to {url}: {e}"));
    wait_until(page, "document.readyState === 'complete'").await;
}

/// The first element matching `selector`.
pub async fn element(page: &Page, selector: &str) -> Element {
    within(format!("finding `{selector}`"), page.find_element(selector))
        .await
        .unwrap_or_else(|e| panic!("no element `{selector}`: {e}"))
}

/// The trimmed `innerText` of the first element matching `selector`.
pub async fn text(page: &Page, selector: &str) -> String {
    let el = element(page, selector).await;
    within(format!("text of `{selector}`"), el.inner_text())
        .await
        .unwrap_or_else(|e| panic!("text of `{selector}`: {e}"))
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// Clicks the first element matching `selector` (as a user would: mouse events at its centre).
pub async fn click(page: &Page, selector: &str) {
    let el = element(page, selector).await;
    within(format!("clicking `{selector}`"), el.click())
        .await
        .unwrap_or_else(|e| panic!("clicking `{selector}`: {e}"));
}

/// Presses a key (`"Enter"`, `"/"`) with the focus on the element matching `selector`.
pub async fn press(page: &Page, selector: &str, key: &str) {
    let el = element(page, selector).await;
    within(format!("pressing {key} in `{selector}`"), el.press_key(key))
        .await
        .unwrap_or_else(|e| panic!("pressing {key} in `{selector}`: {e}"));
}

/// Clicks into the element matching `selector` and types `text` key by key.
pub async fn type_into(page: &Page, selector: &str, text: &str) {
    click(page, selector).await;
    let el = element(page, selector).await;
    within(format!("typing into `{selector}`"), el.type_str(text))
        .await
        .unwrap_or_else(|e| panic!("typing into `{selector}`: {e}"));
}

/// Signs `user` (password [`password_of`]) in through the real sign-in form, from a fresh
/// `/login` page, and waits for the page the form leads to (`/` unless `next` says otherwise).
pub async fn sign_in(page: &Page, server: &Server, user: &str, next: Option<&str>) {
    sign_in_as(page, server, user, &password_of(user), next).await;
}

/// Like [`sign_in`] with a given password.
pub async fn sign_in_as(
    page: &Page,
    server: &Server,
    user: &str,
    password: &str,
    next: Option<&str>,
) {
    let login = match next {
        Some(next) => format!("/login?next={}", urlencode(next)),
        None => "/login".to_owned(),
    };
    goto(page, &server.url(&login)).await;
    type_into(page, "input[name=username]", user).await;
    type_into(page, "input[name=password]", password).await;
    click(page, "form[action='/login'] button[type=submit]").await;
    wait_for_location(page, next.unwrap_or("/")).await;
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Waits until `dir` holds one finished download (Chromium writes `*.crdownload` first) and
/// returns its name and bytes.
pub async fn downloaded_file(dir: &Path) -> (String, Vec<u8>) {
    let deadline = Instant::now() + WAIT;
    loop {
        let names: Vec<String> = std::fs::read_dir(dir)
            .expect("download directory")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        if let [name] = names.as_slice() {
            if !name.ends_with(".crdownload") {
                let bytes = std::fs::read(dir.join(name)).expect("read the download");
                return (name.clone(), bytes);
            }
        }
        assert!(
            Instant::now() < deadline,
            "no finished download in {} after {WAIT:?}: {names:?}",
            dir.display()
        );
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
}

/// Emulates `prefers-color-scheme` (`light` or `dark`), as the operating system would set it.
pub async fn color_scheme(page: &Page, scheme: &str) {
    let feature = MediaFeature::new("prefers-color-scheme", scheme);
    within(
        "Emulation.setEmulatedMedia",
        page.emulate_media_features(vec![feature]),
    )
    .await
    .unwrap_or_else(|e| panic!("emulating prefers-color-scheme {scheme}: {e}"));
}

/// Lays the page out `width` × `height` CSS pixels large (a phone: 390 × 844) from the next load
/// on, until a full-page [`screenshot`] (which resets the window to [`VIEWPORT`]).
pub async fn emulate_window(page: &Page, width: u32, height: u32) {
    let params =
        SetDeviceMetricsOverrideParams::new(i64::from(width), i64::from(height), 1., false);
    within("Emulation.setDeviceMetricsOverride", page.execute(params))
        .await
        .unwrap_or_else(|e| panic!("emulating a {width}×{height} window: {e}"));
}

/// The directory of screenshots (test artefacts): `target/screenshots/`.
pub fn screenshot_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&dir).expect("create target/screenshots");
    dir
}

/// Saves a full-page PNG screenshot as `target/screenshots/{name}.png`; returns its path.
pub async fn screenshot(page: &Page, name: &str) -> PathBuf {
    let path = screenshot_dir().join(format!("{name}.png"));
    let params = ScreenshotParams::builder().full_page(true).build();
    within("taking a screenshot", page.save_screenshot(params, &path))
        .await
        .unwrap_or_else(|e| panic!("screenshot {}: {e}", path.display()));
    path
}

pub mod fixture;
