//! `--repeat N`: combining N interleaved rounds of the backlog runners, and of the steady-mode runs, into
//! one row per runner (and load).
//!
//! The machines the bench runs on are noisy: a single run moved ferry's ratio to the ceiling between 0.7
//! and 1.0. Each round measures every runner once (so drift hits all of them alike), and the ratios are
//! taken within a round. A runner's row is then its median-rate run, with the median of the rounds' ratios
//! and every round's rate and ratio kept in the JSON. In steady mode a row is the run with the median p99
//! of its runner at its load, with every round's p50 and p99 kept.

use crate::report::{Latency, Measurement};

/// One row per runner (in first-seen order) from `rounds`; a single round is returned as it is.
pub fn medians(rounds: Vec<Vec<Measurement>>) -> Vec<Measurement> {
    per_key(rounds, |m| m.runner.clone(), combine)
}

/// One row per distinct `key` of the rows of `rounds` (in first-seen order), made by `combine` from that
/// key's rows (one per round it ran in) and the number of rounds; a single round is returned as it is.
fn per_key<T: Clone, K: PartialEq>(
    mut rounds: Vec<Vec<T>>,
    key: impl Fn(&T) -> K,
    combine: impl Fn(&[&T], usize) -> T,
) -> Vec<T> {
    if rounds.len() <= 1 {
        return rounds.pop().unwrap_or_default();
    }
    let mut keys: Vec<K> = Vec::new();
    for row in rounds.iter().flatten() {
        let k = key(row);
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    keys.into_iter()
        .map(|k| {
            let runs: Vec<&T> = rounds.iter().flatten().filter(|row| key(row) == k).collect();
            combine(&runs, rounds.len())
        })
        .collect()
}

/// The row of one runner from its runs (one per round it ran in).
fn combine(runs: &[&Measurement], rounds: usize) -> Measurement {
    let ok = by_rate(runs);
    let Some(middle) = ok.get(ok.len() / 2) else {
        // every round failed: the first failure says why
        return runs[0].clone();
    };
    let mut row = (*middle).clone();
    let ceiling: Vec<f64> = ok.iter().filter_map(|m| m.ratio_to_ceiling).collect();
    let ferry: Vec<f64> = ok.iter().filter_map(|m| m.ratio_to_ferry).collect();
    row.ratio_to_ceiling = median(&ceiling);
    row.ratio_to_ferry = median(&ferry);
    row.round_rates = runs.iter().map(|m| if m.ok { m.records_per_sec } else { 0.0 }).collect();
    row.round_ratios_to_ceiling = ceiling.clone();
    let failed = runs.len() - ok.len();
    let spread = match (ceiling.iter().copied().reduce(f64::min), ceiling.iter().copied().reduce(f64::max)) {
        (Some(lo), Some(hi)) => format!("; × ceiling {lo:.2}–{hi:.2}"),
        _ => String::new(),
    };
    let failures = if failed > 0 { format!("; {failed} failed") } else { String::new() };
    row.note = Some(format!("median of {} of {rounds} rounds{spread}{failures}", ok.len()));
    row
}

/// The successful runs among `runs`, slowest first.
fn by_rate<'a>(runs: &[&'a Measurement]) -> Vec<&'a Measurement> {
    let mut ok: Vec<&Measurement> = runs.iter().copied().filter(|m| m.ok).collect();
    ok.sort_by(|a, b| a.records_per_sec.total_cmp(&b.records_per_sec));
    ok
}

/// The successful run with the median rate (the upper one of two), if any run succeeded.
pub fn median_rate_run<'a>(runs: &[&'a Measurement]) -> Option<&'a Measurement> {
    let ok = by_rate(runs);
    ok.get(ok.len() / 2).copied()
}

/// One steady-mode row per runner and load (in first-seen order) from `rounds`: the run with the median p99
/// (the upper one of two) among the rounds that succeeded; a single round is returned as it is.
pub fn latency_medians(rounds: Vec<Vec<Latency>>) -> Vec<Latency> {
    per_key(rounds, |l| (l.runner.clone(), l.percent_of_ceiling), combine_latency)
}

/// The row of one runner at one load from its runs (one per round it ran in).
fn combine_latency(runs: &[&Latency], rounds: usize) -> Latency {
    let mut ok: Vec<&Latency> = runs.iter().copied().filter(|l| l.ok).collect();
    ok.sort_by(|a, b| a.p99_ms.total_cmp(&b.p99_ms));
    let Some(middle) = ok.get(ok.len() / 2) else {
        return runs[0].clone(); // every round failed: the first failure says why
    };
    let mut row = (*middle).clone();
    row.round_p50_ms = runs.iter().map(|l| l.ok.then_some(l.p50_ms)).collect();
    row.round_p99_ms = runs.iter().map(|l| l.ok.then_some(l.p99_ms)).collect();
    let spread = |values: Vec<f64>| {
        let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        format!("{lo:.1}–{hi:.1}")
    };
    let p50 = spread(ok.iter().map(|l| l.p50_ms).collect());
    let p99 = spread(ok.iter().map(|l| l.p99_ms).collect());
    let failed = runs.len() - ok.len();
    let failures = if failed > 0 { format!("; {failed} failed") } else { String::new() };
    row.note = Some(format!("median p99 of {} of {rounds} rounds; p50 {p50} ms, p99 {p99} ms{failures}", ok.len()));
    row
}

/// The median (mean of the two middle values for an even count).
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => None,
        n if n % 2 == 1 => Some(v[n / 2]),
        n => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::Workload;

    fn run(runner: &str, rate: f64, ratio: Option<f64>, ok: bool) -> Measurement {
        let w = Workload::sized(1024, 16, 1 << 20, 100);
        let mut m = Measurement::new(runner, &w, w.records, w.records as f64 / rate);
        m.ok = ok;
        m.ratio_to_ceiling = ratio;
        m
    }

    #[test]
    fn one_round_is_returned_unchanged() {
        let rows = medians(vec![vec![run("ferry", 10.0, Some(0.5), true)]]);
        assert_eq!(rows.len(), 1);
        assert!(rows[0].note.is_none());
    }

    #[test]
    fn the_median_run_carries_the_median_ratio_and_the_failures_are_counted() {
        let rounds = vec![
            vec![run("produce-ceiling", 100.0, Some(1.0), true), run("ferry", 90.0, Some(0.9), true)],
            vec![run("produce-ceiling", 120.0, Some(1.0), true), run("ferry", 70.0, Some(0.58), true)],
            vec![run("produce-ceiling", 110.0, Some(1.0), true), run("ferry", 0.0, None, false)],
        ];
        let rows = medians(rounds);
        assert_eq!(rows.iter().map(|m| m.runner.as_str()).collect::<Vec<_>>(), ["produce-ceiling", "ferry"]);
        assert!((rows[0].records_per_sec - 110.0).abs() < 1e-6);
        let ferry = &rows[1];
        assert!((ferry.records_per_sec - 90.0).abs() < 1e-6, "upper median of two: {}", ferry.records_per_sec);
        assert!(ferry.ratio_to_ceiling.is_some_and(|r| (r - 0.74).abs() < 1e-9), "{:?}", ferry.ratio_to_ceiling);
        assert_eq!(ferry.round_rates.len(), 3);
        assert_eq!(ferry.note.as_deref(), Some("median of 2 of 3 rounds; × ceiling 0.58–0.90; 1 failed"));
    }

    fn steady(runner: &str, percent: u32, p50: f64, p99: f64, ok: bool) -> Latency {
        Latency {
            runner: runner.into(),
            workload: Workload::sized(1024, 16, 0, 0),
            label: "1 KiB × 16 p".into(),
            percent_of_ceiling: percent,
            target_rate: 1000.0,
            achieved_rate: 1000.0,
            sent: 10,
            received: if ok { 10 } else { 3 },
            p50_ms: p50,
            p99_ms: p99,
            p999_ms: p99 + 1.0,
            max_ms: p99 + 2.0,
            mean_ms: p50,
            machine_cpu: None,
            ok,
            note: (!ok).then(|| "7 records missing".to_string()),
            round_p50_ms: Vec::new(),
            round_p99_ms: Vec::new(),
        }
    }

    #[test]
    fn steady_rows_are_the_median_p99_run_per_runner_and_load() {
        let rounds = vec![
            vec![steady("ferry", 5, 40.0, 200.0, true), steady("ferry", 50, 90.0, 700.0, true)],
            vec![steady("ferry", 5, 30.0, 150.0, true), steady("ferry", 50, 95.0, 900.0, false)],
            vec![steady("ferry", 5, 50.0, 250.0, true), steady("ferry", 50, 80.0, 600.0, true)],
        ];
        let rows = latency_medians(rounds);
        assert_eq!(rows.iter().map(|l| l.percent_of_ceiling).collect::<Vec<_>>(), [5, 50]);
        let low = &rows[0];
        assert!((low.p99_ms - 200.0).abs() < 1e-9 && (low.p50_ms - 40.0).abs() < 1e-9, "the median run whole");
        assert_eq!(low.round_p99_ms, [Some(200.0), Some(150.0), Some(250.0)]);
        assert_eq!(low.note.as_deref(), Some("median p99 of 3 of 3 rounds; p50 30.0–50.0 ms, p99 150.0–250.0 ms"));
        let high = &rows[1];
        assert!((high.p99_ms - 700.0).abs() < 1e-9, "upper median of the two that succeeded: {}", high.p99_ms);
        assert_eq!(high.round_p50_ms, [Some(90.0), None, Some(80.0)]);
        assert!(high.note.as_deref().is_some_and(|n| n.ends_with("; 1 failed")), "{:?}", high.note);
    }

    #[test]
    fn a_steady_run_that_always_failed_keeps_its_first_failure() {
        let rows =
            latency_medians(vec![vec![steady("ferry", 5, 1.0, 2.0, false)], vec![steady("ferry", 5, 1.0, 2.0, false)]]);
        assert_eq!(rows.len(), 1);
        assert!(!rows[0].ok);
        assert_eq!(rows[0].note.as_deref(), Some("7 records missing"));
    }

    #[test]
    fn a_runner_that_always_failed_keeps_its_first_failure() {
        let mut failed = run("mm2-default", 1.0, None, false);
        failed.note = Some("timed out".into());
        let rows = medians(vec![vec![failed.clone()], vec![run("mm2-default", 1.0, None, false)]]);
        assert_eq!(rows[0].note.as_deref(), Some("timed out"));
        assert!(!rows[0].ok);
    }
}
