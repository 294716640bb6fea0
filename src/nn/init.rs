//! Seeded weight initialisation from the model's own random stream.
//!
//! burn's initialisers draw from a process-wide generator; two models built at once (parallel
//! tests, a server) would interleave their draws. Every model here re-draws its parameters from
//! a ChaCha stream seeded by the run's seed, so the same seed gives the same weights on any
//! device and in any process.

use burn::module::{Module, ModuleMapper, Param};
use burn::prelude::*;
use burn::tensor::TensorData;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// How parameters are initialised.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InitScheme {
    /// DCGAN (Radford et al. 2016), as GANomaly's `weights_init`: convolution weights
    /// N(0, 0.02), BatchNorm scale N(1, 0.02) and shift 0; other layers as [`InitScheme::Pytorch`].
    Dcgan,
    /// PyTorch's layer defaults: weights and biases U(−1/√fan_in, 1/√fan_in); BatchNorm 1 and 0.
    Pytorch,
    /// Glorot/Xavier uniform weights U(±√(6/(fan_in + fan_out))) and zero biases: TensorFlow's
    /// `xavier_initializer`, as the EGBAD and ALAD tabular networks.
    Xavier,
    /// Every weight N(0, 0.01²), biases 0, BatchNorm 1 and 0: TensorFlow's
    /// `random_normal_initializer(stddev=0.01)` with its zero biases, as ALAD's CIFAR-10 networks.
    SmallNormal,
    /// Convolution and transposed-convolution weights Xavier-uniform with LeakyReLU's gain
    /// `√(2/(1 + 0.01²))` (PyTorch's `xavier_uniform_(w, gain=calculate_gain('leaky_relu'))`),
    /// the other layers as [`InitScheme::Pytorch`]: the Deep SVDD CIFAR-10 autoencoder's.
    XavierLeakyConvolutions,
}

/// Re-initialise every parameter of `module` with `scheme`, drawing from `rng`.
pub fn initialise<M: Module>(module: M, scheme: InitScheme, rng: &mut ChaCha8Rng) -> M {
    let mut mapper = Initialiser {
        scheme,
        rng,
        path: Vec::new(),
        fan_in: 1,
    };
    module.map(&mut mapper)
}

/// Re-draw a DCGAN discriminator when its loss fell under `threshold` (GANomaly's and
/// Skip-GANomaly's rule against a collapsed adversarial game); otherwise return it as it is.
pub fn reinitialise_below<M: Module>(net: M, loss: f32, threshold: f32, rng: &mut ChaCha8Rng) -> M {
    if loss < threshold {
        initialise(net, InitScheme::Dcgan, rng)
    } else {
        net
    }
}

/// A fresh generator for a model component: the run seed and a component tag, so components
/// (generator, discriminator, …) draw independent streams.
pub fn component_rng(seed: u64, component: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(component);
    rng
}

struct Initialiser<'a> {
    scheme: InitScheme,
    rng: &'a mut ChaCha8Rng,
    path: Vec<(String, String)>,
    /// Fan-in of the last weight seen, for the bias that follows it.
    fan_in: usize,
}

/// A `[rows, cols]` tensor of N(0, std²) draws from `rng` (latent codes, input noise).
pub fn normal_tensor(
    rng: &mut ChaCha8Rng,
    [rows, cols]: [usize; 2],
    std: f32,
    device: &Device,
) -> Tensor<2> {
    let values: Vec<f32> = (0..rows * cols)
        .map(|_| std * standard_normal(rng))
        .collect();
    Tensor::from_data(TensorData::new(values, [rows, cols]), device)
}

/// A standard normal draw (Box–Muller).
pub fn standard_normal(rng: &mut impl Rng) -> f32 {
    let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.random::<f64>();
    ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
}

impl Initialiser<'_> {
    fn values(&mut self, field: &str, container: &str, dims: &[usize]) -> Option<Vec<f32>> {
        let n: usize = dims.iter().product();
        let is_conv = container.ends_with("Conv2d") || container.ends_with("ConvTranspose2d");
        let is_norm = container.ends_with("BatchNorm");
        let uniform = |rng: &mut ChaCha8Rng, bound: f32| -> Vec<f32> {
            (0..n)
                .map(|_| (rng.random::<f32>() * 2.0 - 1.0) * bound)
                .collect()
        };
        Some(match (field, is_norm) {
            ("gamma", true) => match self.scheme {
                InitScheme::Dcgan => (0..n)
                    .map(|_| 1.0 + 0.02 * standard_normal(self.rng))
                    .collect(),
                InitScheme::Pytorch
                | InitScheme::Xavier
                | InitScheme::SmallNormal
                | InitScheme::XavierLeakyConvolutions => vec![1.0; n],
            },
            ("beta", true) | ("running_mean", true) => vec![0.0; n],
            ("running_var", true) => vec![1.0; n],
            ("weight", false) => {
                // Conv2d [out, in, kh, kw] and ConvTranspose2d [in, out, kh, kw]: PyTorch takes
                // the fan-in from dimension 1 in both; Linear [in, out] from dimension 0.
                self.fan_in = if dims.len() == 4 {
                    dims[1] * dims[2] * dims[3]
                } else {
                    dims[0]
                };
                if self.scheme == InitScheme::SmallNormal {
                    (0..n).map(|_| 0.01 * standard_normal(self.rng)).collect()
                } else if self.scheme == InitScheme::Xavier
                    || (is_conv && self.scheme == InitScheme::XavierLeakyConvolutions)
                {
                    let receptive: usize = dims.iter().skip(2).product();
                    let fan_out = if dims.len() == 4 {
                        dims[0] * receptive
                    } else {
                        dims[1]
                    };
                    let gain = match self.scheme {
                        InitScheme::XavierLeakyConvolutions => {
                            (2.0f32 / (1.0 + 0.01 * 0.01)).sqrt()
                        }
                        _ => 1.0,
                    };
                    uniform(
                        self.rng,
                        gain * (6.0 / (self.fan_in + fan_out) as f32).sqrt(),
                    )
                } else if is_conv && self.scheme == InitScheme::Dcgan {
                    (0..n).map(|_| 0.02 * standard_normal(self.rng)).collect()
                } else {
                    // kaiming_uniform(a=√5) gives the bound 1/√fan_in
                    uniform(self.rng, 1.0 / (self.fan_in as f32).sqrt())
                }
            }
            ("bias", false)
                if matches!(self.scheme, InitScheme::Xavier | InitScheme::SmallNormal) =>
            {
                vec![0.0; n]
            }
            ("bias", false) => uniform(self.rng, 1.0 / (self.fan_in as f32).sqrt()),
            _ => return None,
        })
    }
}

impl ModuleMapper for Initialiser<'_> {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.path
            .push((name.to_string(), container_type.to_string()));
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (field, container) = self.path.last().cloned().unwrap_or_default();
        param.map(|t| {
            let dims = t.dims();
            match self.values(&field, &container, &dims) {
                Some(v) => {
                    let grad = t.is_require_grad();
                    let fresh = Tensor::<D>::from_data(TensorData::new(v, dims), &t.device());
                    if grad { fresh.require_grad() } else { fresh }
                }
                None => t,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::conv::Conv2dConfig;
    use burn::nn::{Linear, LinearConfig};

    #[derive(Module, Debug)]
    struct ConvThenLinear {
        conv: burn::nn::conv::Conv2d,
        fc: Linear,
    }

    fn largest(values: Tensor<4>) -> f32 {
        values.abs().max().into_scalar::<f32>()
    }

    /// Xavier with LeakyReLU's gain on convolutions only: the conv's weights reach, and stay
    /// within, `gain·√(6/(fan_in + fan_out))`; the linear layer keeps PyTorch's `1/√fan_in`.
    #[test]
    fn xavier_leaky_convolutions_scales_convolutions_only() {
        let device = Device::flex();
        let net = ConvThenLinear {
            conv: Conv2dConfig::new([3, 32], [5, 5]).init(&device),
            fc: LinearConfig::new(400, 20).init(&device),
        };
        let net = initialise(
            net,
            InitScheme::XavierLeakyConvolutions,
            &mut component_rng(0, 1),
        );
        let gain = (2.0f32 / (1.0 + 1e-4)).sqrt();
        let bound = gain * (6.0f32 / (3.0 * 25.0 + 32.0 * 25.0)).sqrt();
        let conv = largest(net.conv.weight.val());
        assert!(conv <= bound && conv > 0.98 * bound, "{conv} vs {bound}");
        let fc = net.fc.weight.val().abs().max().into_scalar::<f32>();
        let pytorch = 1.0 / 400f32.sqrt();
        assert!(fc <= pytorch && fc > 0.98 * pytorch, "{fc} vs {pytorch}");
    }
}
