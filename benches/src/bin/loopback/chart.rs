//! The chart: throughput relative to the hyper-util client, one group of bars per
//! workload, one bar per client, drawn to SVG with plotters.

use std::path::Path;

use plotters::prelude::*;

use crate::BoxError;
use crate::clients::ClientKind;
use crate::report::Report;
use crate::workload::Workload;

/// Bar colours, one per client in `ClientKind::ALL` order.
const COLOURS: [RGBColor; 7] = [
    RGBColor(0x9e, 0x9e, 0x9e), // hyper-util: the floor, in grey
    RGBColor(0x1f, 0x77, 0xb4), // volley
    RGBColor(0x8c, 0xb8, 0xdc), // volley without redirects and decompression
    RGBColor(0xff, 0x7f, 0x0e), // reqwest
    RGBColor(0xd6, 0x27, 0x28), // reqwest-middleware + retry
    RGBColor(0x2c, 0xa0, 0x2c), // volley's layers alone
    RGBColor(0x98, 0xdf, 0x8a), // tower's layers
];
/// Width of one bar, in workload units (a group spans 0.8).
const BAR: f64 = 0.8 / 7.0;

/// Draws the median throughput ratio of every client on every workload to `path`.
pub(crate) fn draw(report: &Report, path: &Path) -> Result<(), BoxError> {
    let top =
        report.summaries.iter().filter_map(|s| s.ratio_to_hyper).fold(1.0_f64, f64::max) * 1.4;
    let root = SVGBackend::new(path, (900, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Loopback throughput relative to the plain hyper-util client (median)",
            ("sans-serif", 20),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(-0.5_f64..(Workload::ALL.len() as f64 - 0.5), 0.0_f64..top)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(Workload::ALL.len())
        .x_label_formatter(&|x| {
            workload_at(*x).map_or_else(String::new, |w| w.describe().to_owned())
        })
        .y_desc("throughput ÷ hyper-util's")
        .y_label_formatter(&|y| format!("{y:.1}×"))
        .draw()?;

    for (slot, (client, colour)) in ClientKind::ALL.into_iter().zip(COLOURS).enumerate() {
        let bars: Vec<(f64, f64)> = Workload::ALL
            .into_iter()
            .enumerate()
            .filter_map(|(group, workload)| {
                let ratio = report
                    .summaries
                    .iter()
                    .find(|s| s.workload == workload && s.client == client)?
                    .ratio_to_hyper?;
                Some((group as f64 - 0.4 + slot as f64 * BAR, ratio))
            })
            .collect();
        chart
            .draw_series(bars.iter().map(|&(left, ratio)| {
                Rectangle::new([(left + 0.01, 0.0), (left + BAR - 0.01, ratio)], colour.filled())
            }))?
            .label(client.name())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], colour.filled()));
        chart.draw_series(bars.iter().map(|&(left, ratio)| {
            Text::new(format!("{ratio:.2}"), (left + 0.02, ratio + top * 0.035), ("sans-serif", 11))
        }))?;
    }
    // The floor every ratio is measured against.
    chart.draw_series(LineSeries::new(
        [(-0.5, 1.0), (Workload::ALL.len() as f64 - 0.5, 1.0)],
        BLACK.stroke_width(1),
    ))?;
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

/// The workload whose group is centred on `x`, if `x` is a group centre.
fn workload_at(x: f64) -> Option<Workload> {
    let index = x.round();
    if (x - index).abs() > 1e-6 || index < 0.0 {
        return None;
    }
    Workload::ALL.get(index as usize).copied()
}
