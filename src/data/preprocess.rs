//! Preprocessing: resize images to the model's input size, then scale values with statistics
//! fitted on the training split only and saved with the run.

use super::{SampleShape, Samples};
use anyhow::{bail, ensure};
use serde::{Deserialize, Serialize};

/// How values are scaled after resizing.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scaling {
    /// Leave values as they are.
    None,
    /// Subtract the training mean and divide by the training standard deviation, per image
    /// channel or per table feature (a zero deviation counts as 1).
    Standardise,
    /// Map the training minimum to 0 and maximum to 1, per channel or feature.
    MinMax,
    /// `x / 127.5 − 1`: 8-bit pixels to [−1, 1], as DCGAN-style code does for CIFAR-10.
    MinusOneToOne,
    /// The Deep SVDD protocol's (Ruff et al. 2018): each sample's global contrast
    /// normalisation with the L1 norm (subtract the sample's mean, divide by its mean absolute
    /// deviation), then min-max per channel or feature from the training split.
    GcnL1,
}

impl std::str::FromStr for Scaling {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> crate::Result<Self> {
        Ok(match s {
            "none" => Scaling::None,
            "standardise" | "standardize" => Scaling::Standardise,
            "min-max" => Scaling::MinMax,
            "minus-one-to-one" => Scaling::MinusOneToOne,
            "gcn-l1" => Scaling::GcnL1,
            other => anyhow::bail!(
                "unknown scaling {other:?}; use none, standardise, min-max, minus-one-to-one or \
                 gcn-l1"
            ),
        })
    }
}

impl std::fmt::Display for Scaling {
    /// The name `--scaling` takes.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Scaling::None => "none",
            Scaling::Standardise => "standardise",
            Scaling::MinMax => "min-max",
            Scaling::MinusOneToOne => "minus-one-to-one",
            Scaling::GcnL1 => "gcn-l1",
        })
    }
}

/// What to do before a model sees the data.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct PreprocessConfig {
    /// Resize images to this square side (bilinear); `None` keeps them.
    pub image_size: Option<usize>,
    /// Value scaling.
    pub scaling: Scaling,
    /// Whether the model sees the (resized, scaled) images whole or tile by tile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tiling: Option<super::tiles::Tiling>,
    /// Table columns left as they are by a per-feature scaling (one-hot columns, as GOAD's code
    /// leaves KDDCUP99's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unscaled_columns: Option<ColumnRange>,
}

/// Table columns `start..end` (0-based, `end` excluded), as `--unscaled-columns 34..121` reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnRange {
    /// First column.
    pub start: usize,
    /// One past the last column.
    pub end: usize,
}

impl std::str::FromStr for ColumnRange {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> crate::Result<Self> {
        let bad = || {
            anyhow::anyhow!(
                "a column range is START..END (0-based, END excluded, e.g. 34..121), got {s:?}"
            )
        };
        let (a, b) = s.split_once("..").ok_or_else(bad)?;
        let (start, end) = (
            a.trim().parse().map_err(|_| bad())?,
            b.trim().parse().map_err(|_| bad())?,
        );
        ensure!(
            start < end,
            "the column range {s:?} is empty: START must be below END"
        );
        Ok(ColumnRange { start, end })
    }
}

impl std::fmt::Display for ColumnRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}..{}", self.start, self.end)
    }
}

/// A fitted preprocessor: `y = (resize(x) − offset[g]) · factor[g]` for each group `g`
/// (image channel or table feature).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Preprocessor {
    /// What was asked for.
    pub config: PreprocessConfig,
    /// Shape of the raw samples.
    pub input: SampleShape,
    /// Shape after resizing.
    pub output: SampleShape,
    /// Per-group offset.
    pub offset: Vec<f32>,
    /// Per-group factor.
    pub factor: Vec<f32>,
}

impl Preprocessor {
    /// Fit on the training samples (raw, as loaded).
    pub fn fit(config: PreprocessConfig, train: &Samples) -> crate::Result<Self> {
        Ok(Self::fit_transform(config, train)?.0)
    }

    /// Fit on the training samples and return them transformed too, resizing them only once.
    pub fn fit_transform(
        config: PreprocessConfig,
        train: &Samples,
    ) -> crate::Result<(Self, Samples)> {
        ensure!(
            !train.is_empty(),
            "cannot fit preprocessing on an empty training set"
        );
        let output = resized_shape(train.shape, config.image_size);
        let mut pre = Preprocessor {
            config,
            input: train.shape,
            output,
            offset: Vec::new(),
            factor: Vec::new(),
        };
        let mut resized = pre.resize(train)?;
        if config.scaling == Scaling::GcnL1 {
            contrast_normalise_l1(&mut resized);
        }
        let (groups, per_group) = group_layout(output);
        let mut offset = vec![0.0f32; groups];
        let mut factor = vec![1.0f32; groups];
        match config.scaling {
            Scaling::None => {}
            Scaling::MinusOneToOne => {
                // A fixed map of 8-bit pixels: values in other units (a table's, a spectrum's)
                // would come out of [−1, 1] without a word. Checked on the values as loaded,
                // since a resize's rounding may step a hair past 255.
                let outside = (0..train.len())
                    .flat_map(|i| train.sample(i).iter().copied())
                    .find(|v| !(0.0..=255.0).contains(v));
                if let Some(v) = outside {
                    bail!(
                        "the scaling minus-one-to-one maps 8-bit pixels (0–255) to [−1, 1], but a \
                         training value is {v}; use --scaling standardise or min-max for data in \
                         other units"
                    );
                }
                offset.fill(127.5);
                factor.fill(1.0 / 127.5);
            }
            Scaling::Standardise | Scaling::MinMax | Scaling::GcnL1 => {
                let mut sum = vec![0.0f64; groups];
                let mut sq = vec![0.0f64; groups];
                let mut min = vec![f32::INFINITY; groups];
                let mut max = vec![f32::NEG_INFINITY; groups];
                for i in 0..resized.len() {
                    for (j, &v) in resized.sample(i).iter().enumerate() {
                        let g = j / per_group;
                        sum[g] += v as f64;
                        sq[g] += (v as f64) * (v as f64);
                        min[g] = min[g].min(v);
                        max[g] = max[g].max(v);
                    }
                }
                let n = (resized.len() * per_group) as f64;
                for g in 0..groups {
                    if config.scaling == Scaling::Standardise {
                        let mean = sum[g] / n;
                        let var = (sq[g] / n - mean * mean).max(0.0);
                        offset[g] = mean as f32;
                        factor[g] = if var > 1e-12 {
                            (1.0 / var.sqrt()) as f32
                        } else {
                            1.0
                        };
                    } else {
                        let range = max[g] - min[g];
                        offset[g] = min[g];
                        factor[g] = if range > 0.0 { 1.0 / range } else { 1.0 };
                    }
                }
            }
        }
        if let Some(range) = config.unscaled_columns {
            let SampleShape::Table { features } = output else {
                anyhow::bail!(
                    "--unscaled-columns {range} names table columns, and these samples are images"
                );
            };
            ensure!(
                range.end <= features,
                "--unscaled-columns {range} reaches past the table's {features} columns"
            );
            offset[range.start..range.end].fill(0.0);
            factor[range.start..range.end].fill(1.0);
        }
        pre.offset = offset;
        pre.factor = factor;
        pre.scale_in_place(&mut resized);
        if let Some(at) = resized.values.iter().position(|v| !v.is_finite()) {
            let (sample, value) = (at / output.len(), at % output.len());
            anyhow::bail!(
                "the training data overflows 32-bit floats under {:?} scaling (sample {sample}, \
                 value {value}: its scale or range is too large); rescale the data first",
                config.scaling
            );
        }
        Ok((pre, resized))
    }

    /// Check that the saved statistics fit the shapes they describe (one offset and one factor
    /// per channel or feature, all finite), so that a damaged `preprocess.json` is an error
    /// rather than a crash or silently wrong scores.
    pub fn check(&self) -> crate::Result<()> {
        ensure!(
            !self.input.is_empty() && !self.output.is_empty(),
            "the sample shapes must not be empty (input {}, output {})",
            self.input,
            self.output
        );
        let resized = resized_shape(self.input, self.config.image_size);
        ensure!(
            resized == self.output,
            "output shape {} does not follow from input {} and image size {:?}",
            self.output,
            self.input,
            self.config.image_size
        );
        if let Some(tiling) = self.config.tiling {
            tiling.validate()?;
            let (height, width) = match self.output {
                SampleShape::Image { height, width, .. } => (height, width),
                other => anyhow::bail!("tiles cut images, but the samples are {other}"),
            };
            tiling.corners(height, width)?;
        }
        let (groups, _) = group_layout(self.output);
        ensure!(
            self.offset.len() == groups && self.factor.len() == groups,
            "{} offsets and {} factors for {groups} channels or features",
            self.offset.len(),
            self.factor.len()
        );
        ensure!(
            self.offset
                .iter()
                .chain(&self.factor)
                .all(|v| v.is_finite()),
            "an offset or factor is not finite"
        );
        // Fitting gives positive factors (1 for a constant column): 0 would score every
        // sample alike.
        if let Some(at) = self.factor.iter().position(|&f| f <= 0.0) {
            bail!("factor {at} is not positive: {}", self.factor[at]);
        }
        Ok(())
    }

    /// Resize and scale samples with the fitted statistics.
    pub fn apply(&self, samples: &Samples) -> crate::Result<Samples> {
        let mut out = self.resize(samples)?;
        if self.config.scaling == Scaling::GcnL1 {
            contrast_normalise_l1(&mut out);
        }
        self.scale_in_place(&mut out);
        Ok(out)
    }

    /// `(x − offset[g]) · factor[g]` on already resized samples.
    fn scale_in_place(&self, samples: &mut Samples) {
        let (_, per_group) = group_layout(self.output);
        let d = self.output.len();
        for (k, v) in samples.values.iter_mut().enumerate() {
            let g = (k % d) / per_group;
            *v = (*v - self.offset[g]) * self.factor[g];
        }
    }

    fn resize(&self, samples: &Samples) -> crate::Result<Samples> {
        ensure!(
            samples.shape == self.input,
            "data has {} samples but the model was trained on {}",
            samples.shape,
            self.input
        );
        if self.input == self.output {
            return Ok(samples.clone());
        }
        let (
            SampleShape::Image {
                channels,
                height,
                width,
            },
            SampleShape::Image {
                height: oh,
                width: ow,
                ..
            },
        ) = (self.input, self.output)
        else {
            unreachable!("only images are resized")
        };
        let mut out = Samples::empty(self.output);
        out.labels = samples.labels.clone();
        out.origin = samples.origin.clone();
        out.classes = samples.classes.clone();
        out.values.reserve(samples.len() * self.output.len());
        for i in 0..samples.len() {
            let s = samples.sample(i);
            for c in 0..channels {
                let plane = &s[c * height * width..(c + 1) * height * width];
                resize_bilinear(plane, height, width, oh, ow, &mut out.values);
            }
        }
        Ok(out)
    }
}

fn resized_shape(shape: SampleShape, size: Option<usize>) -> SampleShape {
    match (shape, size) {
        (SampleShape::Image { channels, .. }, Some(s)) => SampleShape::Image {
            channels,
            height: s,
            width: s,
        },
        (other, _) => other,
    }
}

/// (number of scaling groups, values per group): channels for images, features for tables.
fn group_layout(shape: SampleShape) -> (usize, usize) {
    match shape {
        SampleShape::Image {
            channels,
            height,
            width,
        } => (channels, height * width),
        SampleShape::Table { features } => (features, 1),
    }
}

/// Bilinear resize of one plane with half-pixel centres (`align_corners = False`, as PyTorch's
/// and PIL's bilinear upsampling), appending the result to `out`.
pub fn resize_bilinear(src: &[f32], h: usize, w: usize, oh: usize, ow: usize, out: &mut Vec<f32>) {
    let coord = |o: usize, n_in: usize, n_out: usize| -> (usize, usize, f32) {
        let x = ((o as f32 + 0.5) * n_in as f32 / n_out as f32 - 0.5).max(0.0);
        let x0 = (x.floor() as usize).min(n_in - 1);
        let x1 = (x0 + 1).min(n_in - 1);
        (x0, x1, x - x0 as f32)
    };
    for oy in 0..oh {
        let (y0, y1, fy) = coord(oy, h, oh);
        for ox in 0..ow {
            let (x0, x1, fx) = coord(ox, w, ow);
            let top = src[y0 * w + x0] * (1.0 - fx) + src[y0 * w + x1] * fx;
            let bottom = src[y1 * w + x0] * (1.0 - fx) + src[y1 * w + x1] * fx;
            out.push(top * (1.0 - fy) + bottom * fy);
        }
    }
}

/// Gaussian blur of one `h × w` plane in place, standard deviation `sigma` pixels: separable,
/// kernel radius ⌊4σ + ½⌋ (as anomalib's map smoothing), edges mirrored (`reflect`, the edge
/// pixel not repeated), weights normalised to sum 1.
pub fn gaussian_blur(plane: &mut [f32], h: usize, w: usize, sigma: f32) {
    let radius = (4.0 * sigma + 0.5) as usize;
    if radius == 0 || h * w == 0 {
        return;
    }
    let weights: Vec<f32> = (0..=2 * radius)
        .map(|k| {
            let d = k as f32 - radius as f32;
            (-d * d / (2.0 * sigma * sigma)).exp()
        })
        .collect();
    let total: f32 = weights.iter().sum();
    let weights: Vec<f32> = weights.iter().map(|v| v / total).collect();
    let reflect = |i: isize, n: usize| -> usize {
        let n = n as isize;
        if n == 1 {
            return 0;
        }
        let period = 2 * (n - 1);
        let m = i.rem_euclid(period);
        (if m < n { m } else { period - m }) as usize
    };
    let mut row = vec![0.0f32; w.max(h)];
    for y in 0..h {
        for x in 0..w {
            row[x] = weights
                .iter()
                .enumerate()
                .map(|(k, wt)| {
                    wt * plane[y * w + reflect(x as isize + k as isize - radius as isize, w)]
                })
                .sum();
        }
        plane[y * w..(y + 1) * w].copy_from_slice(&row[..w]);
    }
    for x in 0..w {
        for y in 0..h {
            row[y] = weights
                .iter()
                .enumerate()
                .map(|(k, wt)| {
                    wt * plane[reflect(y as isize + k as isize - radius as isize, h) * w + x]
                })
                .sum();
        }
        for y in 0..h {
            plane[y * w + x] = row[y];
        }
    }
}

/// Global contrast normalisation with the L1 norm, sample by sample: `x ← (x − mean x) /
/// mean |x − mean x|` (a constant sample only loses its mean).
fn contrast_normalise_l1(samples: &mut Samples) {
    let d = samples.shape.len();
    for sample in samples.values.chunks_exact_mut(d) {
        let mean = sample.iter().map(|&v| v as f64).sum::<f64>() / d as f64;
        let scale = sample.iter().map(|&v| (v as f64 - mean).abs()).sum::<f64>() / d as f64;
        let scale = if scale > 0.0 { scale } else { 1.0 };
        for v in sample.iter_mut() {
            *v = ((*v as f64 - mean) / scale) as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Origin;

    fn table(values: Vec<f32>, features: usize) -> Samples {
        let n = values.len() / features;
        Samples {
            masks: None,
            layout: None,
            classes: Vec::new(),
            values,
            shape: SampleShape::Table { features },
            labels: vec![0; n],
            origin: (0..n as u32)
                .map(|index| Origin { split: 0, index })
                .collect(),
        }
    }

    /// GCN-L1 then min-max, against a hand computation: each sample centred and divided by its
    /// mean absolute deviation, then the training split's range mapped onto [0, 1]; a test
    /// sample goes through the same steps with the training range.
    #[test]
    fn gcn_l1_normalises_each_sample_then_min_max_from_training() {
        let config = PreprocessConfig {
            image_size: None,
            scaling: Scaling::GcnL1,
            tiling: None,
            unscaled_columns: None,
        };
        // (1, 3): mean 2, deviation 1 → (−1, 1); (2, 6): mean 4, deviation 2 → (−1, 1);
        // (4, 0): mean 2, deviation 2 → (1, −1). Each feature's training range is [−1, 1].
        let train = table(vec![1.0, 3.0, 2.0, 6.0, 4.0, 0.0], 2);
        let (pre, out) = Preprocessor::fit_transform(config, &train).unwrap();
        assert_eq!(out.values, vec![0.0, 1.0, 0.0, 1.0, 1.0, 0.0]);
        let test = table(vec![10.0, 30.0], 2);
        assert_eq!(pre.apply(&test).unwrap().values, vec![0.0, 1.0]);
        assert_eq!("gcn-l1".parse::<Scaling>().unwrap(), Scaling::GcnL1);
        for scaling in [
            Scaling::None,
            Scaling::Standardise,
            Scaling::MinMax,
            Scaling::MinusOneToOne,
            Scaling::GcnL1,
        ] {
            assert_eq!(scaling.to_string().parse::<Scaling>().unwrap(), scaling);
        }
    }

    #[test]
    fn standardise_uses_training_statistics_only() {
        let train = table(vec![1.0, 10.0, 3.0, 10.0], 2);
        let pre = Preprocessor::fit(
            PreprocessConfig {
                image_size: None,
                scaling: Scaling::Standardise,
                tiling: None,
                unscaled_columns: None,
            },
            &train,
        )
        .unwrap();
        assert_eq!(pre.offset, vec![2.0, 10.0]);
        assert_eq!(pre.factor, vec![1.0, 1.0]); // std 1 and a constant column
        let test = pre.apply(&table(vec![4.0, 12.0], 2)).unwrap();
        assert_eq!(test.values, vec![2.0, 2.0]);
    }

    /// The blur keeps a constant plane and the sum of an impulse away from the edges, spreads it
    /// symmetrically, and does nothing at σ too small for a one-pixel radius.
    #[test]
    fn gaussian_blur_is_normalised_and_symmetric() {
        let mut constant = vec![3.0f32; 35];
        gaussian_blur(&mut constant, 5, 7, 1.5);
        assert!(constant.iter().all(|v| (v - 3.0).abs() < 1e-5));
        let mut impulse = vec![0.0f32; 21 * 21];
        impulse[10 * 21 + 10] = 1.0;
        gaussian_blur(&mut impulse, 21, 21, 1.0);
        let sum: f32 = impulse.iter().sum();
        assert!((sum - 1.0).abs() < 1e-5, "{sum}");
        assert!((impulse[10 * 21 + 9] - impulse[10 * 21 + 11]).abs() < 1e-7);
        assert!((impulse[9 * 21 + 10] - impulse[10 * 21 + 9]).abs() < 1e-7);
        assert!(impulse[10 * 21 + 10] < 1.0 && impulse[10 * 21 + 10] > impulse[10 * 21 + 11]);
        let mut tiny = vec![0.0f32, 1.0, 0.0];
        gaussian_blur(&mut tiny, 1, 3, 0.1);
        assert_eq!(tiny, vec![0.0, 1.0, 0.0]);
    }

    #[test]
    fn bilinear_keeps_constants_and_interpolates() {
        let mut out = Vec::new();
        resize_bilinear(&[5.0; 4], 2, 2, 4, 4, &mut out);
        assert!(out.iter().all(|&v| (v - 5.0).abs() < 1e-6));
        out.clear();
        resize_bilinear(&[0.0, 4.0], 1, 2, 1, 4, &mut out);
        // PyTorch F.interpolate(mode='bilinear', align_corners=False): [0, 1, 3, 4]
        assert_eq!(out, vec![0.0, 1.0, 3.0, 4.0]);
    }

    /// `--unscaled-columns` leaves its columns as they are (offset 0, factor 1) and
    /// standardises the others; a range past the table's columns, an image, or an empty or
    /// malformed range is refused by name.
    #[test]
    fn unscaled_columns_stay_as_they_are() {
        let config = PreprocessConfig {
            image_size: None,
            scaling: Scaling::Standardise,
            tiling: None,
            unscaled_columns: Some("1..3".parse().unwrap()),
        };
        let train = table(vec![0.0, 1.0, 0.0, 5.0, 2.0, 0.0, 1.0, 7.0], 4);
        let (pre, out) = Preprocessor::fit_transform(config, &train).unwrap();
        assert_eq!(&pre.offset[1..3], &[0.0, 0.0]);
        assert_eq!(&pre.factor[1..3], &[1.0, 1.0]);
        assert_eq!(
            (out.values[1], out.values[2], out.values[5], out.values[6]),
            (1.0, 0.0, 0.0, 1.0)
        );
        assert_eq!((out.values[0], out.values[4]), (-1.0, 1.0));
        assert_eq!((out.values[3], out.values[7]), (-1.0, 1.0));
        let wide = PreprocessConfig {
            unscaled_columns: Some("2..5".parse().unwrap()),
            ..config
        };
        let e = Preprocessor::fit_transform(wide, &train)
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("--unscaled-columns 2..5") && e.contains("4 columns"),
            "{e}"
        );
        for bad in ["3..3", "5..2", "3-7", "a..4"] {
            assert!(bad.parse::<ColumnRange>().is_err(), "{bad}");
        }
    }
}
