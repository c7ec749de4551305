//! The dashboard in a real browser (headless Chromium): sign-in through the form, the pages,
//! their JavaScript enhancements and their no-JavaScript fallbacks, the CSV button, and
//! screenshots in light and dark mode (`target/screenshots/`).
//!
//! Needs Chromium (`apt-get install -y chromium`): `cargo test --test browser -- --include-ignored`.

mod chromium;
mod common;

use chromium::fixture::{self, ORG, TODAY, USER};
use chromium::{click, eval, sign_in, text, wait_for_location, Chromium, Server};
use common::TestApp;

/// A service over the fixture's store, with today pinned to [`TODAY`].
async fn start() -> (TestApp, Server) {
    let app = TestApp::with_config(|c| c.today = Some(TODAY.parse().expect("TODAY")));
    fixture::populate(&app);
    let server = Server::start(&app).await;
    (app, server)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium"]
async fn signs_in_through_the_form_and_lists_the_organizations() {
    let (_app, server) = start().await;
    let chromium = Chromium::launch().await;
    let page = chromium.page(&server.url("/")).await;
    wait_for_location(&page, "/login").await;

    sign_in(&page, &server, USER, None).await;

    assert_eq!(text(&page, ".site-header .user").await, USER);
    let orgs: Vec<String> = eval(
        &page,
        "[...document.querySelectorAll('.org-list a')].map(a => a.textContent.trim())",
    )
    .await;
    assert_eq!(orgs, [ORG]);
    chromium.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium"]
async fn a_wrong_password_keeps_the_form_with_an_alert() {
    let (_app, server) = start().await;
    let chromium = Chromium::launch().await;
    let page = chromium.page(&server.url("/login")).await;

    chromium::type_into(&page, "input[name=username]", USER).await;
    chromium::type_into(&page, "input[name=password]", "not-the-password").await;
    click(&page, "form[action='/login'] button[type=submit]").await;

    chromium::wait_until(&page, "document.querySelector('[role=alert]')").await;
    assert_eq!(
        text(&page, "[role=alert]").await,
        "Wrong user name or password."
    );
    let typed: String = eval(
        &page,
        "document.querySelector('input[name=username]').value",
    )
    .await;
    assert_eq!(typed, USER);
    chromium.close().await;
}
