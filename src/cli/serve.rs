//! `serve` (the service over an existing store) and `demo` (a separate store filled with demo
//! data, then served).

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};

use crate::config::{Config, DEFAULT_DEMO_STORE, DEFAULT_STORE};
use crate::demo::{self, DemoOrg, OrgFill};
use crate::store::{self, SharedStore};
use crate::web::{self, AppState};

use super::data::open_store_at;

pub fn serve(config: &Config) -> Result<()> {
    let location = config.store_or(DEFAULT_STORE);
    let store = open_store_at(config, location)?;
    let collecting = match config.collect.at {
        Some(at) => {
            let client = super::collect::client(config, None, None, 4)?;
            let orgs: Vec<String> = config.collect.orgs.iter().map(|o| o.to_string()).collect();
            tracing::info!(
                hub = client.base(), orgs = orgs.join(" "), at = %at,
                "collecting the hub's counters every day at this UTC time"
            );
            let today = config.clone();
            Some(crate::hub::schedule::spawn(
                store.clone(),
                client,
                config.collect.clone(),
                move || today.reference_day(),
            ))
        }
        None => None,
    };
    run_server(config, store, location, collecting, |_| {})
}

pub fn demo(config: &Config, repos: usize, serve: bool) -> Result<()> {
    let location = config.store_or(DEFAULT_DEMO_STORE);
    let store = open_store_at(config, location)?;
    let orgs = demo::demo_orgs(repos);
    let started = Instant::now();
    let filled = fill_with_progress(&store, &orgs, config)?;
    let from_logs = demo::fill_from_logs(store.as_ref(), config.reference_day())?;
    let from_snapshots = demo::fill_from_snapshots(store.as_ref(), config.reference_day())?;
    print_fill(&filled, &from_logs, &from_snapshots, started);
    let mut members = orgs.clone();
    members.push(demo::log_org());
    members.push(demo::hub_org());
    let login = demo::prepare_login(store.as_ref(), &members)?;
    let org = orgs.first().map_or("", |o| o.name).to_owned();
    if serve {
        run_server(config, store, location, None, |addr| {
            print_login(&login, &org, addr)
        })
    } else {
        print_login(&login, &org, config.listen);
        println!(
            "Serve it with: hubstats --store {} serve",
            config.store_or(DEFAULT_DEMO_STORE)
        );
        Ok(())
    }
}

/// Where to look and how to sign in; the token is the `Bearer` word of the `curl` line.
fn print_login(login: &demo::DemoLogin, org: &str, addr: SocketAddr) {
    let base = format!("http://{addr}/organizations/{org}/settings/publisher-analytics");
    println!("Open {base}");
    println!("Sign in as {} with password {}", login.user, login.password);
    println!("Download the CSV with a new API token:");
    println!(
        "curl -H \"Authorization: Bearer {}\" {base}/download-breakdown -o {org}.csv",
        login.token
    );
}

/// Serves until SIGTERM or SIGINT on a multi-threaded runtime; prints `Listening on
/// http://ADDR` as soon as the address is bound, then whatever `on_ready` prints. After the
/// drain it stops `collecting` (the scheduled collection, waiting for one under way) and
/// closes the store (its last connection checkpoints the write-ahead log).
fn run_server(
    config: &Config,
    store: SharedStore,
    location: &str,
    collecting: Option<crate::hub::schedule::Running>,
    on_ready: impl FnOnce(SocketAddr),
) -> Result<()> {
    // Indexes are built in the background; requests that come first build what they need.
    let warming = {
        let store = store.clone();
        let today = config.reference_day();
        let index_budget_mib = config.index_budget_bytes >> 20;
        std::thread::spawn(move || {
            let started = std::time::Instant::now();
            match store::warm_up(store.as_ref(), today) {
                Ok(orgs) => {
                    let elapsed_ms = started.elapsed().as_millis() as u64;
                    tracing::info!(orgs, elapsed_ms, index_budget_mib, "read indexes built")
                }
                Err(e) => tracing::warn!(error = %e, "building the read indexes at start-up"),
            }
        })
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // Store reads run on the blocking pool, which grows to one thread per request in
        // flight (30 under `scripts/load`); each idle thread keeps its stack and allocator
        // caches, about 1 MiB. Ended after a second idle (tokio's default: ten), the memory of
        // a burst is given back with the rest of it (see `main.rs`).
        .thread_keep_alive(std::time::Duration::from_secs(1))
        .build()
        .context("starting the async runtime")?;
    let state = AppState {
        store,
        config: Arc::new(config.clone()),
    };
    let shared = web::Shared {
        metrics: Arc::new(web::metrics::Metrics::with_store_path(location)),
        ..web::Shared::default()
    };
    let served = runtime.block_on(web::server::serve_until(
        state,
        shared,
        |addr| {
            println!("Listening on http://{addr}");
            on_ready(addr);
            let _ = std::io::stdout().flush();
        },
        web::server::shutdown_signal(),
    ));
    // Blocking tasks still running past the drain deadline are abandoned; the store closes
    // when the last of them ends.
    runtime.shutdown_timeout(Duration::from_secs(5));
    // The warm-up and the schedule hold the store too: wait for them, so the store closes
    // (and checkpoints).
    let _ = warming.join();
    if let Some(running) = collecting {
        running.stop();
    }
    served?;
    tracing::info!(
        store = store::clickhouse::redact(location),
        "stopped; the store is closed"
    );
    Ok(())
}

fn fill_with_progress(
    store: &SharedStore,
    orgs: &[DemoOrg],
    config: &Config,
) -> Result<Vec<OrgFill>> {
    let repos: usize = orgs.iter().map(|o| o.repos).sum();
    let bar = progress_bar(repos as u64);
    let filled = demo::fill(store.as_ref(), orgs, config.reference_day(), &mut |done| {
        bar.inc(done as u64)
    });
    bar.finish_and_clear();
    Ok(filled?)
}

/// A progress bar on standard error, drawn only when it is a terminal.
fn progress_bar(len: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    if let Ok(style) =
        ProgressStyle::with_template("{msg} {wide_bar} {pos}/{len} repositories ({eta})")
    {
        bar.set_style(style);
    }
    bar.set_message("Generating demo data");
    bar
}

fn print_fill(
    filled: &[OrgFill],
    from_logs: &demo::LogFill,
    from_snapshots: &demo::SnapshotFill,
    started: Instant,
) {
    for org in filled {
        println!(
            "{} ({}): {} repositories, {} daily rows since {} ({} written now)",
            org.org, org.plan, org.repos, org.rows, org.history_start, org.rows_written
        );
    }
    let r = &from_logs.report;
    let ingested = if r.duplicate {
        "already ingested".to_owned()
    } else {
        format!(
            "{} new events, {} repository-days counted",
            r.new_events, r.repo_days
        )
    };
    println!(
        "{} ({}): {} repositories, counted from {} request-log rows since {} ({ingested})",
        from_logs.org, from_logs.plan, from_logs.repos, r.rows, from_logs.first_day
    );
    let s = from_snapshots;
    println!(
        "{} ({}): {} repositories, built from {} daily snapshots of hub counters since {} \
         ({} taken now)",
        s.org, s.plan, s.repos, s.snapshots, s.first_day, s.taken_now
    );
    println!(
        "Demo data ready in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
