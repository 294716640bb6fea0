//! Global RX (Reed & Yu, "Adaptive multiple-band CFAR detection of an optical pattern with
//! unknown spectral distribution", IEEE TASSP 1990): the baseline of every hyperspectral anomaly
//! detection paper, and a Mahalanobis-distance detector for any table.
//!
//! Fit: the mean `μ` and covariance `C` (normalised by `N − 1`) of the training rows, in `f64`.
//! Score: `RX(x) = (x − μ)ᵀ C⁺ (x − μ)`, with `C⁺` the pseudo-inverse as `numpy.linalg.pinv`
//! computes it (eigenvalues below `1e-15 ×` the largest count as zero), so that a scene with
//! collinear bands is scored as the field's reference code scores it. Under the `scene`
//! protocol the training rows are the scene's own pixels, which is global RX as published;
//! nothing is learnt by gradient, the one "epoch" only fits the statistics.
//!
//! Deviations: none in the formula. The statistics are computed from the `f32` values the
//! preprocessing hands over (exact for the integer cubes; 1e-7 relative for float cubes).

use super::{Detector, ModelInfo, ModelSpec, StepLosses};
use crate::data::source::DataForm;
use crate::data::{SampleShape, Samples};
use crate::linalg::{MAX_MAHALANOBIS_DIM, Mahalanobis};
use crate::nn::statistics::FittedMahalanobis;
use crate::nn::{Trainables, TrainablesMut};
use anyhow::ensure;
use burn::prelude::*;
use serde::{Deserialize, Serialize};

/// RX settings (nothing to tune: the detector is its statistics).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RxConfig {
    /// Rows per pass of the (no-op) training loop and per scoring batch (4096).
    pub batch_size: usize,
}

impl Default for RxConfig {
    fn default() -> Self {
        RxConfig { batch_size: 4096 }
    }
}

impl ModelSpec for RxConfig {
    const INFO: ModelInfo = ModelInfo {
        name: "rx",
        group: super::ModelGroup::Baseline,
        paper: "Reed & Yu, IEEE TASSP 1990 (global RX)",
        summary: "Mahalanobis distance to the training rows' mean and covariance (pseudo-inverse); \
                  fitted in closed form",
        inputs: "tables, hyperspectral scenes (one row per pixel)",
    };
    type Detector = Rx;
    const FITTED_IN_CLOSED_FORM: bool = true;

    fn takes(&self) -> &'static [DataForm] {
        DataForm::ROWS
    }

    fn build(&self, shape: SampleShape, _device: &Device, _seed: u64) -> crate::Result<Rx> {
        let SampleShape::Table { features } = shape else {
            anyhow::bail!("rx takes tables or hyperspectral scenes (rows of features), not {shape}");
        };
        ensure!(
            features <= MAX_MAHALANOBIS_DIM,
            "rx takes at most {MAX_MAHALANOBIS_DIM} features (its eigendecomposition grows with their \
             cube); these rows have {features}"
        );
        Ok(Rx {
            features,
            statistics: FittedMahalanobis(None),
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

/// The RX detector: its fitted statistics.
pub struct Rx {
    features: usize,
    statistics: FittedMahalanobis,
}

impl Detector for Rx {
    fn train_step(&mut self, _batch: Tensor<2>) -> crate::Result<StepLosses> {
        Ok(Vec::new())
    }

    fn fit_statistics(&mut self, train: &Samples) -> crate::Result<()> {
        ensure!(
            train.shape.len() == self.features,
            "rx was built for {} features, the training rows have {}",
            self.features,
            train.shape.len()
        );
        self.statistics =
            FittedMahalanobis(Some(Mahalanobis::fit(&train.values, self.features)?));
        Ok(())
    }

    fn score(&self, batch: Tensor<2>) -> Tensor<1> {
        let device = batch.device();
        let [b, _] = batch.dims();
        let rows = batch.into_data().convert::<f32>().try_into_vec::<f32>().unwrap_or_default();
        // The loop fits the statistics before it validates or scores anything; a detector that
        // was never fitted scores every row 0.
        let scores: Vec<f32> = match self.statistics.distances(&rows) {
            Some(d) => d.into_iter().map(|d| d as f32).collect(),
            None => vec![0.0; b],
        };
        Tensor::from_data(TensorData::new(scores, [b]), &device)
    }

    fn load_weights(&mut self, bytes: Vec<u8>) -> crate::Result<()> {
        use crate::nn::Weights;
        self.statistics.load_bytes(bytes)?;
        if let Some(m) = &self.statistics.0 {
            ensure!(
                m.dim() == self.features,
                "these rx statistics are for {} features, the model for {}",
                m.dim(),
                self.features
            );
        }
        Ok(())
    }

    fn trainables(&self) -> Trainables<'_> {
        Trainables {
            networks: &self.statistics,
            optimizers: Vec::new(),
            rng: None,
            average: None,
        }
    }

    fn trainables_mut(&mut self) -> TrainablesMut<'_> {
        TrainablesMut {
            networks: &mut self.statistics,
            optimizers: Vec::new(),
            rng: None,
            average: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows() -> Samples {
        // Three correlated features, 40 rows.
        let values: Vec<f32> = (0..40)
            .flat_map(|i| {
                let t = i as f32 * 0.37;
                [t.sin() * 3.0, t.cos() + 0.1 * t, t.sin() + t.cos() * 0.5]
            })
            .collect();
        Samples::unlabelled(SampleShape::Table { features: 3 }, values)
    }

    /// The score is the Mahalanobis distance under the training rows' statistics, the same
    /// after a checkpoint round trip; a checkpoint of an unfitted detector stays unfitted.
    #[test]
    fn scores_are_the_fitted_distance_and_survive_a_round_trip() {
        let device = Device::flex();
        let shape = SampleShape::Table { features: 3 };
        let mut rx = RxConfig::default().build(shape, &device, 0).unwrap();
        let unfitted = rx.save_weights().unwrap();
        let train = rows();
        rx.fit_statistics(&train).unwrap();
        let x = Tensor::<2>::from_floats([[0.0f32, 1.0, 2.0], [3.0, -1.0, 0.5]], &device);
        let scores = rx.score(x.clone()).into_data().try_into_vec::<f32>().unwrap();
        let m = Mahalanobis::fit(&train.values, 3).unwrap();
        assert_eq!(scores[0], m.distance(&[0.0, 1.0, 2.0]) as f32);
        assert_eq!(scores[1], m.distance(&[3.0, -1.0, 0.5]) as f32);

        let mut loaded = RxConfig::default().build(shape, &device, 1).unwrap();
        loaded.load_weights(rx.save_weights().unwrap()).unwrap();
        let again = loaded.score(x).into_data().try_into_vec::<f32>().unwrap();
        assert_eq!(scores, again);
        loaded.load_weights(unfitted).unwrap();
        assert_eq!(loaded.statistics, FittedMahalanobis(None));
    }

    #[test]
    fn refuses_images_and_too_many_features() {
        let device = Device::flex();
        let image = SampleShape::Image {
            channels: 1,
            height: 4,
            width: 4,
        };
        assert!(RxConfig::default().build(image, &device, 0).is_err());
        let wide = SampleShape::Table { features: 2000 };
        let err = RxConfig::default().build(wide, &device, 0).err().unwrap();
        assert!(format!("{err}").contains("at most 1024"));
    }
}
