//! The `ferry` command: `run`, `check` and `demo`.
//!
//! Exit codes: 0 success, 1 runtime failure, 2 invalid configuration or usage (one line naming the key).

// Errors are the cold path (see lib.rs).
#![allow(clippy::result_large_err)]

use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand, ValueEnum};
use ferry_actors::{check, demo, error::FerryError, exit, runtime, translate};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// ferry replicates Kafka topics between clusters from an unchanged MirrorMaker 2 mm2.properties.
#[derive(Parser)]
#[command(version, about, long_about = None, after_help = "Examples:\n  ferry demo\n  ferry check mm2.properties\n  ferry run mm2.properties --clusters dest")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log level (overridden by RUST_LOG): error, warn, info, debug, trace.
    #[arg(long, global = true, default_value = "info")]
    log_level: String,
    /// Log format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Human)]
    log_format: LogFormat,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Human,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Replicate until SIGTERM/SIGINT, then drain, store progress and exit 0.
    #[command(after_help = "Example:\n  ferry run mm2.properties\n  ferry run mm2.properties --clusters backup")]
    Run {
        /// The mm2.properties file.
        file: PathBuf,
        /// Only run flows whose target is one of these aliases (comma-separated), like MM2's --clusters.
        #[arg(long, value_delimiter = ',')]
        clusters: Vec<String>,
        /// Where to serve /metrics, /status, /healthz and /readyz (IP:port, or `off`); overrides
        /// `ferry.metrics.address` (default 127.0.0.1:9644).
        #[arg(long, value_name = "ADDR")]
        metrics_addr: Option<String>,
    },
    /// Validate a configuration and print the plan (flows, policy, settings, matching topics) without copying.
    #[command(after_help = "Example:\n  ferry check mm2.properties")]
    Check {
        /// The mm2.properties file.
        file: PathBuf,
        /// Do not contact the clusters.
        #[arg(long)]
        offline: bool,
    },
    /// Print where a consumer group should resume on the target cluster after a failover, per partition.
    #[command(
        after_help = "Example:\n  ferry translate mm2.properties --group billing --from src --to dest\n  ferry translate mm2.properties --group billing --from src --to dest --json"
    )]
    Translate {
        /// The mm2.properties file.
        file: PathBuf,
        /// The consumer group (its committed offsets on the source cluster are translated).
        #[arg(long)]
        group: String,
        /// Source cluster alias.
        #[arg(long)]
        from: String,
        /// Target cluster alias.
        #[arg(long)]
        to: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Replicate a sample topic between two in-process mock clusters and verify the copy (no Kafka needed).
    #[command(after_help = "Example:\n  ferry demo")]
    Demo,
}

fn init_logging(cli: &Cli) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&cli.log_level));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn load(file: &Path) -> Result<ferry_engine::Mm2Config, FerryError> {
    let config = ferry_engine::load_file(file)?;
    for warning in &config.warnings {
        tracing::warn!("{warning}");
    }
    Ok(config)
}

fn current_thread() -> Result<tokio::runtime::Runtime, FerryError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| FerryError::Io { context: "starting the runtime".into(), source })
}

fn execute(cli: Cli) -> Result<(), FerryError> {
    match cli.command {
        Command::Run { file, clusters, metrics_addr } => {
            let mut config = load(&file)?;
            if !clusters.is_empty() {
                config.restrict_to_targets(&clusters)?;
            }
            let metrics_key = match metrics_addr {
                Some(value) => {
                    config.metrics.address = ferry_engine::config::parse_metrics_address("--metrics-addr", &value)?;
                    "--metrics-addr"
                }
                None => ferry_engine::config::METRICS_ADDRESS_KEY,
            };
            runtime::run(config, metrics_key)
        }
        Command::Check { file, offline } => {
            let config = ferry_engine::load_file(&file)?;
            print!("{}", current_thread()?.block_on(check::plan(&config, !offline)));
            Ok(())
        }
        Command::Translate { file, group, from, to, json } => {
            let config = load(&file)?;
            let flow = translate::find_flow(&config, &from, &to)?;
            let rows = current_thread()?.block_on(translate::translate_group(flow, &group))?;
            if json {
                println!("{}", translate::render_json(flow, &group, &rows));
            } else {
                print!("{}", translate::render_table(flow, &group, &rows));
            }
            Ok(())
        }
        Command::Demo => demo::run(),
    }
}

fn main() {
    let cli = Cli::parse();
    init_logging(&cli);
    let code = match execute(cli) {
        Ok(()) => 0,
        Err(error) => {
            match &error {
                FerryError::Config(config) => eprintln!("ferry: invalid configuration: {config}"),
                other => eprintln!("ferry: {other}"),
            }
            error.exit_code() as u8
        }
    };
    // Kafka clients may still run (`run` and `demo` leave them): no C exit handler may run under them.
    exit::exit_now(code)
}
