//! The PNGs: throughput (MB/s) by workload and runner, and steady-mode latency percentiles; and a second
//! one with WAN mode (MB/s by RTT) and the memory run (RSS over time).
//!
//! Text is drawn with DejaVu Sans embedded from the `dejavu` crate (plotters' `ab_glyph` backend), so the
//! plot renders the same on a machine without any system font.

use std::path::Path;

use anyhow::{anyhow, Result};
use plotters::coord::CoordTranslate;
use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::report::{Report, RUNNERS};

/// A colour per runner, in [`RUNNERS`] order.
const COLOURS: [RGBColor; 8] = [
    RGBColor(150, 150, 150), // produce ceiling
    RGBColor(200, 200, 200), // consume ceiling
    RGBColor(230, 160, 60),  // naive
    RGBColor(40, 120, 200),  // ferry
    RGBColor(120, 180, 235), // ferry ×2
    RGBColor(40, 160, 140),  // ferry EOS
    RGBColor(200, 60, 60),   // mm2 default
    RGBColor(140, 60, 160),  // mm2 tuned
];

/// Latency percentile colours: p50, p99, p99.9, max.
const PCT_COLOURS: [RGBColor; 4] =
    [RGBColor(40, 120, 200), RGBColor(230, 160, 60), RGBColor(200, 60, 60), RGBColor(90, 90, 90)];

fn register_fonts() -> Result<()> {
    plotters::style::register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular())
        .map_err(|_| anyhow!("invalid embedded font"))?;
    plotters::style::register_font("sans-serif", FontStyle::Bold, dejavu::sans::bold())
        .map_err(|_| anyhow!("invalid embedded font"))?;
    Ok(())
}

fn err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("drawing the plot: {e:?}")
}

/// Draws the series legend of `chart` at `position`.
fn legend<'a, DB, CT>(chart: &mut ChartContext<'a, DB, CT>, position: SeriesLabelPosition) -> Result<()>
where
    DB: DrawingBackend + 'a,
    CT: CoordTranslate,
{
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 15))
        .draw()
        .map_err(err)
}

/// Draws `report` into a PNG at `path`.
///
/// # Errors
/// When there is nothing to draw or the drawing fails.
pub fn draw(report: &Report, path: &Path) -> Result<()> {
    register_fonts()?;
    let labels = report.labels();
    if labels.is_empty() {
        return Err(anyhow!("no backlog measurement"));
    }
    let runners: Vec<&str> =
        RUNNERS.iter().copied().filter(|r| report.backlog.iter().any(|m| m.runner == *r && m.ok)).collect();
    let has_latency = report.latency.iter().any(|l| l.received > 0);
    let height = if has_latency { 1100 } else { 650 };
    let root = BitMapBackend::new(path, (1400, height)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let (top, bottom) = if has_latency { root.split_vertically(620) } else { (root.clone(), root.clone()) };

    // Throughput: one group of bars per workload, one bar per runner.
    let k = runners.len().max(1) as i32;
    let slots = labels.len() as i32 * (k + 1);
    let max_mb = report.backlog.iter().filter(|m| m.ok).map(|m| m.mb_per_sec).fold(1.0, f64::max);
    let mut chart = ChartBuilder::on(&top)
        .caption(
            format!("ferry bench {} — backlog throughput (MB/s, higher is better)", report.started_utc),
            ("sans-serif", 26).into_font(),
        )
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0..slots, 0.0..max_mb * 1.15)
        .map_err(err)?;
    let centre = |slot: i32| -> Option<usize> { (slot % (k + 1) == k / 2).then_some((slot / (k + 1)) as usize) };
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(slots as usize + 1)
        .x_label_formatter(&|slot| centre(*slot).and_then(|i| labels.get(i).cloned()).unwrap_or_default())
        .y_desc("MB/s (keys + values)")
        .label_style(("sans-serif", 16))
        .draw()
        .map_err(err)?;
    for (r, runner) in runners.iter().enumerate() {
        let colour = COLOURS[RUNNERS.iter().position(|x| x == runner).unwrap_or(0)];
        let bars: Vec<(i32, f64)> = labels
            .iter()
            .enumerate()
            .filter_map(|(i, label)| report.find(label, runner).map(|m| (i as i32 * (k + 1) + r as i32, m.mb_per_sec)))
            .collect();
        chart
            .draw_series(bars.iter().map(|&(x, y)| Rectangle::new([(x, 0.0), (x + 1, y)], colour.filled())))
            .map_err(err)?
            .label(*runner)
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], colour.filled()));
        chart
            .draw_series(
                bars.iter().map(|&(x, y)| {
                    Text::new(format!("{y:.0}"), (x, y + max_mb * 0.02), ("sans-serif", 13).into_font())
                }),
            )
            .map_err(err)?;
    }
    legend(&mut chart, SeriesLabelPosition::UpperRight)?;

    if has_latency {
        let lat: Vec<_> = report.latency.iter().filter(|l| l.received > 0).collect();
        let slots = lat.len() as i32 * 5;
        let max_ms = lat.iter().map(|l| l.max_ms).fold(1.0, f64::max);
        let mut chart = ChartBuilder::on(&bottom)
            .caption(
                "steady mode — end-to-end latency (ms, log scale, lower is better)",
                ("sans-serif", 22).into_font(),
            )
            .margin(15)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(0..slots, (0.1f64..max_ms * 2.0).log_scale())
            .map_err(err)?;
        let names: Vec<String> =
            lat.iter().map(|l| format!("{} @ {} % ({})", l.runner, l.percent_of_ceiling, l.label)).collect();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(slots as usize + 1)
            .x_label_formatter(&|slot| {
                if slot % 5 == 2 {
                    names.get((slot / 5) as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .y_desc("ms")
            .label_style(("sans-serif", 15))
            .draw()
            .map_err(err)?;
        for (j, name) in ["p50", "p99", "p99.9", "max"].iter().enumerate() {
            let colour = PCT_COLOURS[j];
            let bars: Vec<(i32, f64)> = lat
                .iter()
                .enumerate()
                .map(|(i, l)| {
                    let v = [l.p50_ms, l.p99_ms, l.p999_ms, l.max_ms][j];
                    (i as i32 * 5 + j as i32, v.max(0.1))
                })
                .collect();
            chart
                .draw_series(bars.iter().map(|&(x, y)| Rectangle::new([(x, 0.1), (x + 1, y)], colour.filled())))
                .map_err(err)?
                .label(*name)
                .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], colour.filled()));
            chart
                .draw_series(
                    bars.iter()
                        .map(|&(x, y)| Text::new(format!("{y:.1}"), (x, y * 1.15), ("sans-serif", 12).into_font())),
                )
                .map_err(err)?;
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight)?;
    }
    root.present().map_err(err)?;
    Ok(())
}

/// Draws the WAN chart (MB/s per runner at each RTT, log scale) and the memory run's RSS over time into a
/// second PNG at `path`, each when it ran.
///
/// # Errors
/// When there is nothing to draw or the drawing fails.
pub fn draw_wan_rss(report: &Report, path: &Path) -> Result<()> {
    register_fonts()?;
    let wan = report.wan.as_ref().filter(|w| w.rows.iter().any(|r| r.measurement.ok));
    let rss = report.rss.as_ref().filter(|r| !r.samples.is_empty());
    let panels = usize::from(wan.is_some()) + usize::from(rss.is_some());
    if panels == 0 {
        return Err(anyhow!("no WAN or memory measurement"));
    }
    let root = BitMapBackend::new(path, (1400, 560 * panels as u32)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let areas = root.split_evenly((panels, 1));
    let mut areas = areas.iter();
    if let (Some(wan), Some(area)) = (wan, wan.is_some().then(|| areas.next()).flatten()) {
        draw_wan(wan, area)?;
    }
    if let (Some(rss), Some(area)) = (rss, areas.next()) {
        draw_rss(rss, area)?;
    }
    root.present().map_err(err)?;
    Ok(())
}

fn draw_wan(wan: &crate::wan::WanReport, area: &DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>) -> Result<()> {
    let rtts: Vec<u32> = wan.rtts.iter().map(|r| r.rtt_ms).collect();
    let runners: Vec<&str> = RUNNERS
        .iter()
        .copied()
        .filter(|r| wan.rows.iter().any(|x| x.measurement.runner == *r && x.measurement.ok))
        .collect();
    let k = runners.len().max(1) as i32;
    let slots = rtts.len() as i32 * (k + 1);
    let ok = || wan.rows.iter().filter(|r| r.measurement.ok).map(|r| r.measurement.mb_per_sec);
    let max_mb = ok().fold(1.0, f64::max);
    let min_mb = ok().fold(max_mb, f64::min).max(0.01);
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!("WAN mode — {} backlog, MB/s by source RTT (log scale)", wan.workload.label()),
            ("sans-serif", 24).into_font(),
        )
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0..slots, (min_mb / 2.0..max_mb * 2.5).log_scale())
        .map_err(err)?;
    let centre = |slot: i32| -> Option<usize> { (slot % (k + 1) == k / 2).then_some((slot / (k + 1)) as usize) };
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(slots as usize + 1)
        .x_label_formatter(&|slot| {
            centre(*slot).and_then(|i| rtts.get(i)).map(|r| format!("{r} ms RTT")).unwrap_or_default()
        })
        .y_desc("MB/s")
        .label_style(("sans-serif", 16))
        .draw()
        .map_err(err)?;
    for (r, runner) in runners.iter().enumerate() {
        let colour = COLOURS[RUNNERS.iter().position(|x| x == runner).unwrap_or(0)];
        let bars: Vec<(i32, f64)> = wan
            .rows
            .iter()
            .filter(|x| x.measurement.runner == *runner && x.measurement.ok)
            .filter_map(|x| rtts.iter().position(|t| *t == x.rtt_ms).map(|i| (i, x.measurement.mb_per_sec)))
            .map(|(i, y)| (i as i32 * (k + 1) + r as i32, y))
            .collect();
        let floor = min_mb / 2.0;
        chart
            .draw_series(bars.iter().map(|&(x, y)| Rectangle::new([(x, floor), (x + 1, y)], colour.filled())))
            .map_err(err)?
            .label(*runner)
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], colour.filled()));
        chart
            .draw_series(bars.iter().map(|&(x, y)| {
                Text::new(
                    if y >= 10.0 { format!("{y:.0}") } else { format!("{y:.1}") },
                    (x, y * 1.12),
                    ("sans-serif", 13).into_font(),
                )
            }))
            .map_err(err)?;
    }
    legend(&mut chart, SeriesLabelPosition::UpperRight)?;
    Ok(())
}

fn draw_rss(rss: &crate::rss::RssRun, area: &DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>) -> Result<()> {
    let t_max = rss.samples.iter().map(|s| s.t_s).fold(1.0, f64::max);
    let y_max = rss.samples.iter().map(|s| s.rss_mb).fold(crate::rss::GOAL_MB, f64::max) * 1.15;
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!("ferry's RSS copying a {} backlog (sampled every 250 ms)", rss.workload.label()),
            ("sans-serif", 24).into_font(),
        )
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..t_max * 1.02, 0.0..y_max)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("seconds since ferry started")
        .y_desc("RSS MB")
        .label_style(("sans-serif", 16))
        .draw()
        .map_err(err)?;
    let blue = COLOURS[3];
    chart
        .draw_series(LineSeries::new(rss.samples.iter().map(|s| (s.t_s, s.rss_mb)), blue.stroke_width(2)))
        .map_err(err)?
        .label("VmRSS")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], blue.stroke_width(2)));
    let red = COLOURS[6];
    chart
        .draw_series(LineSeries::new(
            [(0.0, crate::rss::GOAL_MB), (t_max * 1.02, crate::rss::GOAL_MB)],
            red.stroke_width(1),
        ))
        .map_err(err)?
        .label("goal 200 MB")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], red.stroke_width(1)));
    if let Some((a, b)) = rss.copy_window_s {
        let grey = COLOURS[0];
        for t in [a, b] {
            chart.draw_series(LineSeries::new([(t, 0.0), (t, y_max)], grey.stroke_width(1))).map_err(err)?;
        }
        chart
            .draw_series([Text::new("copy window", (a, y_max * 0.95), ("sans-serif", 14).into_font())])
            .map_err(err)?;
    }
    legend(&mut chart, SeriesLabelPosition::LowerRight)?;
    Ok(())
}
