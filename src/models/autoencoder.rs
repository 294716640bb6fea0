//! The baseline autoencoder: learn to reconstruct normal data, score by reconstruction error.
//! Images use the DCGAN encoder and decoder of [`crate::nn::dcgan`] (the DCGAN-32 autoencoder);
//! tables use an MLP `D → hidden… → latent → …hidden → D`. The reference every other detector
//! must beat.
//!
//! Loss and score: `A(x) = (1/D)·‖x − dec(enc(x))‖²₂` per sample, trained with Adam.
//! The residual `(x − x̂)²` averaged over channels is its per-pixel anomaly map.

use super::{Detector, ModelInfo, ModelSpec, StepLosses};
use crate::data::SampleShape;
use crate::nn::{Trainables, TrainablesMut};
use crate::nn::dcgan::check_image_size;
use crate::nn::init::component_rng;
use crate::nn::loss::per_sample_mse;
use crate::nn::mlp::Activation;
use crate::nn::{DcganAutoencoder, InitScheme, Mlp, MlpConfig, NetOptimizer, initialise};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

/// Autoencoder hyper-parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AutoencoderConfig {
    /// Side images are resized to (32).
    pub image_size: usize,
    /// Latent size: channels of the 1×1 code for images (100), width of the code for tables (16).
    pub latent_dim: Option<usize>,
    /// Base width of the DCGAN blocks (64).
    pub base_width: usize,
    /// Hidden widths of the table encoder, input side first; the decoder mirrors them (`[64]`).
    pub hidden: Vec<usize>,
    /// Adam learning rate (1e-3).
    pub learning_rate: f64,
    /// Training batch size (64).
    pub batch_size: usize,
    /// Training epochs (15).
    pub epochs: usize,
}

impl Default for AutoencoderConfig {
    fn default() -> Self {
        AutoencoderConfig {
            image_size: 32,
            latent_dim: None,
            base_width: 64,
            hidden: vec![64],
            learning_rate: 1e-3,
            batch_size: 64,
            epochs: 15,
        }
    }
}

/// Fully connected halves for feature rows.
#[derive(Module, Debug)]
pub struct DenseHalves {
    /// Row → code.
    encoder: Mlp,
    /// Code → row.
    decoder: Mlp,
}

/// The two halves of an autoencoder, convolutional or fully connected.
// One per model and never moved in a hot loop: the size difference between variants is harmless.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum AutoencoderNet {
    /// DCGAN encoder and decoder.
    Conv(DcganAutoencoder),
    /// MLP encoder and decoder.
    Dense(DenseHalves),
}

impl AutoencoderNet {
    /// Reconstruct a flattened batch `[B, D]`, given the image shape when convolutional.
    fn reconstruct(&self, x: Tensor<2>, image: Option<[usize; 3]>) -> Tensor<2> {
        let [b, d] = x.dims();
        match (self, image) {
            (AutoencoderNet::Conv(n), Some([c, h, w])) => {
                n.forward(x.reshape([b, c, h, w])).reshape([b, d])
            }
            (AutoencoderNet::Dense(n), _) => n.decoder.forward(n.encoder.forward(x)),
            (AutoencoderNet::Conv(_), None) => unreachable!("conv autoencoder without shape"),
        }
    }
}

/// The autoencoder detector.
pub struct Autoencoder {
    image: Option<[usize; 3]>,
    net: AutoencoderNet,
    optim: NetOptimizer,
}

impl Autoencoder {
    /// Build the autoencoder for samples of `shape` on `device`.
    pub fn new(
        config: AutoencoderConfig,
        shape: SampleShape,
        device: &Device,
        seed: u64,
    ) -> crate::Result<Self> {
        let train_device = device.clone().autodiff();
        let mut rng = component_rng(seed, 1);
        let (net, image) = match shape {
            SampleShape::Image {
                channels,
                height,
                width,
            } => {
                anyhow::ensure!(
                    height == config.image_size && width == config.image_size,
                    "autoencoder expects {0}×{0} images, got {height}×{width}",
                    config.image_size
                );
                check_image_size(config.image_size)?;
                let net = DcganAutoencoder::new(
                    config.image_size,
                    channels,
                    config.base_width,
                    config.latent_dim.unwrap_or(100),
                    &train_device,
                );
                (
                    initialise(AutoencoderNet::Conv(net), InitScheme::Dcgan, &mut rng),
                    Some([channels, height, width]),
                )
            }
            SampleShape::Table { features } => {
                let latent = config.latent_dim.unwrap_or(16);
                let mut widths = vec![features];
                widths.extend(&config.hidden);
                widths.push(latent);
                let encoder = MlpConfig {
                    widths: widths.clone(),
                    activation: Activation::Relu,
                }
                .init(&train_device);
                widths.reverse();
                let decoder = MlpConfig {
                    widths,
                    activation: Activation::Relu,
                }
                .init(&train_device);
                (
                    initialise(
                        AutoencoderNet::Dense(DenseHalves { encoder, decoder }),
                        InitScheme::Pytorch,
                        &mut rng,
                    ),
                    None,
                )
            }
        };
        Ok(Autoencoder {
            optim: NetOptimizer::adam(config.learning_rate, 0.9, 0.999),
            image,
            net,
        })
    }
}

impl ModelSpec for AutoencoderConfig {
    const INFO: ModelInfo = ModelInfo {
        name: "autoencoder",
        group: super::ModelGroup::Baseline,
        paper: "baseline: reconstruction-error autoencoder (DCGAN conv for images, MLP for tables)",
        summary: "reconstruct normal data; score = mean squared reconstruction error",
        inputs: "images, tables",
    };
    const IMAGE_SETTINGS: &'static [&'static str] = &["image_size", "base_width"];
    const TABLE_SETTINGS: &'static [&'static str] = &["hidden"];

    type Detector = Autoencoder;

    fn build(&self, shape: SampleShape, device: &Device, seed: u64) -> crate::Result<Autoencoder> {
        Autoencoder::new(self.clone(), shape, device, seed)
    }

    fn epochs(&self) -> usize {
        self.epochs
    }

    fn batch_size(&self) -> usize {
        self.batch_size
    }

    fn image_size(&self) -> Option<usize> {
        Some(self.image_size)
    }
}

impl Detector for Autoencoder {
    fn train_step(&mut self, batch: Tensor<2>) -> crate::Result<StepLosses> {
        let reconstruction = self.net.reconstruct(batch.clone(), self.image);
        let loss = per_sample_mse(batch, reconstruction).mean();
        let value: f32 = loss.clone().into_scalar();
        let mut grads = loss.backward();
        self.net = self.optim.step(self.net.clone(), &mut grads);
        Ok(vec![("mse", value)])
    }

    fn score(&self, batch: Tensor<2>) -> Tensor<1> {
        let reconstruction = self.net.valid().reconstruct(batch.clone(), self.image);
        per_sample_mse(batch, reconstruction)
    }

    fn anomaly_map(&self, batch: Tensor<2>) -> Option<Tensor<4>> {
        let [c, h, w] = self.image?;
        let b = batch.dims()[0];
        let reconstruction = self.net.valid().reconstruct(batch.clone(), self.image);
        let residual = (batch - reconstruction)
            .powi_scalar(2)
            .reshape([b, c, h, w]);
        Some(residual.mean_dim(1))
    }

    fn trainables(&self) -> Trainables<'_> {
        Trainables::of_one(&self.net, &self.optim)
    }

    fn trainables_mut(&mut self) -> TrainablesMut<'_> {
        TrainablesMut::of_one(&mut self.net, &mut self.optim)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The score is the per-sample mean squared reconstruction error, checked against the
    /// network's own reconstruction computed by hand.
    #[test]
    fn score_is_mean_squared_reconstruction_error() {
        let device = Device::flex();
        let ae = Autoencoder::new(
            AutoencoderConfig::default(),
            SampleShape::Table { features: 3 },
            &device,
            7,
        )
        .unwrap();
        let x = Tensor::<2>::from_floats([[1.0f32, -2.0, 0.5], [0.0, 0.0, 3.0]], &device);
        let scores = ae
            .score(x.clone())
            .into_data()
            .try_into_vec::<f32>()
            .unwrap();
        let recon = ae
            .net
            .valid()
            .reconstruct(x.clone(), None)
            .into_data()
            .try_into_vec::<f32>()
            .unwrap();
        let xs = x.into_data().try_into_vec::<f32>().unwrap();
        for i in 0..2 {
            let manual: f32 = (0..3)
                .map(|j| (xs[i * 3 + j] - recon[i * 3 + j]).powi(2))
                .sum::<f32>()
                / 3.0;
            assert!(
                (scores[i] - manual).abs() < 1e-5,
                "{} vs {manual}",
                scores[i]
            );
        }
    }
}
