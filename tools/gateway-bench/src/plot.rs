//! The sweep's curves as one SVG: memory per idle stream, CPU per delivery
//! and latency against the number of streams, and ingest latency against
//! the connections. SVG only: text is written as `<text>` and laid out by
//! plotters' built-in estimate, so no system fonts are needed to draw it.

use std::error::Error;
use std::path::Path;

use plotters::prelude::*;

use crate::sweep::{FanoutPoint, Sweep};

const BROAD: RGBColor = RGBColor(0x1f, 0x77, 0xb4);
const FILTERED: RGBColor = RGBColor(0xd6, 0x27, 0x28);
const P99: RGBColor = RGBColor(0x2c, 0xa0, 0x2c);

/// A curve: its legend, colour and points.
type Series<'a> = (&'a str, RGBColor, Vec<(f64, f64)>);

type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

pub fn draw(sweep: &Sweep, path: &Path) -> Result<(), Box<dyn Error>> {
    let root = SVGBackend::new(path, (1200, 820)).into_drawing_area();
    root.fill(&WHITE)?;
    let (title, body) = root.split_vertically(40);
    title.draw(&Text::new(
        format!(
            "gateway-bench --sweep: cost against work ({} gateway core(s))",
            sweep.cores
        ),
        (20, 12),
        ("sans-serif", 20).into_font(),
    ))?;
    let panels = body.split_evenly((2, 2));
    let of = |kind: &str, value: fn(&FanoutPoint) -> f64| -> Vec<(f64, f64)> {
        sweep
            .fanout
            .iter()
            .filter(|p| p.kind == kind)
            .map(|p| (p.streams as f64, value(p)))
            .filter(|(_, y)| y.is_finite())
            .collect()
    };
    streams_panel(
        &panels[0],
        "Memory per idle stream (KiB)",
        &[
            (
                "broad",
                BROAD,
                of("broad", |p| p.rss_bytes_per_stream / 1024.0),
            ),
            (
                "filtered",
                FILTERED,
                of("filtered", |p| p.rss_bytes_per_stream / 1024.0),
            ),
        ],
        false,
    )?;
    streams_panel(
        &panels[1],
        "Gateway CPU per delivery (µs)",
        &[
            ("broad", BROAD, of("broad", |p| p.cpu_us_per_delivery)),
            (
                "filtered",
                FILTERED,
                of("filtered", |p| p.cpu_us_per_delivery),
            ),
        ],
        true,
    )?;
    streams_panel(
        &panels[2],
        "Fan-out latency, post to receipt (ms)",
        &[
            ("broad p50", BROAD, of("broad", |p| p.p50_ms)),
            ("broad p99", P99, of("broad", |p| p.p99_ms)),
            ("filtered p50", FILTERED, of("filtered", |p| p.p50_ms)),
        ],
        true,
    )?;
    ingest_panel(&panels[3], sweep)?;
    root.present()?;
    Ok(())
}

fn y_range(series: &[Series<'_>], log: bool) -> (f64, f64) {
    let values = series
        .iter()
        .flat_map(|(_, _, points)| points.iter().map(|p| p.1));
    let (lo, hi) = values.fold((f64::INFINITY, 0f64), |(lo, hi), y| (lo.min(y), hi.max(y)));
    if !hi.is_finite() || hi <= 0.0 {
        return if log { (0.001, 1.0) } else { (0.0, 1.0) };
    }
    if log {
        ((lo.max(hi * 1e-4) * 0.5).max(1e-4), hi * 2.0)
    } else {
        (0.0, hi * 1.2)
    }
}

fn streams_panel(
    area: &Area<'_>,
    caption: &str,
    series: &[Series<'_>],
    log_y: bool,
) -> Result<(), Box<dyn Error>> {
    let (lo, hi) = y_range(series, log_y);
    let mut builder = ChartBuilder::on(area);
    builder
        .caption(caption, ("sans-serif", 16))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(60);
    let x = (700f64..70_000f64).log_scale();
    if log_y {
        let mut chart = builder.build_cartesian_2d(x, (lo..hi).log_scale())?;
        chart
            .configure_mesh()
            .x_desc("streams")
            .x_label_formatter(&|v| format!("{v:.0}"))
            .draw()?;
        lines(&mut chart, series)
    } else {
        let mut chart = builder.build_cartesian_2d(x, lo..hi)?;
        chart
            .configure_mesh()
            .x_desc("streams")
            .x_label_formatter(&|v| format!("{v:.0}"))
            .draw()?;
        lines(&mut chart, series)
    }
}

fn lines<'a, X, Y>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<X, Y>>,
    series: &[Series<'_>],
) -> Result<(), Box<dyn Error>>
where
    X: plotters::coord::ranged1d::Ranged<ValueType = f64>,
    Y: plotters::coord::ranged1d::Ranged<ValueType = f64>,
{
    for (label, color, points) in series {
        let color = *color;
        chart
            .draw_series(LineSeries::new(
                points.iter().copied(),
                color.stroke_width(2),
            ))?
            .label(*label)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        chart.draw_series(
            points
                .iter()
                .map(|&point| Circle::new(point, 3, color.filled())),
        )?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

fn ingest_panel(area: &Area<'_>, sweep: &Sweep) -> Result<(), Box<dyn Error>> {
    let series = vec![
        (
            "p50",
            BROAD,
            sweep
                .ingest
                .iter()
                .map(|p| (p.connections as f64, p.p50_ms))
                .collect::<Vec<_>>(),
        ),
        (
            "p99",
            P99,
            sweep
                .ingest
                .iter()
                .map(|p| (p.connections as f64, p.p99_ms))
                .collect(),
        ),
    ];
    let (lo, hi) = y_range(&series, true);
    let mut chart = ChartBuilder::on(area)
        .caption(
            "Ingest: webhook to 200 (ms) by connections",
            ("sans-serif", 16),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(60)
        .build_cartesian_2d((0.7f64..180f64).log_scale(), (lo..hi).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("connections")
        .x_label_formatter(&|v| format!("{v:.0}"))
        .draw()?;
    lines(&mut chart, &series)
}
