//! `ferry-loadtest`: runs one load-test scenario (see the library docs), prints a summary, writes JSON, and
//! exits 1 if any record was lost, reordered or misplaced (2 on a set-up error).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use clap::Parser;
use ferry_loadtest::{parse_duration, run, Options};

/// Run ferry under steady load with faults, then verify nothing was lost or reordered.
#[derive(Parser, Debug)]
#[command(
    version,
    about,
    after_help = "Examples:\n  ferry-loadtest --duration 60s --rate 5000 --partitions 4 --kill-every 10s\n  \
                  ferry-loadtest --duration 120s --rate 2000 --source-outage 20s --target-outage 20s --pause-target 5s"
)]
struct Args {
    /// How long the load runs, e.g. 60s, 5m.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    duration: Duration,
    /// Records per second, all partitions together.
    #[arg(long, default_value_t = 5000.0)]
    rate: f64,
    /// Partitions of the source topic.
    #[arg(long, default_value_t = 4)]
    partitions: i32,
    /// Record value size in bytes (at least 16).
    #[arg(long, default_value_t = 200)]
    record_bytes: usize,
    /// Kill ferry with SIGKILL this often, restarting it at once.
    #[arg(long, value_parser = parse_duration)]
    kill_every: Option<Duration>,
    /// At most this many kills.
    #[arg(long)]
    max_kills: Option<u32>,
    /// Stop the source broker (SIGKILL) this long at 25 % of the duration, then start it again.
    #[arg(long, value_parser = parse_duration)]
    source_outage: Option<Duration>,
    /// Stop the target broker this long at 50 % of the duration.
    #[arg(long, value_parser = parse_duration)]
    target_outage: Option<Duration>,
    /// Pause the target broker (SIGSTOP … SIGCONT) this long at 70 % of the duration.
    #[arg(long, value_parser = parse_duration)]
    pause_target: Option<Duration>,
    /// Kill ferry with SIGKILL (and restart it) once while the target broker is paused.
    #[arg(long)]
    kill_while_target_paused: bool,
    /// Run ferry in exactly-once mode; the report then counts duplicates as failures.
    #[arg(long)]
    exactly_once: bool,
    /// How long ferry may take to copy the rest after the load.
    #[arg(long, default_value = "180s", value_parser = parse_duration)]
    catch_up_timeout: Duration,
    /// The ferry binary (default: $FERRY_BIN, else next to this binary, else target/release/ferry).
    #[arg(long)]
    ferry_bin: Option<PathBuf>,
    /// Where to write the JSON report (default: loadtest-<topic>.json in the work directory).
    #[arg(long)]
    json: Option<PathBuf>,
    /// Keep the topics even if the scenario passes.
    #[arg(long)]
    keep_topics: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match execute(args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("ferry-loadtest: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn execute(args: Args) -> Result<bool> {
    let interrupt = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, interrupt.clone())?;
    }
    let opts = Options {
        duration: args.duration,
        rate: args.rate,
        partitions: args.partitions,
        record_bytes: args.record_bytes,
        kill_every: args.kill_every,
        max_kills: args.max_kills,
        source_outage: args.source_outage,
        target_outage: args.target_outage,
        pause_target: args.pause_target,
        kill_while_target_paused: args.kill_while_target_paused,
        exactly_once: args.exactly_once,
        catch_up_timeout: args.catch_up_timeout,
        ferry_bin: args.ferry_bin,
        keep_topics: args.keep_topics,
        interrupt: Some(interrupt),
    };
    let report = run(&opts)?;
    let json =
        args.json.unwrap_or_else(|| PathBuf::from(&report.work_dir).join(format!("loadtest-{}.json", report.topic)));
    std::fs::write(&json, serde_json::to_string_pretty(&report)? + "\n")?;
    println!("{}\n  report: {}", report.summary(), json.display());
    Ok(report.passed)
}
