//! Progress of a bench run on stderr: a bar on a terminal, plain time-stamped lines otherwise (so a log of
//! a run, e.g. in CI, reads well).

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Progress: a bar on a terminal, plain lines otherwise.
pub struct Progress {
    /// The bar (hidden when stderr is not a terminal).
    pub bar: ProgressBar,
    tty: bool,
    started: Instant,
}

impl Progress {
    /// A bar of `steps` steps.
    pub fn new(steps: u64) -> Progress {
        let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
        let bar = ProgressBar::with_draw_target(
            Some(steps),
            if tty { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() },
        );
        bar.set_style(
            ProgressStyle::with_template("{elapsed_precise} [{bar:30.cyan/blue}] {pos}/{len} {wide_msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        Progress { bar, tty, started: Instant::now() }
    }

    /// A step starts.
    pub fn begin(&self, msg: String) {
        if !self.tty {
            eprintln!("[bench {:>5.1}s] {msg}", self.started.elapsed().as_secs_f64());
        }
        self.bar.set_message(msg);
    }

    /// A step is done; `line` says what it measured.
    pub fn done(&self, line: String) {
        if self.tty {
            self.bar.println(line);
        } else {
            eprintln!("[bench {:>5.1}s]   {line}", self.started.elapsed().as_secs_f64());
        }
        self.bar.inc(1);
    }

    /// A line that is not a step.
    pub fn say(&self, line: String) {
        if self.tty {
            self.bar.println(line);
        } else {
            eprintln!("[bench {:>5.1}s] {line}", self.started.elapsed().as_secs_f64());
        }
    }
}
