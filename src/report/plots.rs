//! PNG plots drawn with plotters, text set in the DejaVu Sans font shipped in the binary.

use plotters::prelude::*;
use std::path::Path;
use std::sync::Once;

static FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");
static REGISTER: Once = Once::new();

fn register_font() {
    REGISTER.call_once(|| {
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

fn plot_err<E: std::fmt::Debug>(path: &Path) -> impl Fn(E) -> anyhow::Error + '_ {
    move |e| anyhow::anyhow!("cannot draw {}: {e:?}", path.display())
}

/// Draw into a temporary PNG next to `path`, then move it into place.
fn draw_atomic(path: &Path, draw: impl FnOnce(&Path) -> crate::Result<()>) -> crate::Result<()> {
    register_font();
    let tmp = path.with_extension(format!("{}.tmp.png", std::process::id()));
    let result = draw(&tmp).and_then(|_| {
        std::fs::rename(&tmp, path)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// The ROC curve.
pub fn roc(path: &Path, scores: &[f32], labels: &[u8], auroc: f64) -> crate::Result<()> {
    let curve = crate::metrics::roc_curve(scores, labels)?;
    draw_atomic(path, |tmp| {
        let root = BitMapBackend::new(tmp, (640, 560)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err(path))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(format!("ROC (AUROC {auroc:.4})"), ("sans-serif", 22))
            .margin(16)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(0f64..1f64, 0f64..1f64)
            .map_err(plot_err(path))?;
        chart
            .configure_mesh()
            .x_desc("false-positive rate")
            .y_desc("true-positive rate")
            .draw()
            .map_err(plot_err(path))?;
        chart
            .draw_series(LineSeries::new(
                [(0.0, 0.0), (1.0, 1.0)],
                &RGBColor(180, 180, 180),
            ))
            .map_err(plot_err(path))?;
        chart
            .draw_series(LineSeries::new(curve, BLUE.stroke_width(2)))
            .map_err(plot_err(path))?;
        root.present().map_err(plot_err(path))?;
        Ok(())
    })
}

/// Histograms of normal and anomalous scores, with the threshold marked.
pub fn histogram(path: &Path, scores: &[f32], labels: &[u8], threshold: f64) -> crate::Result<()> {
    let lo = scores.iter().copied().fold(f32::INFINITY, f32::min) as f64;
    let hi = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let hi = if hi > lo { hi } else { lo + 1.0 };
    let bins = 50usize;
    let width = (hi - lo) / bins as f64;
    let mut counts = [vec![0usize; bins], vec![0usize; bins]];
    for (&s, &l) in scores.iter().zip(labels) {
        let b = (((s as f64 - lo) / width) as usize).min(bins - 1);
        counts[l as usize][b] += 1;
    }
    // Normalise each class to a density so both show whatever their sizes.
    let density: Vec<Vec<f64>> = counts
        .iter()
        .map(|c| {
            let n = c.iter().sum::<usize>().max(1) as f64;
            c.iter().map(|&k| k as f64 / n).collect()
        })
        .collect();
    let top = density.iter().flatten().copied().fold(0.0, f64::max) * 1.1 + 1e-9;
    draw_atomic(path, |tmp| {
        let root = BitMapBackend::new(tmp, (720, 480)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err(path))?;
        let mut chart = ChartBuilder::on(&root)
            .caption("anomaly scores on the test set", ("sans-serif", 22))
            .margin(16)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(lo..hi, 0f64..top)
            .map_err(plot_err(path))?;
        chart
            .configure_mesh()
            .x_desc("score")
            .y_desc("fraction of class")
            .draw()
            .map_err(plot_err(path))?;
        for (class, color, name) in [(0usize, BLUE, "normal"), (1, RED, "anomaly")] {
            let style = color.mix(0.45).filled();
            chart
                .draw_series(density[class].iter().enumerate().map(|(b, &d)| {
                    let x0 = lo + b as f64 * width;
                    Rectangle::new([(x0, 0.0), (x0 + width, d)], style)
                }))
                .map_err(plot_err(path))?
                .label(name)
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.mix(0.45).filled())
                });
        }
        if threshold.is_finite() && threshold >= lo && threshold <= hi {
            chart
                .draw_series(LineSeries::new(
                    [(threshold, 0.0), (threshold, top)],
                    BLACK.stroke_width(2),
                ))
                .map_err(plot_err(path))?
                .label("threshold")
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 12, y)], BLACK));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(plot_err(path))?;
        root.present().map_err(plot_err(path))?;
        Ok(())
    })
}
