//! The patched flex convolution backward (vendor/burn-flex, `ops/conv_backward.rs`) against a
//! direct f64 computation of the same sums, on random shapes: strides, dilations, groups,
//! symmetric and asymmetric padding, odd sizes, transposed convolutions with output padding,
//! and one shape large enough to be cut into position tiles. The loss is `Σ y · G` for a random
//! `G`, so the gradients are `∂/∂x` and `∂/∂w` of that sum, through burn's autodiff on flex.

use burn::prelude::*;
use burn::tensor::module::{conv_transpose2d, conv2d};
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Row-major 4-D array in f64, the reference's storage.
struct Array {
    dims: [usize; 4],
    data: Vec<f64>,
}

impl Array {
    fn zeros(dims: [usize; 4]) -> Self {
        Self {
            dims,
            data: vec![0.0; dims.iter().product()],
        }
    }

    fn random(dims: [usize; 4], rng: &mut ChaCha8Rng) -> Self {
        let data = (0..dims.iter().product())
            .map(|_| rng.random_range(-1.0..1.0))
            .collect();
        Self { dims, data }
    }

    fn at(&self, [a, b, c, d]: [usize; 4]) -> usize {
        ((a * self.dims[1] + b) * self.dims[2] + c) * self.dims[3] + d
    }

    fn tensor(&self, device: &Device) -> Tensor<4> {
        let values: Vec<f32> = self.data.iter().map(|&v| v as f32).collect();
        Tensor::<1>::from_floats(values.as_slice(), device).reshape(self.dims)
    }
}

/// A convolution's geometry: input `[n, c_in, h, w]`, weight `[c_out, c_in / groups, kh, kw]`.
#[derive(Clone, Copy, Debug)]
struct Case {
    n: usize,
    c_in: usize,
    c_out: usize,
    size: [usize; 2],
    kernel: [usize; 2],
    stride: [usize; 2],
    dilation: [usize; 2],
    /// (begin, end) per axis.
    padding: [(usize, usize); 2],
    groups: usize,
}

impl Case {
    /// The weight's shape, `[c_out, c_in / groups, kh, kw]`.
    fn weight_dims(&self) -> [usize; 4] {
        [
            self.c_out,
            self.c_in / self.groups,
            self.kernel[0],
            self.kernel[1],
        ]
    }

    /// The output size of the convolution, or None when the kernel does not fit.
    fn out(&self) -> Option<[usize; 2]> {
        let axis = |a: usize| {
            let span = self.dilation[a] * (self.kernel[a] - 1) + 1;
            let padded = self.size[a] + self.padding[a].0 + self.padding[a].1;
            (padded >= span).then(|| (padded - span) / self.stride[a] + 1)
        };
        Some([axis(0)?, axis(1)?])
    }

    /// Calls `f(input index, weight index, output index)` for every multiply of the convolution
    /// (input `[n, c_in, ..]`, weight `[c_out, c_in / groups, ..]`, output `[n, c_out, ..]`).
    fn for_each_tap(&self, mut f: impl FnMut([usize; 4], [usize; 4], [usize; 4])) {
        let [oh, ow] = self.out().unwrap();
        let (in_g, out_g) = (self.c_in / self.groups, self.c_out / self.groups);
        for b in 0..self.n {
            for co in 0..self.c_out {
                let group = co / out_g;
                for y in 0..oh {
                    for x in 0..ow {
                        for ci in 0..in_g {
                            for i in 0..self.kernel[0] {
                                for j in 0..self.kernel[1] {
                                    let ih = (y * self.stride[0] + i * self.dilation[0]) as isize
                                        - self.padding[0].0 as isize;
                                    let iw = (x * self.stride[1] + j * self.dilation[1]) as isize
                                        - self.padding[1].0 as isize;
                                    let inside = ih >= 0
                                        && iw >= 0
                                        && (ih as usize) < self.size[0]
                                        && (iw as usize) < self.size[1];
                                    if inside {
                                        f(
                                            [b, group * in_g + ci, ih as usize, iw as usize],
                                            [co, ci, i, j],
                                            [b, co, y, x],
                                        );
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn random_case(rng: &mut ChaCha8Rng) -> Case {
    loop {
        let groups = rng.random_range(1..=3);
        let case = Case {
            n: rng.random_range(1..=5),
            c_in: groups * rng.random_range(1..=4),
            c_out: groups * rng.random_range(1..=4),
            size: [rng.random_range(1..=11), rng.random_range(1..=11)],
            kernel: [rng.random_range(1..=4), rng.random_range(1..=4)],
            stride: [rng.random_range(1..=3), rng.random_range(1..=3)],
            dilation: [rng.random_range(1..=2), rng.random_range(1..=2)],
            padding: [
                (rng.random_range(0..=2), rng.random_range(0..=2)),
                (rng.random_range(0..=2), rng.random_range(0..=2)),
            ],
            groups,
        };
        if case.out().is_some() {
            return case;
        }
    }
}

/// Largest |a − b| relative to the largest |b| (at least 1).
fn relative_error(actual: &Tensor<4>, expected: &Array) -> f64 {
    let actual = actual.to_data().try_into_vec::<f32>().unwrap();
    assert_eq!(actual.len(), expected.data.len());
    let scale = expected.data.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    let worst = actual
        .iter()
        .zip(&expected.data)
        .fold(0.0f64, |m, (a, e)| m.max((*a as f64 - e).abs()));
    worst / scale
}

const TOLERANCE: f64 = 1e-5;

/// Checks `apply` (a convolution of `x` by `w` whose output has `g`'s shape) and its two
/// gradients of `Σ apply(x, w) · g` against the direct sums over `taps`, which calls its
/// argument with the flat (x, w, output) indices of every multiply.
fn check(
    label: &str,
    [x, w, g]: [&Array; 3],
    taps: impl FnOnce(&mut dyn FnMut(usize, usize, usize)),
    apply: impl FnOnce(Tensor<4>, Tensor<4>) -> Tensor<4>,
) {
    let (mut y, mut dx, mut dw) = (
        Array::zeros(g.dims),
        Array::zeros(x.dims),
        Array::zeros(w.dims),
    );
    taps(&mut |xi, wi, yi| {
        y.data[yi] += x.data[xi] * w.data[wi];
        dx.data[xi] += g.data[yi] * w.data[wi];
        dw.data[wi] += g.data[yi] * x.data[xi];
    });
    let device = Device::flex().autodiff();
    let xt = x.tensor(&device).require_grad();
    let wt = w.tensor(&device).require_grad();
    let out = apply(xt.clone(), wt.clone());
    let grads = (out.clone() * g.tensor(&device)).sum().backward();
    let errors = [
        relative_error(&out.inner(), &y),
        relative_error(&xt.grad(&grads).unwrap(), &dx),
        relative_error(&wt.grad(&grads).unwrap(), &dw),
    ];
    assert!(
        errors.iter().all(|&e| e < TOLERANCE),
        "{label}: forward, ∂x, ∂w errors {errors:?}"
    );
}

/// conv2d's forward, input gradient and weight gradient against the direct sums.
fn check_conv2d(case: Case, rng: &mut ChaCha8Rng) {
    let [oh, ow] = case.out().unwrap();
    let x = Array::random([case.n, case.c_in, case.size[0], case.size[1]], rng);
    let w = Array::random(case.weight_dims(), rng);
    let g = Array::random([case.n, case.c_out, oh, ow], rng);
    let options =
        ConvOptions::new_with_padding(case.stride, case.padding, case.dilation, case.groups);
    check(
        &format!("conv2d {case:?}"),
        [&x, &w, &g],
        |f| case.for_each_tap(|xi, wi, yi| f(x.at(xi), w.at(wi), g.at(yi))),
        |x, w| conv2d(x, w, None, options),
    );
}

/// conv_transpose2d's forward, input gradient and weight gradient against the direct sums: the
/// transposed convolution of `case` maps `case`'s output shape back onto its input shape, with
/// `extra` rows and columns of output padding.
fn check_conv_transpose2d(case: Case, extra: [usize; 2], rng: &mut ChaCha8Rng) {
    let [oh, ow] = case.out().unwrap();
    let size = [case.size[0] + extra[0], case.size[1] + extra[1]];
    // Transposed: input [n, c_out, oh, ow], weight [c_out, c_in / groups, ..], output [n, c_in, size].
    let x = Array::random([case.n, case.c_out, oh, ow], rng);
    let w = Array::random(case.weight_dims(), rng);
    let g = Array::random([case.n, case.c_in, size[0], size[1]], rng);
    let padded = Case { size, ..case };
    assert_eq!(
        padded.out(),
        case.out(),
        "an output padding below the stride keeps the output size"
    );
    let padding = [case.padding[0].0, case.padding[1].0];
    let options =
        ConvTransposeOptions::new(case.stride, padding, extra, case.dilation, case.groups);
    // Each tap of the convolution (its input = our output, its output = our input) is one
    // multiply of the transposed convolution. The convolution's weight index [co, ci, i, j]
    // is the transposed weight's [co (its input channel), ci, i, j].
    check(
        &format!("conv_transpose2d {case:?} +{extra:?}"),
        [&x, &w, &g],
        |f| padded.for_each_tap(|big, wi, small| f(x.at(small), w.at(wi), g.at(big))),
        |x, w| conv_transpose2d(x, w, None, options),
    );
}

#[test]
fn conv2d_gradients_match_the_direct_sums_on_random_shapes() {
    let mut rng = ChaCha8Rng::seed_from_u64(18);
    for _ in 0..60 {
        let case = random_case(&mut rng);
        check_conv2d(case, &mut rng);
    }
}

#[test]
fn conv_transpose2d_gradients_match_the_direct_sums_on_random_shapes() {
    let mut rng = ChaCha8Rng::seed_from_u64(81);
    let mut checked = 0;
    while checked < 60 {
        let mut case = random_case(&mut rng);
        // burn's transposed convolution pads symmetrically.
        case.padding = case.padding.map(|(begin, _)| (begin, begin));
        let Some([oh, ow]) = case.out() else { continue };
        // The transposed output is (o − 1)·s − 2p + d·(k − 1) + 1 + extra; keep it at the
        // convolution's input size plus an output padding below the stride.
        let natural = |a: usize, o: usize| {
            (o - 1) * case.stride[a] + case.dilation[a] * (case.kernel[a] - 1) + 1
        };
        let (nh, nw) = (natural(0, oh), natural(1, ow));
        if nh < 2 * case.padding[0].0 + 1 || nw < 2 * case.padding[1].0 + 1 {
            continue;
        }
        case.size = [nh - 2 * case.padding[0].0, nw - 2 * case.padding[1].0];
        let extra = [
            rng.random_range(0..case.stride[0]),
            rng.random_range(0..case.stride[1]),
        ];
        check_conv_transpose2d(case, extra, &mut rng);
        checked += 1;
    }
}

#[test]
fn a_layer_too_large_for_one_position_tile_is_cut_into_tiles() {
    // 64 channels × 8 × 8 taps = 4 096 per receptive field; 41 × 41 output positions pass the
    // 2²² element budget of one tile (1 024 positions), so two tiles are summed.
    let case = Case {
        n: 1,
        c_in: 64,
        c_out: 2,
        size: [40, 40],
        kernel: [8, 8],
        stride: [1, 1],
        dilation: [1, 1],
        padding: [(4, 4), (4, 4)],
        groups: 1,
    };
    assert_eq!(case.out(), Some([41, 41]));
    check_conv2d(case, &mut ChaCha8Rng::seed_from_u64(4));
}

#[test]
fn the_dcgan_layers_of_the_models_match() {
    // The stride-2, kernel-4, padding-1 layers every DCGAN-style network here uses, batch 8.
    let mut rng = ChaCha8Rng::seed_from_u64(32);
    for (c_in, c_out, size) in [(1, 16, 32), (16, 32, 16), (32, 8, 8)] {
        let case = Case {
            n: 8,
            c_in,
            c_out,
            size: [size, size],
            kernel: [4, 4],
            stride: [2, 2],
            dilation: [1, 1],
            padding: [(1, 1), (1, 1)],
            groups: 1,
        };
        check_conv2d(case, &mut rng);
        check_conv_transpose2d(case, [0, 0], &mut rng);
    }
}
