//! Generative out-of-distribution scores: no classifier, a density model of the in-distribution
//! images instead — the VAE of [`crate::models::vae`] by default, or `"model": "pixelcnn"`,
//! [`crate::models::pixelcnn`]'s exact likelihood of grey or RGB 8-bit images (the papers use
//! PixelCNN++) — trained on the run's in-distribution training images without their labels.
//!
//! - `likelihood`: the model's log-likelihood `log p(x)` (the VAE's IWAE bound with `k`
//!   importance samples; PixelCNN's exact one). Known to fail on some pairs: a model of
//!   Fashion-MNIST gives MNIST's simpler digits *higher* likelihoods (Nalisnick et al., ICLR
//!   2019).
//! - `likelihood-ratio` (Ren et al., "Likelihood Ratios for Out-of-Distribution Detection",
//!   NeurIPS 2019): `log p(x) − log p_bg(x)`, where the background model is the same model
//!   trained on the same images *mutated*: each pixel, with probability μ
//!   (`mutation_rate`), replaced by one of the 256 grey levels drawn uniformly (per channel).
//!   The background model learns the population-level statistics the mutation keeps (the
//!   background), so the ratio keeps what is specific to the in-distribution semantics. The
//!   paper picks μ (and an L2 penalty on the background model's weights, left out here) on a
//!   validation OOD set; here μ is a setting (0.2 by default), never chosen on test or OOD
//!   data.
//! - `input-complexity` (Serrà et al., "Input Complexity and Out-of-Distribution Detection
//!   with Likelihood-based Generative Models", ICLR 2020): the paper's `S(x) = −ℓ_M(x) − L(x)`
//!   with `ℓ_M` the model's log-likelihood of the 8-bit image and `L` its lossless PNG length
//!   (best compression, adaptive filters), both in bits per dimension; a large `S` means
//!   out-of-distribution, so the in-distribution score is `−S`. The Gaussian decoder's density
//!   is continuous: the probability of an 8-bit image is taken as density × the volume of its
//!   quantisation cell, `Δ^D` with `Δ = 2/255` on the model's `[−1, 1]` scale, which shifts
//!   every image's `ℓ_M` by the same `log₂ Δ` per dimension (no effect on any ranking). The
//!   decoder's fixed standard deviation `s` (`decoder_std`, 0.1 here) does change the ranking:
//!   it sets how much the likelihood weighs against the PNG length.
//!
//! The Gaussian decoder (the default) makes the likelihood a scaled reconstruction error. The
//! papers' claims are about likelihoods that are sharp on flat backgrounds (PixelCNN++, Glow):
//! `--generative-config '{"decoder": "discretized-logistic"}'` gives the VAE PixelCNN++'s
//! per-pixel discretised logistic, whose likelihood is already the probability of the 8-bit
//! image (no cell volume) and whose learned per-pixel scales can be sharp where the decoder is
//! sure.
//!
//! PixelCNN (`"model": "pixelcnn"`, grey or RGB images) gives the exact probability of the 8-bit
//! image through a 256-way softmax a pixel and channel, the kind of likelihood the papers' claims are about.
//!
//! Every score is an in-distribution score (higher = more in-distribution), as the classifier
//! scores are. The model's input is the run's image (the classifier's size, to which every
//! `--against` set is fitted), rounded to the 8-bit levels (the synthetic noise sets are
//! continuous) and scaled to `[−1, 1]`; the VAE's is first zero-padded around the centre to its
//! square side ([`super::data::fit_image`]: 28 → 32 for MNIST; an image larger than that side
//! is refused, never cropped; the DCGAN decoder ends in tanh). Both models train with the
//! models' loop ([`crate::train::fit`]) on the run's training images, validating on its
//! validation images, and keep the last epoch. Deviations from Ren et al. besides the model: the
//! mutation is drawn once, before training (not afresh each epoch), and the VAE's padding around
//! the image is not mutated.

use super::data::{Images, fit_image};
use crate::data::{Origin, SampleShape, Samples};
use crate::models::PixelCnnConfig;
use crate::models::vae::{VaeConfig, VaeDecoder, VaeScore};
use crate::models::{AnyDetector, ModelConfig};
use crate::nn::init::component_rng;
use crate::train::{TrainOptions, fit_resumable};
use anyhow::ensure;
use burn::prelude::*;
use burn::tensor::TensorData;
use rand::Rng;
use serde::{Deserialize, Serialize};

/// The names of the generative scores, in the order they are reported.
pub const GENERATIVE_SCORES: [&str; 3] = ["likelihood", "likelihood-ratio", "input-complexity"];

/// The size of one 8-bit level on the VAE's `[−1, 1]` scale.
const QUANTUM: f64 = 2.0 / 255.0;

/// Images scored in one pass by the VAE (it splits its decodes further) and by PixelCNN (whose
/// 256 logits a pixel make a pass of 256 MNIST images about 200 MB a tensor).
const CHUNK: usize = 256;
const PIXELCNN_CHUNK: usize = 32;

/// The random streams of the generative part (clear of the classifier's): the training
/// images' mutation, the validation images', the two models' weight seeds.
const STREAM_MUTATION: u64 = 70;
const STREAM_VALIDATION_MUTATION: u64 = 73;
const STREAM_FOREGROUND: u64 = 71;
const STREAM_BACKGROUND: u64 = 72;

/// Which density model the generative scores use (the background model is the same kind).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DensityModel {
    /// The VAE ([`GenerativeConfig::vae`]), its IWAE bound.
    #[default]
    Vae,
    /// PixelCNN ([`GenerativeConfig::pixelcnn`]), its exact likelihood of the 8-bit levels;
    /// grey or RGB images, at their own size.
    Pixelcnn,
}

/// Settings of the generative scores (`generative` in `ood.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GenerativeConfig {
    /// The density model (`"model"`): the VAE (default) or PixelCNN.
    pub model: DensityModel,
    /// The VAE of the in-distribution images; the background model is the same.
    pub vae: VaeConfig,
    /// The PixelCNN, when `model` is `pixelcnn`.
    pub pixelcnn: PixelCnnConfig,
    /// Ren et al.'s μ: the share of pixels the background model's training images have
    /// replaced by a uniformly drawn grey level (0.2).
    pub mutation_rate: f64,
}

impl Default for GenerativeConfig {
    fn default() -> Self {
        GenerativeConfig {
            model: DensityModel::Vae,
            pixelcnn: PixelCnnConfig::default(),
            vae: VaeConfig {
                // The IWAE bound at k = 10: the scores of 20 000 test images cost 200 000
                // decodes a model on a CPU; `importance_samples` raises it.
                importance_samples: 10,
                decoder_std: Some(0.1),
                epochs: 10,
                ..VaeConfig::default()
            },
            mutation_rate: 0.2,
        }
    }
}

impl GenerativeConfig {
    /// Defaults with the JSON object `overrides` over them: `model` (`vae` or `pixelcnn`),
    /// that model's fields and `mutation_rate`; an unknown key is an error naming it.
    pub fn with_overrides(overrides: Option<&str>) -> crate::Result<Self> {
        let mut config = GenerativeConfig::default();
        let Some(text) = overrides else {
            return Ok(config);
        };
        let value = crate::io::parse_settings_json(text)
            .map_err(|e| anyhow::anyhow!("--generative-config is not JSON: {e}"))?;
        let serde_json::Value::Object(fields) = value else {
            anyhow::bail!("--generative-config must be a JSON object, got {text}");
        };
        if let Some(model) = fields.get("model") {
            config.model = serde_json::from_value(model.clone()).map_err(|_| {
                anyhow::anyhow!("--generative-config: model {model} (vae or pixelcnn)")
            })?;
        }
        let mut chosen = match config.model {
            DensityModel::Vae => serde_json::to_value(&config.vae)?,
            DensityModel::Pixelcnn => serde_json::to_value(&config.pixelcnn)?,
        };
        let fields_set_std = fields.contains_key("decoder_std");
        for (key, value) in fields {
            if key == "mutation_rate" {
                config.mutation_rate = serde_json::from_value(value.clone()).map_err(|e| {
                    anyhow::anyhow!("--generative-config: mutation_rate {value}: {e}")
                })?;
            } else if key == "model" {
                continue;
            } else if chosen.get(&key).is_some() {
                chosen[&key] = value;
            } else {
                anyhow::bail!(
                    "--generative-config: unknown setting {key:?} (model, mutation_rate, or a \
                     field of the {} model)",
                    config.model.name()
                );
            }
        }
        let parsed = |e: serde_json::Error| anyhow::anyhow!("--generative-config: {e}");
        match config.model {
            DensityModel::Vae => config.vae = serde_json::from_value(chosen).map_err(parsed)?,
            DensityModel::Pixelcnn => {
                config.pixelcnn = serde_json::from_value(chosen).map_err(parsed)?
            }
        }
        // The 0.1 above is the Gaussian decoder's; the logistic decoder learns its scales.
        if config.vae.decoder != VaeDecoder::Gaussian && !fields_set_std {
            config.vae.decoder_std = None;
        }
        Ok(config)
    }

    /// Refuse settings out of range before any work (the image's size is checked by
    /// [`GenerativeConfig::check_image`] once it is known).
    pub fn check(&self) -> crate::Result<()> {
        ensure!(
            self.mutation_rate.is_finite() && self.mutation_rate > 0.0 && self.mutation_rate <= 1.0,
            "mutation_rate must be in (0, 1], got {}",
            self.mutation_rate
        );
        if self.model == DensityModel::Pixelcnn {
            return ModelConfig::new(self.pixelcnn.clone()).validate();
        }
        ensure!(
            self.vae.score == VaeScore::Iwae,
            "the generative scores take the VAE's log-likelihood (score \"iwae\"), not {:?}",
            self.vae.score
        );
        ModelConfig::new(self.vae.clone()).validate()?;
        crate::nn::dcgan::check_image_size(self.vae.image_size).map_err(|_| {
            anyhow::anyhow!(
                "--generative-config image_size must be a power of two ≥ 8 (the DCGAN VAE), got {}",
                self.vae.image_size
            )
        })?;
        Ok(())
    }

    /// Refuse images of `[c, h, w]` the model cannot take: larger than the VAE's side (they
    /// are padded to it, never cropped), other than grey or RGB ones for PixelCNN.
    pub fn check_image(&self, [c, h, w]: [usize; 3]) -> crate::Result<()> {
        if self.model == DensityModel::Pixelcnn {
            ensure!(
                c == 1 || c == 3,
                "the generative PixelCNN models grey or RGB images, not {c} channels: use the \
                 VAE (set \"model\": \"vae\" in --generative-config)"
            );
            ensure!(
                self.pixelcnn.filters >= c,
                "the generative PixelCNN on {c}-channel images needs filters ≥ {c}, got {}",
                self.pixelcnn.filters
            );
            return Ok(());
        }
        let side = self.vae.image_size;
        ensure!(
            h <= side && w <= side,
            "the generative VAE's image_size {side} is smaller than the {h}×{w} images (they are \
             zero-padded to it, never cropped): set \"image_size\": {} in --generative-config",
            h.max(w).next_power_of_two().max(8)
        );
        Ok(())
    }

    /// The density model's input for images of `image`: the VAE's `[channels, side, side]`,
    /// the images themselves for PixelCNN.
    pub fn input(&self, image: [usize; 3]) -> [usize; 3] {
        match self.model {
            DensityModel::Vae => [image[0], self.vae.image_size, self.vae.image_size],
            DensityModel::Pixelcnn => image,
        }
    }

    /// The density model's configuration.
    pub fn density(&self) -> ModelConfig {
        match self.model {
            DensityModel::Vae => ModelConfig::new(self.vae.clone()),
            DensityModel::Pixelcnn => ModelConfig::new(self.pixelcnn.clone()),
        }
    }

    /// The log-probability (nats) of an 8-bit image of `dim` values from the density model's
    /// log-likelihood ([`log_probability_of_levels`] for the VAE; PixelCNN's is one already).
    pub fn log_probability_of_levels(&self, log_likelihood: f64, dim: usize) -> f64 {
        match self.model {
            DensityModel::Vae => log_probability_of_levels(log_likelihood, dim, self.vae.decoder),
            DensityModel::Pixelcnn => log_likelihood,
        }
    }
}

impl DensityModel {
    /// Its name in settings and messages.
    pub fn name(self) -> &'static str {
        match self {
            DensityModel::Vae => "vae",
            DensityModel::Pixelcnn => "pixelcnn",
        }
    }
}

/// `images` (of `image`, in `[0, 1]`) with each pixel, with probability `rate`, replaced by one
/// of the 256 grey levels drawn uniformly: Ren et al.'s perturbation, seeded (`stream` keeps
/// the draws of different image sets apart).
pub fn mutate(images: &Images, rate: f64, seed: u64, stream: u64) -> Images {
    let mut rng = component_rng(seed, stream);
    let values = images
        .values
        .iter()
        .map(|&v| {
            if rng.random::<f64>() < rate {
                rng.random_range(0..256u32) as f32 / 255.0
            } else {
                v
            }
        })
        .collect();
    Images {
        values,
        labels: images.labels.clone(),
        origin: images.origin.clone(),
    }
}

/// `images` of `image` as the density model's samples: fitted to `input` (zero-padded to the
/// VAE's side; PixelCNN's input is the image itself), rounded to the 8-bit levels and scaled to
/// `[−1, 1]`.
fn density_samples(
    images: &Images,
    image: [usize; 3],
    input: [usize; 3],
) -> crate::Result<Samples> {
    let d = image.iter().product::<usize>();
    let mut values = Vec::with_capacity(images.len() * input.iter().product::<usize>());
    for pixels in images.values.chunks(d) {
        let fitted = fit_image(pixels, image, input)?;
        values.extend(
            fitted
                .iter()
                .map(|v| 2.0 * (v.clamp(0.0, 1.0) * 255.0).round() / 255.0 - 1.0),
        );
    }
    Ok(Samples {
        values,
        shape: SampleShape::Image {
            channels: input[0],
            height: input[1],
            width: input[2],
        },
        labels: vec![0; images.len()],
        origin: (0..images.len() as u32)
            .map(|index| Origin { split: 0, index })
            .collect(),
        classes: images.labels.clone(),
        masks: None,
        layout: None,
    })
}

/// The lossless PNG length, in bits, of an 8-bit image (`[c, h, w]` values in `[0, 1]`,
/// channels first; one or three channels): Serrà et al.'s complexity `L(x)` before dividing by
/// the dimension.
pub fn png_bits(pixels: &[f32], [c, h, w]: [usize; 3]) -> crate::Result<f64> {
    use image::ImageEncoder;
    use image::codecs::png::{CompressionType, FilterType, PngEncoder};
    ensure!(
        c == 1 || c == 3,
        "PNG complexity takes grey or RGB images, got {c} channels"
    );
    let level = |v: f32| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
    // Interleaved (height, width, channel) order.
    let mut bytes = Vec::with_capacity(c * h * w);
    for y in 0..h {
        for x in 0..w {
            for k in 0..c {
                bytes.push(level(pixels[(k * h + y) * w + x]));
            }
        }
    }
    let colour = if c == 1 {
        image::ExtendedColorType::L8
    } else {
        image::ExtendedColorType::Rgb8
    };
    let mut out = Vec::new();
    PngEncoder::new_with_quality(&mut out, CompressionType::Best, FilterType::Adaptive)
        .write_image(&bytes, w as u32, h as u32, colour)?;
    Ok(8.0 * out.len() as f64)
}

/// The trained pair: the density model of the in-distribution images and its background model.
pub struct GenerativeModels {
    /// The settings.
    pub config: GenerativeConfig,
    /// The run's image shape `[channels, height, width]`.
    pub image: [usize; 3],
    /// The model of the in-distribution images.
    pub foreground: Box<dyn AnyDetector>,
    /// The same model trained on mutated images.
    pub background: Box<dyn AnyDetector>,
}

impl GenerativeModels {
    /// The untrained pair for images of `image`, weights drawn from `seed`; every setting
    /// checked.
    pub fn new(
        config: &GenerativeConfig,
        image: [usize; 3],
        seed: u64,
        device: &Device,
    ) -> crate::Result<Self> {
        config.check()?;
        config.check_image(image)?;
        let [c, h, w] = config.input(image);
        let shape = SampleShape::Image {
            channels: c,
            height: h,
            width: w,
        };
        let density = config.density();
        Ok(GenerativeModels {
            config: config.clone(),
            image,
            foreground: density.build(
                shape,
                device,
                component_rng(seed, STREAM_FOREGROUND).random(),
            )?,
            background: density.build(
                shape,
                device,
                component_rng(seed, STREAM_BACKGROUND).random(),
            )?,
        })
    }

    /// Train both models on `train`, validating on `validation` (images of the run's shape):
    /// the foreground on the images, the background on their mutated copies (each epoch sees
    /// the same mutation). `seed` shuffles the batches and draws the mutation; a raised `stop`
    /// ends the training after the step in progress.
    pub fn train(
        &mut self,
        train: &Images,
        validation: &Images,
        seed: u64,
        stop: Option<&std::sync::atomic::AtomicBool>,
    ) -> crate::Result<()> {
        let (image, rate) = (self.image, self.config.mutation_rate);
        let input = self.config.input(image);
        let density = self.config.density();
        let options = TrainOptions {
            epochs: density.epochs(),
            batch_size: density.batch_size(),
            seed,
            progress: false,
            patience: None,
        };
        let valid = density_samples(validation, image, input)?;
        let started = std::time::Instant::now();
        let (log, _) = fit_resumable(
            self.foreground.as_mut(),
            &density_samples(train, image, input)?,
            &valid,
            &options,
            None,
            &mut |_, _| Ok(()),
            stop,
        )?;
        let mutated = mutate(train, rate, seed, STREAM_MUTATION);
        let mutated_validation = mutate(validation, rate, seed, STREAM_VALIDATION_MUTATION);
        let (background_log, _) = fit_resumable(
            self.background.as_mut(),
            &density_samples(&mutated, image, input)?,
            &density_samples(&mutated_validation, image, input)?,
            &options,
            None,
            &mut |_, _| Ok(()),
            stop,
        )?;
        let last = |l: &crate::train::TrainLog| {
            l.epochs
                .last()
                .and_then(|e| e.validation_loss)
                .unwrap_or(f64::NAN)
        };
        eprintln!(
            "generative models: {0} and background {0} (μ = {rate}) trained in {1:.1} s; validation loss {2:.4} and {3:.4}",
            self.config.model.name(),
            started.elapsed().as_secs_f64(),
            last(&log),
            last(&background_log)
        );
        Ok(())
    }

    /// The pair saved by [`GenerativeModels::save`], for images of `image`.
    pub fn load(
        config: &GenerativeConfig,
        image: [usize; 3],
        [foreground, background]: [Vec<u8>; 2],
        seed: u64,
        device: &Device,
    ) -> crate::Result<Self> {
        let mut models = Self::new(config, image, seed, device)?;
        models.foreground.load_weights(foreground)?;
        models.background.load_weights(background)?;
        Ok(models)
    }

    /// Both models' weights (safetensors bytes): foreground, background.
    pub fn save(&self) -> crate::Result<[Vec<u8>; 2]> {
        Ok([
            self.foreground.save_weights()?,
            self.background.save_weights()?,
        ])
    }

    /// `log p(x)` in nats of each image's model input under `model`.
    fn log_likelihoods(
        &self,
        model: &dyn AnyDetector,
        samples: &Samples,
        device: &Device,
    ) -> crate::Result<Vec<f64>> {
        let d = samples.shape.len();
        let images_a_pass = match self.config.model {
            DensityModel::Vae => CHUNK,
            DensityModel::Pixelcnn => PIXELCNN_CHUNK,
        };
        let mut out = Vec::with_capacity(samples.labels.len());
        for chunk in samples.values.chunks(images_a_pass * d) {
            let n = chunk.len() / d;
            let x = Tensor::<2>::from_data(TensorData::new(chunk.to_vec(), [n, d]), device);
            let negative = crate::models::read_values(vec![model.score(x)])?;
            out.extend(negative.into_iter().map(|v| -(v as f64)));
        }
        Ok(out)
    }

    /// The generative scores of `images` (of the run's shape, in `[0, 1]`), in
    /// [`GENERATIVE_SCORES`] order, higher = more in-distribution.
    pub fn scores(&self, images: &Images, device: &Device) -> crate::Result<Vec<Vec<f32>>> {
        let input = self.config.input(self.image);
        let samples = density_samples(images, self.image, input)?;
        let foreground = self.log_likelihoods(self.foreground.as_ref(), &samples, device)?;
        let background = self.log_likelihoods(self.background.as_ref(), &samples, device)?;
        let dim = input.iter().product::<usize>();
        let mut complexity = Vec::with_capacity(images.len());
        for (i, &log_p) in foreground.iter().enumerate() {
            // The model's input in [0, 1]: what PNG compresses is what the model scores.
            let unit: Vec<f32> = samples.values[i * dim..(i + 1) * dim]
                .iter()
                .map(|v| (v + 1.0) / 2.0)
                .collect();
            let png = png_bits(&unit, input)?;
            let log_probability = self.config.log_probability_of_levels(log_p, dim);
            complexity.push(input_complexity(log_probability, png, dim));
        }
        Ok(vec![
            foreground.iter().map(|&v| v as f32).collect(),
            foreground
                .iter()
                .zip(&background)
                .map(|(f, b)| (f - b) as f32)
                .collect(),
            complexity.iter().map(|&s| -s as f32).collect(),
        ])
    }
}

/// Serrà et al.'s `S(x) = ℓ(x) − L(x)` in bits per dimension, from the log-probability
/// `log_probability` (nats) of an 8-bit image of `dim` values and its compressed length
/// `compressed_bits`: `ℓ = −log P(x) / (D·ln 2)`, `L = compressed_bits / D`.
pub fn input_complexity(log_probability: f64, compressed_bits: f64, dim: usize) -> f64 {
    let d = dim as f64;
    -log_probability / (d * std::f64::consts::LN_2) - compressed_bits / d
}

/// The log-probability (nats) of an 8-bit image of `dim` values from the VAE's log-likelihood
/// under `decoder`: the Gaussian's is a density, times the volume `Δ^D` of the image's
/// quantisation cell (side `Δ` = one 8-bit level); the logistic's is already the probability
/// of the levels.
pub fn log_probability_of_levels(log_likelihood: f64, dim: usize, decoder: VaeDecoder) -> f64 {
    match decoder {
        VaeDecoder::Gaussian => log_likelihood + dim as f64 * QUANTUM.ln(),
        VaeDecoder::DiscretizedLogistic => log_likelihood,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The complexity by hand: a density of e^−100 over 4 values with Δ = 2/255 is a cell
    /// probability of e^−100·Δ⁴, i.e. (100 − 4 ln Δ)/ln 2 bits, per dimension ÷ 4; a 64-bit PNG
    /// is 16 bits per dimension. The logistic decoder's likelihood is already a probability.
    #[test]
    fn input_complexity_by_hand() {
        let delta: f64 = 2.0 / 255.0;
        let nll_bits = (100.0 - 4.0 * delta.ln()) / 2f64.ln();
        let by_hand = nll_bits / 4.0 - 64.0 / 4.0;
        let cell = log_probability_of_levels(-100.0, 4, VaeDecoder::Gaussian);
        let got = input_complexity(cell, 64.0, 4);
        assert!((got - by_hand).abs() < 1e-12, "{got} vs {by_hand}");
        let levels = log_probability_of_levels(-100.0, 4, VaeDecoder::DiscretizedLogistic);
        let by_hand = 100.0 / 2f64.ln() / 4.0 - 16.0;
        let got = input_complexity(levels, 64.0, 4);
        assert!((got - by_hand).abs() < 1e-12, "{got} vs {by_hand}");
    }

    /// PNG's length is the encoder's output: a flat image compresses far below a noisy one,
    /// grey and colour are accepted, two channels refused.
    #[test]
    fn png_length_follows_the_content() {
        let flat = vec![0.5f32; 32 * 32];
        let mut rng = component_rng(1, 0);
        let noisy: Vec<f32> = (0..32 * 32).map(|_| rng.random::<f32>()).collect();
        let flat_bits = png_bits(&flat, [1, 32, 32]).unwrap();
        let noisy_bits = png_bits(&noisy, [1, 32, 32]).unwrap();
        assert!(flat_bits < 0.1 * noisy_bits, "{flat_bits} vs {noisy_bits}");
        // Noise of 256 levels cannot compress below 8 bits per pixel (plus the PNG framing).
        assert!(noisy_bits > 8.0 * 1024.0, "{noisy_bits}");
        let colour = vec![0.25f32; 3 * 8 * 8];
        assert!(png_bits(&colour, [3, 8, 8]).unwrap() > 0.0);
        assert!(png_bits(&[0.0; 2 * 4], [2, 2, 2]).is_err());
    }

    /// The mutation replaces about μ of the pixels with 8-bit levels, the same ones for the
    /// same seed.
    #[test]
    fn mutation_replaces_a_share_mu_of_the_pixels() {
        let n = 200;
        let d = 100;
        let images = Images {
            values: vec![0.123_456; n * d],
            labels: vec![0; n],
            origin: (0..n as u32).collect(),
        };
        let mutated = mutate(&images, 0.2, 7, STREAM_MUTATION);
        let changed: Vec<&f32> = mutated.values.iter().filter(|&&v| v != 0.123_456).collect();
        let share = changed.len() as f64 / (n * d) as f64;
        assert!((share - 0.2).abs() < 0.01, "{share}");
        assert!(
            changed
                .iter()
                .all(|&&v| ((v * 255.0).round() - v * 255.0).abs() < 1e-4)
        );
        assert_eq!(
            mutate(&images, 0.2, 7, STREAM_MUTATION).values,
            mutated.values
        );
        assert_ne!(
            mutate(&images, 0.2, 8, STREAM_MUTATION).values,
            mutated.values
        );
        assert_ne!(
            mutate(&images, 0.2, 7, STREAM_VALIDATION_MUTATION).values,
            mutated.values
        );
    }

    /// Overrides reach the VAE's fields and μ; an unknown key or a μ out of range is refused.
    #[test]
    fn overrides_are_checked() {
        let config =
            GenerativeConfig::with_overrides(Some(r#"{"epochs": 3, "mutation_rate": 0.1}"#))
                .unwrap();
        assert_eq!(config.vae.epochs, 3);
        assert_eq!(config.mutation_rate, 0.1);
        assert!(GenerativeConfig::with_overrides(Some(r#"{"epoch": 3}"#)).is_err());
        let bad = GenerativeConfig::with_overrides(Some(r#"{"mutation_rate": 1.5}"#)).unwrap();
        assert!(
            bad.check()
                .unwrap_err()
                .to_string()
                .contains("mutation_rate")
        );
        let score = GenerativeConfig::with_overrides(Some(r#"{"score": "kl"}"#)).unwrap();
        assert!(score.check().is_err());
        // The logistic decoder drops the Gaussian's 0.1 unless it is given, then refused.
        let logistic =
            GenerativeConfig::with_overrides(Some(r#"{"decoder": "discretized-logistic"}"#))
                .unwrap();
        assert_eq!(logistic.vae.decoder_std, None);
        logistic.check().unwrap();
        let both = GenerativeConfig::with_overrides(Some(
            r#"{"decoder": "discretized-logistic", "decoder_std": 0.1}"#,
        ))
        .unwrap();
        assert!(
            both.check()
                .unwrap_err()
                .to_string()
                .contains("decoder_std")
        );
        assert_eq!(GenerativeConfig::default().vae.decoder_std, Some(0.1));
    }

    /// `"model": "pixelcnn"` routes the other keys to the PixelCNN's fields (a VAE field is then
    /// unknown), takes grey and RGB images at their own size, refuses two channels, and its
    /// log-likelihood is already the probability of the levels; settings written before the
    /// choice existed load as the VAE.
    #[test]
    fn the_pixelcnn_replaces_the_vae_where_asked() {
        let config = GenerativeConfig::with_overrides(Some(
            r#"{"model": "pixelcnn", "filters": 16, "epochs": 2, "mutation_rate": 0.1}"#,
        ))
        .unwrap();
        assert_eq!(config.model, DensityModel::Pixelcnn);
        assert_eq!((config.pixelcnn.filters, config.pixelcnn.epochs), (16, 2));
        assert_eq!(config.vae, GenerativeConfig::default().vae);
        config.check().unwrap();
        let e = GenerativeConfig::with_overrides(Some(r#"{"model": "pixelcnn", "latent_dim": 8}"#))
            .unwrap_err()
            .to_string();
        assert!(e.contains("latent_dim") && e.contains("pixelcnn"), "{e}");
        let e = GenerativeConfig::with_overrides(Some(r#"{"model": "glow"}"#))
            .unwrap_err()
            .to_string();
        assert!(e.contains("vae or pixelcnn"), "{e}");
        assert_eq!(config.input([1, 28, 28]), [1, 28, 28]);
        config.check_image([1, 28, 28]).unwrap();
        config.check_image([3, 32, 32]).unwrap();
        let e = config.check_image([2, 32, 32]).unwrap_err().to_string();
        assert!(e.contains("RGB"), "{e}");
        assert_eq!(config.log_probability_of_levels(-123.5, 784), -123.5);
        let vae = GenerativeConfig::default();
        assert_eq!(
            vae.log_probability_of_levels(-123.5, 784),
            log_probability_of_levels(-123.5, 784, VaeDecoder::Gaussian)
        );
        let older = r#"{"vae": {"image_size": 32}, "mutation_rate": 0.2}"#;
        let loaded: GenerativeConfig = serde_json::from_str(older).unwrap();
        assert_eq!(loaded.model, DensityModel::Vae);
    }

    /// PixelCNN's scores follow the same formulas from its exact log-likelihood (no padding,
    /// no cell volume), and the saved pair scores the same after loading; grey and RGB.
    #[test]
    fn pixelcnn_scores_follow_their_formulas_and_survive_a_round_trip() {
        let config =
            GenerativeConfig::with_overrides(Some(r#"{"model": "pixelcnn", "filters": 16}"#))
                .unwrap();
        for channels in [1, 3] {
            let image = [channels, 6, 5];
            let d = channels * 30;
            let models = GenerativeModels::new(&config, image, 3, &Device::flex()).unwrap();
            let images = Images {
                values: (0..2 * d).map(|i| (i % 7) as f32 / 7.0).collect(),
                labels: vec![0; 2],
                origin: vec![0, 1],
            };
            let scores = models.scores(&images, &Device::flex()).unwrap();
            let samples = density_samples(&images, image, image).unwrap();
            let fg = models
                .log_likelihoods(models.foreground.as_ref(), &samples, &Device::flex())
                .unwrap();
            assert!((scores[0][0] as f64 - fg[0]).abs() < 1e-3);
            let unit: Vec<f32> = images.values[..d]
                .iter()
                .map(|v| (v * 255.0).round() / 255.0)
                .collect();
            let by_hand = -input_complexity(fg[0], png_bits(&unit, image).unwrap(), d);
            assert!(
                (scores[2][0] as f64 - by_hand).abs() < 1e-4,
                "{channels}: {} vs {by_hand}",
                scores[2][0]
            );
            // Saved and loaded (the run folder's two weights files), the pair scores the same.
            let saved = models.save().unwrap();
            let loaded = GenerativeModels::load(&config, image, saved, 9, &Device::flex()).unwrap();
            assert_eq!(loaded.scores(&images, &Device::flex()).unwrap(), scores);
        }
    }

    /// The likelihood ratio is the difference of the two models' log-likelihoods and the
    /// complexity score follows from the first and the PNG length, image by image.
    #[test]
    fn scores_follow_their_formulas() {
        let device = Device::flex();
        let config = GenerativeConfig::with_overrides(Some(
            r#"{"image_size": 8, "base_width": 4, "latent_dim": 2, "importance_samples": 3}"#,
        ))
        .unwrap();
        let image = [1, 6, 6];
        let models = GenerativeModels::new(&config, image, 3, &device).unwrap();
        let mut rng = component_rng(5, 0);
        let images = Images {
            values: (0..3 * 36).map(|_| rng.random::<f32>()).collect(),
            labels: vec![0; 3],
            origin: vec![0, 1, 2],
        };
        let scores = models.scores(&images, &device).unwrap();
        let samples = density_samples(&images, image, [1, 8, 8]).unwrap();
        let fg = models
            .log_likelihoods(models.foreground.as_ref(), &samples, &device)
            .unwrap();
        let bg = models
            .log_likelihoods(models.background.as_ref(), &samples, &device)
            .unwrap();
        for i in 0..3 {
            assert!((scores[0][i] as f64 - fg[i]).abs() < 1e-3);
            assert!((scores[1][i] as f64 - (fg[i] - bg[i])).abs() < 1e-3);
            let unit: Vec<f32> = samples.values[i * 64..(i + 1) * 64]
                .iter()
                .map(|v| (v + 1.0) / 2.0)
                .collect();
            let png = png_bits(&unit, [1, 8, 8]).unwrap();
            let cell = log_probability_of_levels(fg[i], 64, VaeDecoder::Gaussian);
            let by_hand = -input_complexity(cell, png, 64);
            assert!(
                (scores[2][i] as f64 - by_hand).abs() < 1e-4,
                "{} vs {by_hand}",
                scores[2][i]
            );
        }
        // Zero padding: the VAE sees the 6 × 6 image in the middle of an 8 × 8 black (−1) one,
        // its pixels rounded to the 8-bit levels.
        assert_eq!(samples.values[0], -1.0);
        let level = (images.values[0] * 255.0).round() / 255.0;
        assert!((samples.values[9] - (2.0 * level - 1.0)).abs() < 1e-6);
    }
}
