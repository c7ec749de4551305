//! `serve` and `demo` through the built binary: fill a demo store, export it, serve it as a
//! child process on port 0 and talk to it over HTTP.

mod child;

use std::process::Command;

use child::{http_get, Server};

const TODAY: &str = "2026-11-27";

fn hubstats(store: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hubstats"));
    cmd.env_remove("HUBSTATS_STORE")
        .env_remove("HUBSTATS_TODAY")
        .env_remove("HUBSTATS_CONFIG");
    cmd.arg("--store").arg(store).arg("--today").arg(TODAY);
    cmd
}

#[test]
fn serve_prints_its_address_and_answers_http() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = hubstats(&dir.path().join("hubstats.db"));
    cmd.args(["serve", "--listen", "127.0.0.1:0"]);
    let server = Server::start(cmd);
    let response = http_get(server.addr(), "/healthz", None);
    assert!(response.status > 0, "no HTTP answer");
}
