//! RSRAE: Lai, Zou, Lerman. "Robust Subspace Recovery Layer for Unsupervised Anomaly
//! Detection". ICLR 2020 (MODELS.md §11; official code `dmzou/RSRAE`, TensorFlow 1).
//!
//! Network, as the official `RSRAE/model.py` with `hidden_layer_sizes = (32, 64, 128)` (tanh
//! after every layer, the output's too: the experiment script picks tanh for inputs within
//! [−1, 1]):
//! - images (side a multiple of 4): encoder conv 5×5/2 → 32, conv 5×5/2 → 64, conv 3×3/2 → 128
//!   (TensorFlow's "same" padding, the last "valid" where the side over 4 is odd, as 28 → 3);
//!   decoder dense → 128·s², then transposed convolutions 3×3/2 → 64, 5×5/2 → 32, 5×5/2 →
//!   channels; tables: dense 32 → 64 → 128 and back;
//! - the **RSR layer** between them: the flattened code `y ∈ R^D` maps to `ỹ = Aᵀy`,
//!   `A ∈ R^{D×d}` (`d = 10`, entries N(0, 1) at start), then `z = ỹ/‖ỹ‖` (`normalise_latent`).
//!
//! Inputs: each sample is scaled to unit L2 norm inside the model (`normalise_input`, the
//! script's `sklearn.preprocessing.normalize` after `x/127.5 − 1`: `--scaling
//! minus-one-to-one`, the default on images).
//!
//! Losses (ℓ2,1: norms per sample, not squared, averaged over the batch):
//! `L_AE = mean ‖x − x̃‖₂`, `L_RSR1 = mean ‖y − A Aᵀ y‖₂`, `L_RSR2 = mean((AᵀA − I_d)²)`.
//! - RSRAE (`optimisation: alternating`, the script's `-z 1 -q 1`): per batch, an Adam step on
//!   `L_AE` (every weight), then one on `L_RSR2` (A only) and one on `L_RSR1` (encoder and A),
//!   each with its own Adam at 10× the learning rate.
//! - RSRAE+ (`optimisation: joint`): one Adam step on `L_AE + λ₁·L_RSR1 + λ₂·L_RSR2`,
//!   λ₁ = λ₂ = 0.1 (the class defaults).
//!
//! Adam 2.5e-4, batch 128, 200 epochs (the script's). Score: the negative cosine similarity of
//! the (normalised) input and its reconstruction, `−⟨x, x̃⟩/((‖x‖ + 10⁻⁶)(‖x̃‖ + 10⁻⁶))`. Map:
//! `(x − x̃)²` of the normalised input, averaged over channels. The protocol is
//! `--protocol contaminated --contamination c`: train and score on the same set.
//!
//! BatchNorm: off by default (`batch_norm`). The official code calls Keras' layer in a TF1
//! graph without a training flag, which runs it in inference mode throughout: a fixed affine
//! map with its initial statistics (mean 0, variance 1), close to no normalisation at all. With
//! real batch statistics (`{"batch_norm": true}`) the reconstructions of the unit-norm inputs
//! train far worse (F-MNIST class 0, c = 0.5, 20 epochs: AUROC 0.35, against 0.87 without).
//!
//! Deviation: transposed convolutions crop symmetrically (burn), TensorFlow's "same" crops one
//! more pixel after than before: a one-pixel shift of the decoder's grid.

use super::{Detector, ModelInfo, ModelSpec, StepLosses, as_images, image_dims, read_values};
use crate::data::preprocess::Scaling;
use crate::data::SampleShape;
use crate::nn::init::{component_rng, normal_tensor};
use crate::nn::{InitScheme, NetOptimizer, Trainables, TrainablesMut, initialise};
use crate::nn::dense::{forward_batch_invariant, matmul_batch_invariant};
use burn::module::Param;
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::tanh;
use serde::{Deserialize, Serialize};

/// How the three losses are minimised.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RsrOptimisation {
    /// RSRAE: alternating Adam steps on each loss.
    #[default]
    Alternating,
    /// RSRAE+: one Adam step on their weighted sum.
    Joint,
}

/// RSRAE hyper-parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RsraeConfig {
    /// The RSR layer's intrinsic dimension `d` (10).
    pub latent_dim: usize,
    /// Widths of the three encoder layers, mirrored by the decoder (`[32, 64, 128]`).
    pub hidden: Vec<usize>,
    /// RSRAE (alternating) or RSRAE+ (joint).
    pub optimisation: RsrOptimisation,
    /// λ₁, the weight of `L_RSR1` in RSRAE+ (0.1).
    pub rsr_weight: f64,
    /// λ₂, the weight of `L_RSR2` in RSRAE+ (0.1).
    pub projection_weight: f64,
    /// RSRAE: also take the Adam step on `L_RSR2` (the script's `-q 1`; true).
    pub enforce_projection: bool,
    /// Normalise the RSR layer's output to unit length (true).
    pub normalise_latent: bool,
    /// Scale each input sample to unit L2 norm (true).
    pub normalise_input: bool,
    /// BatchNorm after each hidden layer, normalising by batch statistics in training.
    pub batch_norm: bool,
    /// Adam learning rate (2.5e-4; the RSR steps of RSRAE take 10×).
    pub learning_rate: f64,
    /// Training batch size (128).
    pub batch_size: usize,
    /// Training epochs (200).
    pub epochs: usize,
}

impl Default for RsraeConfig {
    fn default() -> Self {
        RsraeConfig {
            latent_dim: 10,
            hidden: vec![32, 64, 128],
            optimisation: RsrOptimisation::Alternating,
            rsr_weight: 0.1,
            projection_weight: 0.1,
            enforce_projection: true,
            normalise_latent: true,
            normalise_input: true,
            batch_norm: false,
            learning_rate: 2.5e-4,
            batch_size: 128,
            epochs: 200,
        }
    }
}

/// A layer and its activation's BatchNorm: `BN(tanh(layer(x)))`.
#[derive(Module, Debug)]
pub struct ConvBlock {
    conv: Conv2d,
    norm: Option<BatchNorm>,
}

/// A transposed convolution with the BatchNorm after its activation.
#[derive(Module, Debug)]
pub struct UpBlock {
    conv: ConvTranspose2d,
    norm: Option<BatchNorm>,
}

/// A dense layer with the BatchNorm after its activation (none on the output layer).
#[derive(Module, Debug)]
pub struct DenseBlock {
    linear: Linear,
    norm: Option<BatchNorm>,
}

impl DenseBlock {
    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let h = tanh(forward_batch_invariant(&self.linear, x));
        match &self.norm {
            Some(norm) => {
                let [b, c] = h.dims();
                norm.forward(h.reshape([b, c, 1])).reshape([b, c])
            }
            None => h,
        }
    }
}

/// Images: three convolutions, a dense layer and three transposed convolutions.
#[derive(Module, Debug)]
pub struct ConvHalves {
    /// Image → `[w₂, s, s]`.
    encoder: Vec<ConvBlock>,
    /// `d` → `w₂·s²`.
    revealed: DenseBlock,
    /// `[w₂, s, s]` → image.
    decoder: Vec<UpBlock>,
}

/// Tables: three dense layers each way.
#[derive(Module, Debug)]
pub struct DenseHalves {
    /// Row → `w₂`.
    encoder: Vec<DenseBlock>,
    /// `d` → row.
    decoder: Vec<DenseBlock>,
}

/// The encoder and decoder around the RSR layer.
// One per model and never moved in a hot loop: the size difference between variants is harmless.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Halves {
    /// For images.
    Conv(ConvHalves),
    /// For tables.
    Dense(DenseHalves),
}

/// The RSR layer's matrix `A`, `[D, d]`.
#[derive(Module, Debug)]
pub struct RsrLayer {
    a: Param<Tensor<2>>,
}

/// The whole network.
#[derive(Module, Debug)]
pub struct RsraeNet {
    halves: Halves,
    rsr: RsrLayer,
}

/// What one pass gives: the encoder's flattened code `y`, the RSR output `Aᵀy` and the
/// reconstruction, flattened.
struct Pass {
    code: Tensor<2>,
    projected: Tensor<2>,
    reconstruction: Tensor<2>,
}

impl RsraeNet {
    /// The encoder's flattened code of flattened inputs.
    fn encode(&self, x: Tensor<2>, image: Option<[usize; 3]>) -> Tensor<2> {
        let b = x.dims()[0];
        match (&self.halves, image) {
            (Halves::Conv(n), Some(dims)) => {
                let mut h = as_images(x, dims);
                for block in &n.encoder {
                    h = tanh(block.conv.forward(h));
                    if let Some(norm) = &block.norm {
                        h = norm.forward(h);
                    }
                }
                h.reshape([b as i32, -1])
            }
            (Halves::Dense(n), _) => n.encoder.iter().fold(x, |h, block| block.forward(h)),
            (Halves::Conv(_), None) => unreachable!("conv RSRAE without an image shape"),
        }
    }

    /// Reconstructions, flattened, of latents `[B, d]`.
    fn decode(&self, z: Tensor<2>, code_side: usize) -> Tensor<2> {
        let b = z.dims()[0];
        match &self.halves {
            Halves::Conv(n) => {
                let h = n.revealed.forward(z);
                let c = h.dims()[1] / (code_side * code_side);
                let mut h = h.reshape([b, c, code_side, code_side]);
                for block in &n.decoder {
                    h = tanh(block.conv.forward(h));
                    if let Some(norm) = &block.norm {
                        h = norm.forward(h);
                    }
                }
                h.reshape([b as i32, -1])
            }
            Halves::Dense(n) => n.decoder.iter().fold(z, |h, block| block.forward(h)),
        }
    }
}

/// TensorFlow's "same" padding of a stride-2 convolution over a side `size`:
/// (before, after).
fn same_padding(size: usize, kernel: usize) -> (usize, usize) {
    let out = size.div_ceil(2);
    let total = ((out - 1) * 2 + kernel).saturating_sub(size);
    (total / 2, total - total / 2)
}

/// The RSRAE detector.
pub struct Rsrae {
    config: RsraeConfig,
    image: Option<[usize; 3]>,
    /// Side of the code's square maps (images).
    code_side: usize,
    net: RsraeNet,
    /// Adam of the main step (every weight).
    optim_main: NetOptimizer,
    /// Adam of the `L_RSR2` step (A).
    optim_projection: NetOptimizer,
    /// Adam of the `L_RSR1` step (encoder and A).
    optim_rsr: NetOptimizer,
}

impl Rsrae {
    /// Build RSRAE for samples of `shape` on `device`.
    pub fn new(config: RsraeConfig, shape: SampleShape, device: &Device, seed: u64) -> crate::Result<Self> {
        anyhow::ensure!(
            config.hidden.len() == 3,
            "rsrae: hidden must hold three widths (encoder layers 1–3), got {:?}",
            config.hidden
        );
        let train_device = device.clone().autodiff();
        let [w0, w1, w2] = [config.hidden[0], config.hidden[1], config.hidden[2]];
        let d = config.latent_dim;
        let bn = config.batch_norm;
        let dense = |i, o, norm: bool| DenseBlock {
            linear: LinearConfig::new(i, o).init(&train_device),
            norm: (norm && bn).then(|| BatchNormConfig::new(o).with_epsilon(1e-3).init(&train_device)),
        };
        let (halves, image, code_side, code_len) = match shape {
            SampleShape::Image { .. } => {
                let (c, h, w) = image_dims("rsrae", shape)?;
                anyhow::ensure!(
                    h == w && h >= 8 && h % 4 == 0,
                    "rsrae takes square images whose side is a multiple of 4 (at least 8), got {h}×{w}"
                );
                let conv = |cin, cout, k, (top, bottom): (usize, usize)| ConvBlock {
                    conv: Conv2dConfig::new([cin, cout], [k, k])
                        .with_stride([2, 2])
                        .with_padding(PaddingConfig2d::Explicit(top, top, bottom, bottom))
                        .init(&train_device),
                    norm: bn.then(|| BatchNormConfig::new(cout).with_epsilon(1e-3).init(&train_device)),
                };
                let quarter = h / 4;
                let last_valid = quarter % 2 == 1;
                let code_side = if last_valid { (quarter - 3) / 2 + 1 } else { quarter / 2 };
                let encoder = vec![
                    conv(c, w0, 5, same_padding(h, 5)),
                    conv(w0, w1, 5, same_padding(h / 2, 5)),
                    conv(w1, w2, 3, if last_valid { (0, 0) } else { same_padding(quarter, 3) }),
                ];
                let up = |cin, cout, k, padding, out_pad, norm: bool| UpBlock {
                    conv: ConvTranspose2dConfig::new([cin, cout], [k, k])
                        .with_stride([2, 2])
                        .with_padding([padding, padding])
                        .with_padding_out([out_pad, out_pad])
                        .init(&train_device),
                    norm: (norm && bn).then(|| BatchNormConfig::new(cout).with_epsilon(1e-3).init(&train_device)),
                };
                let decoder = vec![
                    if last_valid { up(w2, w1, 3, 0, 0, true) } else { up(w2, w1, 3, 1, 1, true) },
                    up(w1, w0, 5, 2, 1, true),
                    up(w0, c, 5, 2, 1, false),
                ];
                let code_len = w2 * code_side * code_side;
                let halves = Halves::Conv(ConvHalves {
                    encoder,
                    revealed: dense(d, code_len, true),
                    decoder,
                });
                (halves, Some([c, h, w]), code_side, code_len)
            }
            SampleShape::Table { features } => {
                let halves = Halves::Dense(DenseHalves {
                    encoder: vec![dense(features, w0, true), dense(w0, w1, true), dense(w1, w2, true)],
                    decoder: vec![
                        dense(d, w2, true),
                        dense(w2, w1, true),
                        dense(w1, w0, true),
                        dense(w0, features, false),
                    ],
                });
                (halves, None, 1, w2)
            }
        };
        let halves = initialise(halves, InitScheme::Xavier, &mut component_rng(seed, 1));
        let a = normal_tensor(&mut component_rng(seed, 2), [code_len, d], 1.0, &train_device);
        let net = RsraeNet {
            halves,
            rsr: RsrLayer {
                a: Param::from_tensor(a),
            },
        };
        let lr = config.learning_rate;
        Ok(Rsrae {
            optim_main: NetOptimizer::adam(lr, 0.9, 0.999),
            optim_projection: NetOptimizer::adam(10.0 * lr, 0.9, 0.999),
            optim_rsr: NetOptimizer::adam(10.0 * lr, 0.9, 0.999),
            config,
            image,
            code_side,
            net,
        })
    }

    /// The input as the model sees it: each row at unit L2 norm when `normalise_input`.
    fn prepared(&self, x: Tensor<2>) -> Tensor<2> {
        if self.config.normalise_input {
            unit_rows(x)
        } else {
            x
        }
    }

    /// One pass of `net` over prepared inputs.
    fn pass(&self, net: &RsraeNet, x: Tensor<2>) -> Pass {
        let code = net.encode(x, self.image);
        let projected = matmul_batch_invariant(code.clone(), net.rsr.a.val());
        let z = if self.config.normalise_latent {
            unit_rows(projected.clone())
        } else {
            projected.clone()
        };
        Pass {
            code,
            projected,
            reconstruction: net.decode(z, self.code_side),
        }
    }
}

/// Rows scaled to unit L2 norm (TensorFlow's `l2_normalize`: divided by
/// `max(‖row‖, 10⁻⁶)`).
fn unit_rows(x: Tensor<2>) -> Tensor<2> {
    let norm = x.clone().powi_scalar(2).sum_dim(1).sqrt().clamp_min(1e-6);
    x / norm
}

/// `‖row‖₂` of each row, `[B]`.
fn row_norms(x: Tensor<2>) -> Tensor<1> {
    let b = x.dims()[0];
    x.powi_scalar(2).sum_dim(1).sqrt().reshape([b])
}

/// `L_RSR1` per sample: `‖y − A Aᵀ y‖₂` from `y` and `Aᵀy`.
fn rsr_residual(code: Tensor<2>, projected: Tensor<2>, a: Tensor<2>) -> Tensor<1> {
    row_norms(code - projected.matmul(a.transpose()))
}

/// `L_RSR2`: `mean((AᵀA − I)²)`.
fn projection_error(a: Tensor<2>) -> Tensor<1> {
    let d = a.dims()[1];
    let eye = Tensor::<2>::eye(d, &a.device());
    (a.clone().transpose().matmul(a) - eye).powi_scalar(2).mean()
}

impl ModelSpec for RsraeConfig {
    const INFO: ModelInfo = ModelInfo {
        name: "rsrae",
        group: super::ModelGroup::Detector,
        paper: "Lai, Zou, Lerman. Robust Subspace Recovery Layer for Unsupervised Anomaly Detection. ICLR 2020",
        summary: "autoencoder with a robust subspace recovery layer (A ∈ R^{D×10}, l2,1 losses, alternating steps; RSRAE+ as {\"optimisation\": \"joint\"}); score = −cos(x, x̂); for the contaminated protocol",
        inputs: "images, tables",
    };

    type Detector = Rsrae;

    fn build(&self, shape: SampleShape, device: &Device, seed: u64) -> crate::Result<Rsrae> {
        Rsrae::new(self.clone(), shape, device, seed)
    }

    fn epochs(&self) -> usize {
        self.epochs
    }

    fn batch_size(&self) -> usize {
        self.batch_size
    }

    fn image_size(&self) -> Option<usize> {
        None
    }

    /// Images: the script's `x/127.5 − 1` before the model's own unit-norm scaling.
    fn image_scaling(&self) -> Scaling {
        Scaling::MinusOneToOne
    }
}

impl Detector for Rsrae {
    fn train_step(&mut self, batch: Tensor<2>) -> crate::Result<StepLosses> {
        let x = self.prepared(batch);
        let p = self.pass(&self.net, x.clone());
        let reconstruction = row_norms(x.clone() - p.reconstruction).mean();
        let a = self.net.rsr.a.val();
        let rsr = rsr_residual(p.code, p.projected, a.clone()).mean();
        let projection = projection_error(a);
        let c = &self.config;
        match c.optimisation {
            RsrOptimisation::Joint => {
                let loss = reconstruction.clone()
                    + rsr.clone() * c.rsr_weight
                    + projection.clone() * c.projection_weight;
                let mut grads = loss.backward();
                self.net = self.optim_main.step(self.net.clone(), &mut grads);
            }
            RsrOptimisation::Alternating => {
                let mut grads = reconstruction.clone().backward();
                self.net = self.optim_main.step(self.net.clone(), &mut grads);
                if c.enforce_projection {
                    let mut grads = projection_error(self.net.rsr.a.val()).backward();
                    self.net.rsr = self.optim_projection.step(self.net.rsr.clone(), &mut grads);
                }
                let code = self.net.encode(x, self.image);
                let a = self.net.rsr.a.val();
                let projected = code.clone().matmul(a.clone());
                let mut grads = rsr_residual(code, projected, a).mean().backward();
                self.net = self.optim_rsr.step(self.net.clone(), &mut grads);
            }
        }
        let v = read_values(vec![reconstruction, rsr, projection])?;
        Ok(vec![("ae", v[0]), ("rsr", v[1]), ("projection", v[2])])
    }

    fn score(&self, batch: Tensor<2>) -> Tensor<1> {
        let net = self.net.valid();
        let x = self.prepared(batch);
        let b = x.dims()[0];
        let recon = self.pass(&net, x.clone()).reconstruction;
        let dot = (x.clone() * recon.clone()).sum_dim(1).reshape([b]);
        let norms = (row_norms(x) + 1e-6) * (row_norms(recon) + 1e-6);
        (dot / norms).neg()
    }

    fn validation_loss(&self, batch: Tensor<2>) -> Tensor<1> {
        let net = self.net.valid();
        let x = self.prepared(batch);
        let recon = self.pass(&net, x.clone()).reconstruction;
        row_norms(x - recon)
    }

    fn anomaly_map(&self, batch: Tensor<2>) -> Option<Tensor<4>> {
        let [c, h, w] = self.image?;
        let net = self.net.valid();
        let x = self.prepared(batch);
        let b = x.dims()[0];
        let recon = self.pass(&net, x.clone()).reconstruction;
        Some((x - recon).powi_scalar(2).reshape([b, c, h, w]).mean_dim(1))
    }

    fn trainables(&self) -> Trainables<'_> {
        Trainables {
            networks: &self.net,
            optimizers: vec![&self.optim_main, &self.optim_projection, &self.optim_rsr],
            rng: None,
            average: None,
        }
    }

    fn trainables_mut(&mut self) -> TrainablesMut<'_> {
        TrainablesMut {
            networks: &mut self.net,
            optimizers: vec![
                &mut self.optim_main,
                &mut self.optim_projection,
                &mut self.optim_rsr,
            ],
            rng: None,
            average: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().try_into_vec::<f32>().unwrap()
    }

    /// The score is the negative cosine similarity of the normalised input and the network's
    /// own reconstruction, computed by hand; the RSR losses follow their formulas; the image
    /// network keeps the official shapes (28 → 3 → 28, 32 → 4 → 32).
    #[test]
    fn score_and_losses_follow_the_code() {
        let device = Device::flex();
        let model = Rsrae::new(RsraeConfig::default(), SampleShape::Table { features: 5 }, &device, 3).unwrap();
        let rows: Vec<f32> = (0..10).map(|i| ((i * 3) % 7) as f32 - 2.5).collect();
        let x = Tensor::<2>::from_data(TensorData::new(rows.clone(), [2, 5]), &device);
        let got = values(model.score(x.clone()));
        let net = model.net.valid();
        let unit = model.prepared(x.clone());
        let recon = values(model.pass(&net, unit.clone()).reconstruction);
        let unit = values(unit);
        for row in 0..2 {
            let norm: f64 = rows[row * 5..row * 5 + 5].iter().map(|&v| (v as f64).powi(2)).sum::<f64>().sqrt();
            let u: Vec<f64> = rows[row * 5..row * 5 + 5].iter().map(|&v| v as f64 / norm).collect();
            for j in 0..5 {
                assert!((u[j] - unit[row * 5 + j] as f64).abs() < 1e-6);
            }
            let r = &recon[row * 5..row * 5 + 5];
            let dot: f64 = (0..5).map(|j| u[j] * r[j] as f64).sum();
            let rn: f64 = r.iter().map(|&v| (v as f64).powi(2)).sum::<f64>().sqrt();
            let expected = -dot / ((1.0 + 1e-6) * (rn + 1e-6));
            assert!((got[row] as f64 - expected).abs() < 1e-5, "row {row}: {} vs {expected}", got[row]);
        }
        // L_RSR1 and L_RSR2 by hand on a small A.
        let a = Tensor::<2>::from_floats([[1.0f32, 0.0], [0.0, 2.0], [1.0, 1.0]], &device);
        let y = Tensor::<2>::from_floats([[1.0f32, 2.0, 3.0]], &device);
        let projected = y.clone().matmul(a.clone()); // [4, 7]
        // A Aᵀ y = [4, 14, 11]; y − that = [−3, −12, −8]; norm √217.
        let residual = values(rsr_residual(y, projected, a.clone()))[0] as f64;
        assert!((residual - 217f64.sqrt()).abs() < 1e-4, "{residual}");
        // AᵀA = [[2, 1], [1, 5]]; minus I: [[1, 1], [1, 4]]; mean of squares 19/4.
        let projection = values(projection_error(a))[0] as f64;
        assert!((projection - 4.75).abs() < 1e-6, "{projection}");
        for side in [28, 32] {
            let shape = SampleShape::Image { channels: 1, height: side, width: side };
            let m = Rsrae::new(RsraeConfig::default(), shape, &device, 0).unwrap();
            assert_eq!(m.code_side, side / 8);
            let images = Tensor::<2>::ones([2, side * side], &device);
            let net = m.net.valid();
            let p = m.pass(&net, m.prepared(images));
            assert_eq!(p.reconstruction.dims(), [2, side * side]);
            assert_eq!(p.code.dims(), [2, 128 * (side / 8) * (side / 8)]);
        }
        let odd = SampleShape::Image { channels: 1, height: 30, width: 30 };
        assert!(Rsrae::new(RsraeConfig::default(), odd, &device, 0).is_err());
    }
}
