//! Local RX with a dual concentric window (the local form of Reed & Yu's detector, as the
//! hyperspectral anomaly detection literature reports it beside global RX; e.g. Molero et al.,
//! "Analysis and optimizations of global and local versions of the RX algorithm for anomaly
//! detection in hyperspectral data", IEEE JSTARS 2013).
//!
//! Each pixel `x` is scored against its own neighbourhood: the background is every pixel of the
//! `outer_window × outer_window` square centred on it, less the `inner_window × inner_window`
//! guard square (which keeps the pixels of the target itself out), clipped at the scene's
//! edges. `LRX(x) = (x − μ_b)ᵀ (C_b + ε·(tr C_b / B)·I)⁻¹ (x − μ_b)`, μ_b and C_b the background's
//! mean and covariance (`N − 1`), ε = `ridge` (1e-6): a background smaller than the band count
//! (at the scene's corners) has a singular covariance, and the ridge keeps every direction in
//! the distance (a pseudo-inverse would drop the directions the background does not span).
//!
//! Computation in `f64`: the sums of the background's values and cross-products slide along
//! each row (columns leave and enter the two windows) instead of being recomputed, then one
//! Cholesky solve per pixel; rows run on every core. Windows 25 and 9 by default (a background
//! of 544 pixels, more than the 100–200 bands of the usual scenes); the paper-to-paper choice
//! varies, and both are options. Should a background covariance with its ridge still not be
//! positive definite (numerically), the ridge grows tenfold until it is, up to 1e12 times. Nothing is fitted: LRX scores only the scene it is given, so
//! a training scene (`--train-scene`) changes nothing, and it scores only whole scenes.

use super::{Detector, ModelInfo, ModelSpec, StepLosses};
use crate::data::source::DataForm;
use crate::data::SampleShape;
use crate::data::hyperspectral::SceneLayout;
use crate::linalg::inverse_quadratic_form;
use crate::nn::{Trainables, TrainablesMut, Weights};
use anyhow::{bail, ensure};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

/// Local RX settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LrxConfig {
    /// Side of the outer window, odd (25).
    pub outer_window: usize,
    /// Side of the inner guard window, odd and smaller than the outer one (9).
    pub inner_window: usize,
    /// ε, the ridge added to the background covariance as a share of its mean variance (1e-6).
    pub ridge: f64,
    /// Rows per pass of the (no-op) training loop (4096).
    pub batch_size: usize,
}

impl Default for LrxConfig {
    fn default() -> Self {
        LrxConfig {
            outer_window: 25,
            inner_window: 9,
            ridge: 1e-6,
            batch_size: 4096,
        }
    }
}

impl ModelSpec for LrxConfig {
    const INFO: ModelInfo = ModelInfo {
        name: "lrx",
        group: super::ModelGroup::Baseline,
        paper: "Reed & Yu, IEEE TASSP 1990, local form (dual concentric window; Molero et al., IEEE JSTARS 2013)",
        summary: "each pixel's Mahalanobis distance to the background of its outer window less the inner guard window (ridge-regularised covariance)",
        inputs: "hyperspectral scenes (scored whole)",
    };
    type Detector = Lrx;
    const FITTED_IN_CLOSED_FORM: bool = true;
    const SCORE_SETTINGS: &'static [&'static str] = &["outer_window", "inner_window", "ridge"];

    /// Odd windows, the inner (guard) one smaller; a positive ridge.
    fn check(&self) -> crate::Result<()> {
        let (outer, inner) = (self.outer_window, self.inner_window);
        ensure!(
            outer % 2 == 1 && inner % 2 == 1 && inner >= 1 && inner < outer,
            "lrx windows must be odd with the inner one smaller: outer_window {outer}, \
             inner_window {inner}"
        );
        ensure!(
            self.ridge.is_finite() && self.ridge > 0.0,
            "lrx ridge must be positive, got {}",
            self.ridge
        );
        Ok(())
    }

    fn takes(&self) -> &'static [DataForm] {
        &[DataForm::Scenes]
    }

    fn build(&self, shape: SampleShape, _device: &Device, _seed: u64) -> crate::Result<Lrx> {
        let SampleShape::Table { features } = shape else {
            bail!("lrx takes hyperspectral scenes (one row per pixel), not {shape}");
        };
        ModelSpec::check(self)?;
        Ok(Lrx {
            config: self.clone(),
            bands: features,
            nothing: Nothing,
        })
    }

    fn epochs(&self) -> usize {
        1
    }

    fn batch_size(&self) -> usize {
        self.batch_size
    }

    fn image_size(&self) -> Option<usize> {
        None
    }
}

/// The local RX detector.
pub struct Lrx {
    config: LrxConfig,
    bands: usize,
    nothing: Nothing,
}

impl Detector for Lrx {
    fn train_step(&mut self, _batch: Tensor<2>) -> crate::Result<StepLosses> {
        Ok(Vec::new())
    }

    /// A pixel has no local RX score without its neighbours: NaN, which every scoring path
    /// refuses (scenes are scored through [`Detector::score_scene`]).
    fn score(&self, batch: Tensor<2>) -> Tensor<1> {
        let [b, _] = batch.dims();
        Tensor::from_data(TensorData::new(vec![f32::NAN; b], [b]), &batch.device())
    }

    /// Nothing is trained: every epoch is as good as another.
    fn validation_loss(&self, batch: Tensor<2>) -> Tensor<1> {
        let [b, _] = batch.dims();
        Tensor::zeros([b], &batch.device())
    }

    fn scores_whole_scenes(&self) -> bool {
        true
    }

    fn score_scene(&self, pixels: Tensor<2>, layout: SceneLayout) -> crate::Result<Tensor<1>> {
        let device = pixels.device();
        let values = pixels
            .into_data()
            .try_into_vec::<f32>()
            .map_err(|e| anyhow::anyhow!("reading pixels: {e:?}"))?;
        let scores = local_rx(&values, layout, self.bands, &self.config)?;
        let n = scores.len();
        Ok(Tensor::from_data(
            TensorData::new(scores.into_iter().map(|s| s as f32).collect::<Vec<_>>(), [n]),
            &device,
        ))
    }

    fn trainables(&self) -> Trainables<'_> {
        Trainables {
            networks: &self.nothing,
            optimizers: Vec::new(),
            rng: None,
            average: None,
        }
    }

    fn trainables_mut(&mut self) -> TrainablesMut<'_> {
        TrainablesMut {
            networks: &mut self.nothing,
            optimizers: Vec::new(),
            rng: None,
            average: None,
        }
    }
}

/// What LRX keeps in a checkpoint: nothing (a safetensors file without tensors).
struct Nothing;

impl Weights for Nothing {
    fn to_bytes(&self) -> crate::Result<Vec<u8>> {
        Ok(safetensors::serialize(Vec::<(&str, safetensors::tensor::TensorView)>::new(), None)?)
    }
    fn load_bytes(&mut self, bytes: Vec<u8>) -> crate::Result<()> {
        let file = safetensors::SafeTensors::deserialize(&bytes)
            .map_err(|e| anyhow::anyhow!("not safetensors: {e}"))?;
        ensure!(file.is_empty(), "these weights hold tensors; lrx keeps none");
        Ok(())
    }
    fn param_ids(&self) -> Vec<u64> {
        Vec::new()
    }
    fn set_param_ids(&mut self, _ids: &[u64]) -> usize {
        0
    }
}

/// Running sums of a background's values and cross-products (upper triangle).
struct Sums {
    bands: usize,
    count: usize,
    sum: Vec<f64>,
    products: Vec<f64>,
}

impl Sums {
    fn new(bands: usize) -> Self {
        Sums {
            bands,
            count: 0,
            sum: vec![0.0; bands],
            products: vec![0.0; bands * bands],
        }
    }

    /// Add (`sign` 1) or remove (`sign` −1) one pixel.
    fn update(&mut self, x: &[f64], sign: f64) {
        let b = self.bands;
        for i in 0..b {
            self.sum[i] += sign * x[i];
            let scaled = sign * x[i];
            let row = &mut self.products[i * b + i..(i + 1) * b];
            for (p, &xj) in row.iter_mut().zip(&x[i..]) {
                *p += scaled * xj;
            }
        }
        if sign > 0.0 {
            self.count += 1;
        } else {
            self.count -= 1;
        }
    }

    /// `(x − μ)ᵀ (C + ε·(tr C / B)·I)⁻¹ (x − μ)`, the ridge grown tenfold while the matrix is
    /// not positive definite.
    fn distance(&self, x: &[f64], ridge: f64) -> crate::Result<f64> {
        let (b, n) = (self.bands, self.count);
        ensure!(
            n >= 2,
            "a local RX background holds {n} pixel(s); it needs at least 2 (a larger outer \
             window, or a larger scene)"
        );
        let mean: Vec<f64> = self.sum.iter().map(|s| s / n as f64).collect();
        let mut covariance = vec![0.0f64; b * b];
        for i in 0..b {
            for j in i..b {
                let c = (self.products[i * b + j] - n as f64 * mean[i] * mean[j]) / (n - 1) as f64;
                covariance[i * b + j] = c;
                covariance[j * b + i] = c;
            }
        }
        let trace: f64 = (0..b).map(|i| covariance[i * b + i]).sum();
        let scale = (trace / b as f64).max(f64::MIN_POSITIVE);
        let d: Vec<f64> = x.iter().zip(&mean).map(|(x, m)| x - m).collect();
        let mut eps = ridge;
        for _ in 0..12 {
            let mut a = covariance.clone();
            for i in 0..b {
                a[i * b + i] += eps * scale;
            }
            if let Some(q) = inverse_quadratic_form(&mut a, b, &d) {
                return Ok(q);
            }
            eps *= 10.0;
        }
        bail!("a local RX background covariance stays singular even with a ridge of {eps:e}")
    }
}

/// The local RX score of every pixel of a scene (`values` pixel-major, `bands` each).
pub fn local_rx(
    values: &[f32],
    layout: SceneLayout,
    bands: usize,
    config: &LrxConfig,
) -> crate::Result<Vec<f64>> {
    let SceneLayout { height, width } = layout;
    ensure!(
        height > 0 && width > 0 && bands > 0,
        "local RX needs a scene with pixels and bands, got {height}×{width}×{bands}"
    );
    ensure!(
        values.len() == height * width * bands,
        "{} values for a {height}×{width} scene of {bands} bands",
        values.len()
    );
    // Centred on the scene's mean: the sums stay small and lose no digits to cancellation.
    let n = height * width;
    let mut mean = vec![0.0f64; bands];
    for pixel in values.chunks_exact(bands) {
        for (m, &v) in mean.iter_mut().zip(pixel) {
            *m += v as f64;
        }
    }
    mean.iter_mut().for_each(|m| *m /= n as f64);
    let x: Vec<f64> = values
        .chunks_exact(bands)
        .flat_map(|p| p.iter().zip(&mean).map(|(&v, m)| v as f64 - m))
        .collect();
    let rows: Vec<usize> = (0..height).collect();
    let threads = std::thread::available_parallelism().map_or(1, |t| t.get()).min(height);
    let chunk = height.div_ceil(threads.max(1));
    let results: Vec<crate::Result<Vec<f64>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = rows
            .chunks(chunk)
            .map(|rows| {
                let x = &x;
                scope.spawn(move || -> crate::Result<Vec<f64>> {
                    let mut out = Vec::with_capacity(rows.len() * width);
                    for &r in rows {
                        out.extend(row_scores(x, layout, bands, config, r)?);
                    }
                    Ok(out)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err(anyhow::anyhow!("a local RX thread failed"))))
            .collect()
    });
    let mut scores = Vec::with_capacity(n);
    for part in results {
        scores.extend(part?);
    }
    Ok(scores)
}

/// The scores of row `r`, the background sums sliding from column to column.
fn row_scores(
    x: &[f64],
    SceneLayout { height, width }: SceneLayout,
    bands: usize,
    config: &LrxConfig,
    r: usize,
) -> crate::Result<Vec<f64>> {
    let (ho, hi) = (config.outer_window / 2, config.inner_window / 2);
    let pixel = |i: usize, j: usize| &x[(i * width + j) * bands..(i * width + j + 1) * bands];
    let span = |h: usize| r.saturating_sub(h)..=(r + h).min(height - 1);
    let mut sums = Sums::new(bands);
    // The background of column 0: the outer window less the guard.
    for i in span(ho) {
        for j in 0..=ho.min(width - 1) {
            if !(i.abs_diff(r) <= hi && j <= hi) {
                sums.update(pixel(i, j), 1.0);
            }
        }
    }
    let mut out = Vec::with_capacity(width);
    for c in 0..width {
        if c > 0 {
            // Column c − 1 − ho leaves the outer window, column c + ho enters it; column
            // c − 1 − hi leaves the guard (back into the background), column c + hi enters it.
            if c > ho {
                for i in span(ho) {
                    sums.update(pixel(i, c - 1 - ho), -1.0);
                }
            }
            if c + ho < width {
                for i in span(ho) {
                    sums.update(pixel(i, c + ho), 1.0);
                }
            }
            if c > hi {
                for i in span(hi) {
                    sums.update(pixel(i, c - 1 - hi), 1.0);
                }
            }
            if c + hi < width {
                for i in span(hi) {
                    sums.update(pixel(i, c + hi), -1.0);
                }
            }
        }
        out.push(sums.distance(pixel(r, c), config.ridge)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linalg::Mahalanobis;

    /// The sliding sums give, at every pixel, edges included, the Mahalanobis distance to the
    /// background gathered by hand (here full-rank, so the tiny ridge changes nothing).
    #[test]
    fn sliding_windows_match_backgrounds_gathered_by_hand() {
        let (height, width, bands) = (9usize, 11usize, 3usize);
        let values: Vec<f32> = (0..height * width * bands)
            .map(|k| (((k * 7919) % 101) as f32 / 13.0).sin() * 5.0 + (k % bands) as f32)
            .collect();
        let config = LrxConfig {
            outer_window: 5,
            inner_window: 3,
            ..LrxConfig::default()
        };
        let layout = SceneLayout { height, width };
        let scores = local_rx(&values, layout, bands, &config).unwrap();
        for r in 0..height {
            for c in 0..width {
                let mut background = Vec::new();
                for i in 0..height {
                    for j in 0..width {
                        let outer = i.abs_diff(r) <= 2 && j.abs_diff(c) <= 2;
                        let inner = i.abs_diff(r) <= 1 && j.abs_diff(c) <= 1;
                        if outer && !inner {
                            let p = (i * width + j) * bands;
                            background.extend_from_slice(&values[p..p + bands]);
                        }
                    }
                }
                let m = Mahalanobis::fit(&background, bands).unwrap();
                let p = (r * width + c) * bands;
                let expected = m.distance(&values[p..p + bands]);
                let got = scores[r * width + c];
                assert!(
                    (got - expected).abs() <= 1e-4 * expected.max(1.0),
                    "({r}, {c}): {got} vs {expected}"
                );
            }
        }
    }

    #[test]
    fn windows_are_checked_and_single_pixels_have_no_score() {
        let device = Device::flex();
        let shape = SampleShape::Table { features: 3 };
        for (outer, inner) in [(4, 1), (5, 5), (5, 7), (5, 0)] {
            let config = LrxConfig {
                outer_window: outer,
                inner_window: inner,
                ..LrxConfig::default()
            };
            assert!(config.build(shape, &device, 0).is_err(), "{outer} {inner}");
        }
        let lrx = LrxConfig::default().build(shape, &device, 0).unwrap();
        let x = Tensor::<2>::zeros([2, 3], &device);
        let s = lrx.score(x).into_data().try_into_vec::<f32>().unwrap();
        assert!(s.iter().all(|v| v.is_nan()));
        let mut restored = LrxConfig::default().build(shape, &device, 1).unwrap();
        restored.load_weights(lrx.save_weights().unwrap()).unwrap();
    }
}
