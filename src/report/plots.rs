//! Plots drawn with plotters: PNG files for the evaluation folder, inline SVG for the HTML
//! report, from one drawing function per chart; text set in the DejaVu Sans font shipped in the
//! binary.

use plotters::coord::Shift;
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

/// What a drawing function returns: plotters' errors as text.
type Drawn = Result<(), String>;

fn text<E: std::fmt::Debug>(e: E) -> String {
    format!("{e:?}")
}

/// Draw into an RGB buffer of `size`, then write it to `path` as a PNG (atomically). The
/// `image` crate the rest of oddity uses encodes it: plotters' own file encoder would build an
/// older `image` beside it.
fn png(
    path: &Path,
    size: (u32, u32),
    draw: impl FnOnce(&DrawingArea<BitMapBackend, Shift>) -> Drawn,
) -> crate::Result<()> {
    register_font();
    let mut pixels = vec![0u8; size.0 as usize * size.1 as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, size).into_drawing_area();
        draw(&root)
            .and_then(|_| root.present().map_err(text))
            .map_err(|e| anyhow::anyhow!("cannot draw {}: {e}", path.display()))?;
    }
    crate::io::write_atomic_with(path, |w| {
        use image::ImageEncoder;
        image::codecs::png::PngEncoder::new(w).write_image(
            &pixels,
            size.0,
            size.1,
            image::ExtendedColorType::Rgb8,
        )?;
        Ok(())
    })
}

/// The same drawing as an SVG document of `size`.
fn svg(
    size: (u32, u32),
    draw: impl FnOnce(&DrawingArea<SVGBackend, Shift>) -> Drawn,
) -> crate::Result<String> {
    register_font();
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, size).into_drawing_area();
        draw(&root)
            .and_then(|_| root.present().map_err(text))
            .map_err(|e| anyhow::anyhow!("cannot draw a chart: {e}"))?;
    }
    Ok(out)
}

const ROC_SIZE: (u32, u32) = (640, 560);
const HISTOGRAM_SIZE: (u32, u32) = (720, 480);

/// The ROC curve as `path` (PNG).
pub fn roc(path: &Path, scores: &[f32], labels: &[u8], auroc: f64) -> crate::Result<()> {
    let curve = crate::metrics::roc_curve(scores, labels)?;
    png(path, ROC_SIZE, |root| draw_roc(root, &curve, auroc))
}

/// The ROC curve as SVG.
pub fn roc_svg(scores: &[f32], labels: &[u8], auroc: f64) -> crate::Result<String> {
    let curve = crate::metrics::roc_curve(scores, labels)?;
    svg(ROC_SIZE, |root| draw_roc(root, &curve, auroc))
}

fn draw_roc<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    curve: &[(f64, f64)],
    auroc: f64,
) -> Drawn {
    let diagonal = [(0.0, 0.0), (1.0, 1.0)];
    draw_curve(
        root,
        &format!("ROC (AUROC {auroc:.4})"),
        ("false-positive rate", "true-positive rate"),
        curve,
        Some(&diagonal),
    )
}

/// ROC curves of several detectors of the same samples on one set of axes, as `path` (PNG),
/// each named in the legend with its AUROC, under `caption`; label 1 is the positive class.
pub fn roc_comparison(
    path: &Path,
    caption: &str,
    curves: &[(String, Vec<f32>)],
    labels: &[u8],
) -> crate::Result<()> {
    let drawn = named_roc_curves(curves, labels)?;
    png(path, ROC_SIZE, |root| {
        draw_roc_comparison(root, caption, &drawn)
    })
}

/// [`roc_comparison`] as SVG.
pub fn roc_comparison_svg(
    caption: &str,
    curves: &[(String, Vec<f32>)],
    labels: &[u8],
) -> crate::Result<String> {
    let drawn = named_roc_curves(curves, labels)?;
    svg(ROC_SIZE, |root| draw_roc_comparison(root, caption, &drawn))
}

/// Each detector's ROC curve, named with its AUROC for the legend.
fn named_roc_curves(
    curves: &[(String, Vec<f32>)],
    labels: &[u8],
) -> crate::Result<Vec<(String, Vec<(f64, f64)>)>> {
    let mut drawn = Vec::with_capacity(curves.len());
    for (name, scores) in curves {
        let auroc = crate::metrics::auroc(scores, labels)?;
        drawn.push((
            format!("{name} (AUROC {auroc:.4})"),
            crate::metrics::roc_curve(scores, labels)?,
        ));
    }
    Ok(drawn)
}

fn draw_roc_comparison<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    caption: &str,
    curves: &[(String, Vec<(f64, f64)>)],
) -> Drawn {
    root.fill(&WHITE).map_err(text)?;
    let mut chart = ChartBuilder::on(root)
        .caption(caption, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(0f64..1f64, 0f64..1.001f64)
        .map_err(text)?;
    chart
        .configure_mesh()
        .x_desc("false-positive rate")
        .y_desc("true-positive rate")
        .draw()
        .map_err(text)?;
    chart
        .draw_series(LineSeries::new(
            [(0.0, 0.0), (1.0, 1.0)],
            &RGBColor(180, 180, 180),
        ))
        .map_err(text)?;
    let colours = [
        BLUE,
        RED,
        GREEN,
        MAGENTA,
        BLACK,
        CYAN,
        RGBColor(230, 140, 0),
        RGBColor(120, 70, 20),
    ];
    for (i, (name, curve)) in curves.iter().enumerate() {
        let colour = colours[i % colours.len()];
        chart
            .draw_series(LineSeries::new(
                thinned(curve, CURVE_STEP),
                colour.stroke_width(2),
            ))
            .map_err(text)?
            .label(name.as_str())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], colour.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font(("sans-serif", 16))
        .draw()
        .map_err(text)?;
    Ok(())
}

/// The precision–recall curve (recall on x) as SVG; the dashed line is the anomaly share, a
/// random detector's precision.
pub fn pr_svg(scores: &[f32], labels: &[u8], auprc: f64) -> crate::Result<String> {
    let sweep = crate::metrics::sweep(scores, labels);
    let anomalies = labels.iter().filter(|&&l| l == 1).count();
    let share = anomalies as f64 / labels.len().max(1) as f64;
    let mut curve = vec![(0.0, 1.0)];
    curve.extend(sweep.iter().filter_map(|p| {
        let (tp, flagged) = (p.true_positives, p.true_positives + p.false_positives);
        (flagged > 0).then(|| {
            (
                tp as f64 / anomalies.max(1) as f64,
                tp as f64 / flagged as f64,
            )
        })
    }));
    let chance = [(0.0, share), (1.0, share)];
    svg(ROC_SIZE, |root| {
        draw_curve(
            root,
            &format!("precision–recall (AUPRC {auprc:.4})"),
            ("recall", "precision"),
            &curve,
            Some(&chance),
        )
    })
}

/// A curve on the unit square, with a grey reference line.
fn draw_curve<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    caption: &str,
    (x_desc, y_desc): (&str, &str),
    curve: &[(f64, f64)],
    reference: Option<&[(f64, f64)]>,
) -> Drawn {
    root.fill(&WHITE).map_err(text)?;
    let mut chart = ChartBuilder::on(root)
        .caption(caption, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(0f64..1f64, 0f64..1.001f64)
        .map_err(text)?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .draw()
        .map_err(text)?;
    if let Some(line) = reference {
        chart
            .draw_series(LineSeries::new(
                line.iter().copied(),
                &RGBColor(180, 180, 180),
            ))
            .map_err(text)?;
    }
    chart
        .draw_series(LineSeries::new(
            thinned(curve, CURVE_STEP),
            BLUE.stroke_width(2),
        ))
        .map_err(text)?;
    Ok(())
}

/// The resolution curves on the unit square are drawn at: under a pixel of the 640-pixel
/// charts (whose plotting area is about 570 pixels a side).
const CURVE_STEP: f64 = 1.0 / 1000.0;

/// The points of `curve` a chart needs: the first, the last, each one at least `step` (in
/// either coordinate) from the last kept, and the one before it — so that every corner of a
/// staircase stays where it is and no stretch is cut short. A curve of every threshold of
/// 20 000 samples is drawn from a few thousand points, not 20 000 (an SVG report of several
/// curves otherwise weighs megabytes).
fn thinned(curve: &[(f64, f64)], step: f64) -> Vec<(f64, f64)> {
    let mut kept: Vec<(f64, f64)> = Vec::new();
    for (i, &point) in curve.iter().enumerate() {
        let far = |last: &(f64, f64)| {
            (point.0 - last.0).abs() >= step || (point.1 - last.1).abs() >= step
        };
        match kept.last() {
            None => kept.push(point),
            Some(last) if far(last) => {
                // The point just before this jump, so that the segment to it is drawn as is.
                let before = curve[i - 1];
                if kept.last() != Some(&before) {
                    kept.push(before);
                }
                kept.push(point);
            }
            Some(_) => {}
        }
    }
    if let (Some(&end), Some(&last)) = (curve.last(), kept.last())
        && end != last
    {
        kept.push(end);
    }
    kept
}

/// Histograms of normal and anomalous scores, with the threshold marked, as `path` (PNG).
pub fn histogram(path: &Path, scores: &[f32], labels: &[u8], threshold: f64) -> crate::Result<()> {
    png(path, HISTOGRAM_SIZE, |root| {
        draw_histogram(root, scores, labels, threshold)
    })
}

/// The same histograms as SVG.
pub fn histogram_svg(scores: &[f32], labels: &[u8], threshold: f64) -> crate::Result<String> {
    svg(HISTOGRAM_SIZE, |root| {
        draw_histogram(root, scores, labels, threshold)
    })
}

fn draw_histogram<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    scores: &[f32],
    labels: &[u8],
    threshold: f64,
) -> Drawn {
    let lo = scores.iter().copied().fold(f32::INFINITY, f32::min) as f64;
    let hi = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let (lo, hi) = if hi > lo {
        (lo, hi)
    } else {
        (lo - 0.5, lo + 0.5)
    };
    let bins = 50usize;
    let width = (hi - lo) / bins as f64;
    let mut counts = [vec![0usize; bins], vec![0usize; bins]];
    for (&s, &l) in scores.iter().zip(labels) {
        let b = (((s as f64 - lo) / width) as usize).min(bins - 1);
        counts[l.min(1) as usize][b] += 1;
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
    root.fill(&WHITE).map_err(text)?;
    let mut chart = ChartBuilder::on(root)
        .caption("anomaly scores on the test set", ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(lo..hi, 0f64..top)
        .map_err(text)?;
    chart
        .configure_mesh()
        .x_desc("score")
        .y_desc("fraction of class")
        .draw()
        .map_err(text)?;
    for (class, color, name) in [(0usize, BLUE, "normal"), (1, RED, "anomaly")] {
        let style = color.mix(0.45).filled();
        chart
            .draw_series(density[class].iter().enumerate().map(|(b, &d)| {
                let x0 = lo + b as f64 * width;
                Rectangle::new([(x0, 0.0), (x0 + width, d)], style)
            }))
            .map_err(text)?
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
            .map_err(text)?
            .label("threshold")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 12, y)], BLACK));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(text)?;
    Ok(())
}

/// Runs of consecutive epochs with a finite value, each as its (epoch, value) points: the
/// pieces of a curve with gaps.
fn finite_runs(values: &[f64]) -> Vec<Vec<(f64, f64)>> {
    let mut runs: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut previous_finite = false;
    for (i, &v) in values.iter().enumerate() {
        if v.is_finite() {
            if !previous_finite {
                runs.push(Vec::new());
            }
            runs.last_mut().expect("a run").push(((i + 1) as f64, v));
        }
        previous_finite = v.is_finite();
    }
    runs
}

/// One training curve (a loss per epoch) as a small SVG chart, the best epoch marked. A
/// non-finite value is an epoch without one (a stage that does not compute it): a gap.
pub fn curve_svg(name: &str, values: &[f64], best_epoch: usize) -> crate::Result<String> {
    let runs = finite_runs(values);
    let points: Vec<(f64, f64)> = runs.iter().flatten().copied().collect();
    let lo = points.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let hi = points.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
    let (lo, hi) = match (lo.is_finite(), hi > lo) {
        (false, _) => (0.0, 1.0),
        (true, true) => (lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo)),
        (true, false) => (lo - 0.5, lo + 0.5),
    };
    let epochs = values.len().max(2) as f64;
    svg((360, 240), |root| {
        root.fill(&WHITE).map_err(text)?;
        let mut chart = ChartBuilder::on(root)
            .caption(name, ("sans-serif", 16))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(56)
            .build_cartesian_2d(1f64..epochs, lo..hi)
            .map_err(text)?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .x_labels(6)
            .y_labels(5)
            .draw()
            .map_err(text)?;
        for run in &runs {
            match run.as_slice() {
                [single] => chart
                    .draw_series([Circle::new(*single, 2, BLUE.filled())])
                    .map_err(text)?,
                _ => chart
                    .draw_series(LineSeries::new(run.iter().copied(), BLUE.stroke_width(2)))
                    .map_err(text)?,
            };
        }
        if best_epoch >= 1 {
            let x = best_epoch as f64;
            chart
                .draw_series(LineSeries::new([(x, lo), (x, hi)], &RGBColor(200, 120, 0)))
                .map_err(text)?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Epochs without a value split a curve: each piece is drawn on its own, no line crosses
    /// a gap, a lone value is a dot.
    #[test]
    fn a_curve_with_gaps_is_drawn_in_pieces() {
        let gap = f64::NAN;
        let runs = finite_runs(&[gap, 1.0, 2.0, gap, 3.0, f64::INFINITY, 4.0, 5.0]);
        assert_eq!(
            runs,
            vec![
                vec![(2.0, 1.0), (3.0, 2.0)],
                vec![(5.0, 3.0)],
                vec![(7.0, 4.0), (8.0, 5.0)]
            ]
        );
        // The curve's own elements are blue (the best epoch's line is orange, the grid grey).
        let blue = |svg: &str, element: &str| {
            (svg.split('<'))
                .filter(|e| e.starts_with(element) && e.contains("#0000FF"))
                .count()
        };
        let whole = curve_svg("loss", &[1.0, 2.0, 2.5, 3.0, 4.0], 3).unwrap();
        assert_eq!((blue(&whole, "polyline"), blue(&whole, "circle")), (1, 0));
        let split = curve_svg("loss", &[1.0, 2.0, gap, 3.0, 4.0], 3).unwrap();
        assert_eq!((blue(&split, "polyline"), blue(&split, "circle")), (2, 0));
        let dotted = curve_svg("loss", &[1.0, 2.0, gap, 3.0, gap], 3).unwrap();
        assert_eq!((blue(&dotted, "polyline"), blue(&dotted, "circle")), (1, 1));
    }

    /// A curve of 100 000 points keeps its end points and every point of a jump, and no drawn
    /// point strays from the original: each original point lies within `step` of a kept one.
    #[test]
    fn curves_are_thinned_within_a_step() {
        let curve: Vec<(f64, f64)> = (0..=100_000)
            .map(|i| {
                let x = i as f64 / 100_000.0;
                // A staircase with a jump at x = 0.5.
                (x, if x < 0.5 { x * x } else { 0.5 + x / 2.0 })
            })
            .collect();
        let step = 1.0 / 1000.0;
        let kept = thinned(&curve, step);
        assert!(kept.len() < 4_000, "{} points", kept.len());
        assert_eq!(kept.first(), curve.first());
        assert_eq!(kept.last(), curve.last());
        let jump = curve.iter().position(|p| p.0 >= 0.5).unwrap();
        assert!(kept.contains(&curve[jump - 1]) && kept.contains(&curve[jump]));
        let mut k = 0;
        for p in &curve {
            while k + 1 < kept.len() && kept[k + 1].0 <= p.0 {
                k += 1;
            }
            let near = |q: &(f64, f64)| (p.0 - q.0).abs() <= step && (p.1 - q.1).abs() <= step;
            assert!(near(&kept[k]) || kept.get(k + 1).is_some_and(near), "{p:?}");
        }
        assert_eq!(thinned(&[], step), Vec::<(f64, f64)>::new());
        assert_eq!(thinned(&[(0.0, 0.0)], step), vec![(0.0, 0.0)]);
    }
}
