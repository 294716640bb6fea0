//! Spectral normalisation (Miyato et al., ICLR 2018) of linear and convolution layers, as ALAD's
//! discriminators use it: the weight is divided by its largest singular value σ, estimated by
//! one power iteration per training pass from a persistent vector u (TensorFlow's `sn.py`:
//! `v = ‖W u‖⁻¹·W u`, `u ← ‖Wᵀ v‖⁻¹·Wᵀ v`, `σ = vᵀ W u`, with u and v held constant in the
//! gradient). Evaluation passes use the stored u without updating it.

use super::dense::{forward_batch_invariant, matmul_batch_invariant};
use burn::module::RunningState;
use burn::nn::conv::Conv2d;
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use rand_chacha::ChaCha8Rng;

use super::init::standard_normal;

fn normalise(t: Tensor<1>) -> Tensor<1> {
    let norm = t.clone().powi_scalar(2).sum().sqrt().add_scalar(1e-12);
    t / norm
}

/// One power iteration on `w` (`[in, out]`, held constant) from the stored u (`[out]`):
/// returns `w / σ(w)` with σ differentiable in `w`; updates u when `training`.
fn spectrally_normalised(w: Tensor<2>, u: &RunningState<Tensor<1>>, training: bool) -> Tensor<2> {
    let [input, out] = w.dims();
    let w_const = w.clone().detach();
    let u_old = u.value_sync().to_device(&w.device()).detach();
    let v = normalise(
        w_const
            .clone()
            .matmul(u_old.reshape([out, 1]))
            .reshape([input]),
    );
    let u_new = normalise(
        w_const
            .transpose()
            .matmul(v.clone().reshape([input, 1]))
            .reshape([out]),
    );
    if training {
        u.update(u_new.clone());
    }
    let sigma = v
        .reshape([1, input])
        .matmul(w.clone())
        .matmul(u_new.reshape([out, 1]));
    w / sigma.reshape([1, 1])
}

/// A unit vector of `n` standard-normal draws: the power iteration's start.
fn initial_u(n: usize, device: &Device, rng: &mut ChaCha8Rng) -> RunningState<Tensor<1>> {
    let u: Vec<f32> = (0..n).map(|_| standard_normal(rng)).collect();
    RunningState::new(normalise(Tensor::from_data(
        TensorData::new(u, [n]),
        device,
    )))
}

/// A linear layer whose weight is spectrally normalised.
#[derive(Module, Debug)]
pub struct SpectralLinear {
    linear: Linear,
    /// The power iteration's left vector, `[out]`.
    u: RunningState<Tensor<1>>,
}

impl SpectralLinear {
    /// Wrap `linear`, drawing u from `rng`.
    pub fn new(linear: Linear, rng: &mut ChaCha8Rng) -> Self {
        let [_, out] = linear.weight.dims();
        let u = initial_u(out, &linear.weight.device(), rng);
        SpectralLinear { linear, u }
    }

    /// The weight divided by its estimated spectral norm; one power iteration updates u when
    /// `training`.
    pub fn normalised_weight(&self, training: bool) -> Tensor<2> {
        // burn's Linear stores W as [in, out]: y = x·W + b.
        spectrally_normalised(self.linear.weight.val(), &self.u, training)
    }

    /// `x·W/σ(W) + b`.
    pub fn forward(&self, x: Tensor<2>, training: bool) -> Tensor<2> {
        let y = matmul_batch_invariant(x, self.normalised_weight(training));
        match &self.linear.bias {
            Some(b) => y + b.val().unsqueeze(),
            None => y,
        }
    }
}

/// A 2-d convolution whose kernel is spectrally normalised as TensorFlow's `sn.conv2d` does it:
/// σ is the largest singular value of the kernel reshaped to `[in·kh·kw, out]`. Stride,
/// padding (including `Same`), dilation and groups are the wrapped convolution's.
#[derive(Module, Debug)]
pub struct SpectralConv2d {
    conv: Conv2d,
    /// The power iteration's left vector, `[out]`.
    u: RunningState<Tensor<1>>,
}

impl SpectralConv2d {
    /// Wrap `conv`, drawing u from `rng`.
    pub fn new(conv: Conv2d, rng: &mut ChaCha8Rng) -> Self {
        let out = conv.weight.dims()[0];
        let u = initial_u(out, &conv.weight.device(), rng);
        SpectralConv2d { conv, u }
    }

    /// The kernel `[out, in, kh, kw]` divided by its estimated spectral norm.
    pub fn normalised_weight(&self, training: bool) -> Tensor<4> {
        let w = self.conv.weight.val();
        let [out, input, kh, kw] = w.dims();
        let flat = w.reshape([out, input * kh * kw]).transpose();
        spectrally_normalised(flat, &self.u, training)
            .transpose()
            .reshape([out, input, kh, kw])
    }

    /// Convolve `x` with the normalised kernel; `training` advances the power iteration.
    pub fn forward(&self, x: Tensor<4>, training: bool) -> Tensor<4> {
        let [_, _, height, width] = x.dims();
        let c = &self.conv;
        let rows = padding_pair(&c.padding, 0, height, c.kernel_size[0], c.stride[0]);
        let cols = padding_pair(&c.padding, 1, width, c.kernel_size[1], c.stride[1]);
        conv2d(
            x,
            self.normalised_weight(training),
            c.bias.as_ref().map(|b| b.val()),
            ConvOptions::new_with_padding(c.stride, [rows, cols], c.dilation, c.groups),
        )
    }
}

/// A linear layer with or without spectral normalisation (the dense twin of [`Conv2dLayer`]).
#[derive(Module, Debug)]
pub enum LinearLayer {
    /// `x·W + b`.
    Plain(Linear),
    /// `x·W/σ(W) + b`.
    Spectral(SpectralLinear),
}

impl LinearLayer {
    /// Build `input → output`, spectrally normalised when asked (u drawn from `rng`).
    pub fn new(
        input: usize,
        output: usize,
        spectral: bool,
        device: &Device,
        rng: &mut ChaCha8Rng,
    ) -> Self {
        let linear = LinearConfig::new(input, output).init(device);
        if spectral {
            LinearLayer::Spectral(SpectralLinear::new(linear, rng))
        } else {
            LinearLayer::Plain(linear)
        }
    }

    /// One pass; `training` lets spectral normalisation update its power iteration.
    pub fn forward(&self, x: Tensor<2>, training: bool) -> Tensor<2> {
        match self {
            LinearLayer::Plain(l) => forward_batch_invariant(l, x),
            LinearLayer::Spectral(l) => l.forward(x, training),
        }
    }
}

/// (before, after) zero padding of one spatial axis (0 rows, 1 columns), as burn's `Conv2d`
/// computes it (its own helper is private): `Same` pads like TensorFlow, the extra row after.
fn padding_pair(
    padding: &PaddingConfig2d,
    axis: usize,
    size: usize,
    kernel: usize,
    stride: usize,
) -> (usize, usize) {
    match *padding {
        PaddingConfig2d::Valid => (0, 0),
        PaddingConfig2d::Same => {
            let needed = (size.div_ceil(stride).max(1) - 1) * stride + kernel;
            let total = needed.saturating_sub(size);
            (total / 2, total - total / 2)
        }
        PaddingConfig2d::Explicit(top, left, bottom, right) => {
            if axis == 0 {
                (top, bottom)
            } else {
                (left, right)
            }
        }
    }
}

/// A convolution with or without spectral normalisation (ALAD's `--sn` switch, f-AnoGAN's
/// option).
#[derive(Module, Debug)]
pub enum Conv2dLayer {
    /// A plain convolution.
    Plain(Conv2d),
    /// A spectrally normalised one.
    Spectral(SpectralConv2d),
}

impl Conv2dLayer {
    /// `conv`, spectrally normalised when `spectral` (u drawn from `rng`).
    pub fn new(conv: Conv2d, spectral: bool, rng: &mut ChaCha8Rng) -> Self {
        if spectral {
            Conv2dLayer::Spectral(SpectralConv2d::new(conv, rng))
        } else {
            Conv2dLayer::Plain(conv)
        }
    }

    /// One pass; `training` advances spectral normalisation's power iteration.
    pub fn forward(&self, x: Tensor<4>, training: bool) -> Tensor<4> {
        match self {
            Conv2dLayer::Plain(c) => c.forward(x),
            Conv2dLayer::Spectral(c) => c.forward(x, training),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::LinearConfig;
    use rand::SeedableRng;

    /// After enough power iterations the normalised weight has spectral norm 1: for a diagonal
    /// weight diag(3, 1, 0.5) it is diag(1, 1/3, 1/6).
    #[test]
    fn normalised_weight_has_unit_spectral_norm() {
        let device = Device::flex();
        let mut linear = LinearConfig::new(3, 3).with_bias(false).init(&device);
        linear.weight = burn::module::Param::from_tensor(Tensor::from_floats(
            [[3.0f32, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.5]],
            &device,
        ));
        let sn = SpectralLinear::new(linear, &mut ChaCha8Rng::seed_from_u64(0));
        for _ in 0..30 {
            sn.normalised_weight(true);
        }
        let w: Vec<f32> = sn
            .normalised_weight(false)
            .into_data()
            .try_into_vec::<f32>()
            .unwrap();
        let expected = [1.0, 0.0, 0.0, 0.0, 1.0 / 3.0, 0.0, 0.0, 0.0, 1.0 / 6.0];
        for (a, b) in w.iter().zip(expected) {
            assert!((a - b).abs() < 1e-4, "{w:?}");
        }
    }

    /// The convolution's kernel is normalised by the spectral norm of its `[in·k·k, out]`
    /// matrix, and its pass is the plain convolution with that kernel: a 1×1 kernel
    /// diag(3, 1, 0.5) becomes diag(1, 1/3, 1/6), so the channels of x scale by those.
    #[test]
    fn spectral_convolution_divides_the_kernel_by_its_largest_singular_value() {
        let device = Device::flex();
        let conv = burn::nn::conv::Conv2dConfig::new([3, 3], [1, 1]).init(&device);
        let mut sn = SpectralConv2d::new(conv, &mut ChaCha8Rng::seed_from_u64(1));
        sn.conv.weight = burn::module::Param::from_tensor(
            Tensor::<2>::from_floats(
                [[3.0f32, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.5]],
                &device,
            )
            .reshape([3, 3, 1, 1]),
        );
        sn.conv.bias = None;
        let x = Tensor::<4>::ones([1, 3, 2, 2], &device);
        for _ in 0..30 {
            sn.forward(x.clone(), true);
        }
        let y: Vec<f32> = sn
            .forward(x, false)
            .into_data()
            .try_into_vec::<f32>()
            .unwrap();
        let expected = [1.0, 1.0 / 3.0, 1.0 / 6.0];
        for (i, v) in y.iter().enumerate() {
            assert!((v - expected[i / 4]).abs() < 1e-4, "{y:?}");
        }
    }

    /// With `Same` padding at stride 2 and a 5×5 kernel the spectral convolution is exactly
    /// burn's convolution run with the normalised kernel (same padding, same output).
    #[test]
    fn spectral_convolution_pads_as_the_plain_one() {
        use burn::nn::conv::Conv2dConfig;
        let device = Device::flex();
        let conv = Conv2dConfig::new([2, 3], [5, 5])
            .with_stride([2, 2])
            .with_padding(PaddingConfig2d::Same)
            .init(&device);
        let sn = SpectralConv2d::new(conv.clone(), &mut ChaCha8Rng::seed_from_u64(2));
        let mut plain = conv;
        plain.weight = burn::module::Param::from_tensor(sn.normalised_weight(false));
        let x = Tensor::<4>::random([2, 2, 9, 8], burn::tensor::Distribution::Default, &device);
        let a = sn.forward(x.clone(), false);
        let b = plain.forward(x);
        assert_eq!(a.dims(), [2, 3, 5, 4]);
        let diff: f32 = (a - b).abs().max().into_scalar();
        assert!(diff < 1e-5, "{diff}");
    }
}
