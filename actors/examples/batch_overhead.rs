//! Measures what metrics add to the data path's bookkeeping: per-record acknowledgements and per-batch
//! completion of 2,000-record batches of 1 KiB records, three ways: without the byte sums and with handles
//! doing nothing (the bookkeeping before metrics existed), with the byte sums and handles doing nothing
//! (`ferry.metrics.address=off`), and with the Prometheus recorder installed (the default). Run with
//! `cargo run --release -p ferry --example batch_overhead`; docs/performance.md quotes it. With an argument
//! (`before`, `off` or `on`) it runs that variant once, for instruction counts that a busy machine does not
//! disturb: `perf stat -e instructions:u target/release/examples/batch_overhead on`.

use std::time::Instant;

use ferry_actors::metrics::{self, FlowLabels, PartitionMetrics};
use ferry_actors::pipeline::batch::RecordBatch;
use ferry_actors::pipeline::tracker::{BatchSummary, PartitionTracker, NONE};

const RECORDS: usize = 2000;
const BATCHES: usize = 5000;

/// Nanoseconds per record to sum a batch's bytes, register it, acknowledge each record and complete it.
fn run(metrics: PartitionMetrics, sums: bool) -> f64 {
    let tracker = PartitionTracker::new("t", 0, "a.t", NONE, None, metrics);
    let mut batch = RecordBatch::with_capacity(tracker.clone(), RECORDS, RECORDS * 1100);
    let value = vec![7u8; 1024];
    for offset in 0..RECORDS as i64 {
        batch.push_parts(offset, Some(1_700_000_000_000 + offset), Some(b"12345678"), Some(&value), &[]);
    }
    let started = Instant::now();
    for _ in 0..BATCHES {
        // What the producer worker does per batch (see pipeline/producer.rs).
        let records = batch.records();
        let ack = if sums {
            let upstream = records.iter().map(|r| r.offset).collect();
            tracker.begin_batch(upstream, batch.summary())
        } else {
            // The bookkeeping before metrics: offsets only.
            tracker.begin_batch(records.iter().map(|r| r.offset).collect(), BatchSummary::default())
        };
        for (i, _) in records.iter().enumerate() {
            ack.delivered(true, i as i64);
        }
    }
    started.elapsed().as_nanos() as f64 / (RECORDS * BATCHES) as f64
}

fn main() {
    let flow = FlowLabels::new("a", "b");
    if let Some(variant) = std::env::args().nth(1) {
        let ns = match variant.as_str() {
            "before" => run(PartitionMetrics::noop(), false),
            "off" => run(PartitionMetrics::noop(), true),
            "on" => {
                let _handle = metrics::install().expect("recorder");
                run(PartitionMetrics::new(&flow, "t", 0), true)
            }
            other => {
                eprintln!("unknown variant `{other}`: before, off or on");
                std::process::exit(2);
            }
        };
        println!("{variant}: {ns:.2} ns per record");
        return;
    }
    let (mut bare, mut off, mut on) = (Vec::new(), Vec::new(), Vec::new());
    let handle = metrics::install().expect("recorder");
    for _ in 0..7 {
        bare.push(run(PartitionMetrics::noop(), false));
        off.push(run(PartitionMetrics::noop(), true));
        on.push(run(PartitionMetrics::new(&flow, "t", 0), true));
    }
    for runs in [&mut bare, &mut off, &mut on] {
        runs.sort_by(f64::total_cmp);
    }
    println!(
        "ns per record (median of 7 × {BATCHES} batches of {RECORDS}): before metrics {:.2}, metrics off {:.2}, on {:.2}",
        bare[3], off[3], on[3]
    );
    let text = handle.render();
    let copied = text.lines().find(|l| l.starts_with("ferry_copied_records_total")).unwrap_or_default();
    println!("{copied}");
}
