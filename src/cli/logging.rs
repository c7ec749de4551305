//! Log output: tracing events to standard error, as text or one JSON object per line, filtered
//! by `RUST_LOG` (tracing's `EnvFilter` syntax) or else by the command's default level.

use tracing_subscriber::EnvFilter;

use crate::config::{Config, LogFormat};

/// Installs the global subscriber (once; later calls change nothing).
pub fn init(config: &Config, default_level: &str) {
    let filter = config
        .log_filter
        .as_deref()
        .and_then(|f| match EnvFilter::try_new(f) {
            Ok(filter) => Some(filter),
            Err(e) => {
                eprintln!("warning: ignoring RUST_LOG={f:?}: {e}");
                None
            }
        })
        .unwrap_or_else(|| EnvFilter::new(default_level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match config.log_format {
        LogFormat::Text => builder.with_ansi(false).try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
}
