//! flex's convolutions (forward passes stock, gradients patched in vendor/burn-flex,
//! `ops/conv_im2row.rs`) against a direct f64 computation of the same sums, on random shapes:
//! strides, dilations, groups, symmetric and asymmetric padding, odd sizes, transposed
//! convolutions with output padding (also at or above the stride, where the dilation allows
//! it), and shapes large enough to be cut into position tiles; each in rayon pools of 1 and 3
//! threads, since the kernels' blocks follow the thread count. Half the cases add a bias. The
//! loss is `Σ y · G` for a random `G`, so the gradients are `∂/∂x`, `∂/∂w` (and `∂/∂b`) of
//! that sum, through burn's autodiff on flex.

use burn::prelude::*;
use burn::tensor::module::{conv_transpose2d, conv2d};
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::{ThreadPool, ThreadPoolBuilder};

/// Rayon pools of 1 and 3 threads: one image range for the whole batch, and several.
fn pools() -> [ThreadPool; 2] {
    [1, 3].map(|threads| {
        ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
    })
}

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
    /// A plain convolution: stride 1, no dilation, no padding, one group.
    fn new(n: usize, [c_in, c_out]: [usize; 2], size: [usize; 2], kernel: [usize; 2]) -> Self {
        let (stride, dilation, padding, groups) = ([1, 1], [1, 1], [(0, 0); 2], 1);
        Case {
            n,
            c_in,
            c_out,
            size,
            kernel,
            stride,
            dilation,
            padding,
            groups,
        }
    }

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
            // Up to 6 channels a group: one group of at most 4 inputs is flex's small-channel
            // forward path, more its generic one.
            c_in: groups * rng.random_range(1..=6),
            c_out: groups * rng.random_range(1..=6),
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

/// A bias for half the cases: `[channels]`, stored as `[channels, 1, 1, 1]`.
fn random_bias(channels: usize, rng: &mut ChaCha8Rng) -> Option<Array> {
    rng.random_bool(0.5)
        .then(|| Array::random([channels, 1, 1, 1], rng))
}

/// Checks `apply` (a convolution of `x` by `w`, plus `bias` if any, whose output has `g`'s
/// shape) and its gradients of `Σ apply(x, w, b) · g` against the direct sums over `taps`,
/// which calls its argument with the flat (x, w, output) indices of every multiply.
fn check(
    label: &str,
    [x, w, g]: [&Array; 3],
    bias: Option<&Array>,
    taps: impl FnOnce(&mut dyn FnMut(usize, usize, usize)),
    apply: impl FnOnce(Tensor<4>, Tensor<4>, Option<Tensor<1>>) -> Tensor<4>,
) {
    let (mut y, mut dx, mut dw) = (
        Array::zeros(g.dims),
        Array::zeros(x.dims),
        Array::zeros(w.dims),
    );
    let mut db = Array::zeros([g.dims[1], 1, 1, 1]);
    let plane = g.dims[2] * g.dims[3];
    for (yi, (out, grad)) in y.data.iter_mut().zip(&g.data).enumerate() {
        let channel = (yi / plane) % g.dims[1];
        *out = bias.map_or(0.0, |b| b.data[channel]);
        db.data[channel] += grad;
    }
    taps(&mut |xi, wi, yi| {
        y.data[yi] += x.data[xi] * w.data[wi];
        dx.data[xi] += g.data[yi] * w.data[wi];
        dw.data[wi] += g.data[yi] * x.data[xi];
    });
    let device = Device::flex().autodiff();
    let xt = x.tensor(&device).require_grad();
    let wt = w.tensor(&device).require_grad();
    let bt = bias.map(|b| b.tensor(&device).reshape([b.dims[0]]).require_grad());
    let out = apply(xt.clone(), wt.clone(), bt.clone());
    let grads = (out.clone() * g.tensor(&device)).sum().backward();
    let mut errors = vec![
        relative_error(&out.inner(), &y),
        relative_error(&xt.grad(&grads).unwrap(), &dx),
        relative_error(&wt.grad(&grads).unwrap(), &dw),
    ];
    if let Some(bt) = bt {
        let grad = bt.grad(&grads).unwrap().reshape([db.dims[0], 1, 1, 1]);
        errors.push(relative_error(&grad, &db));
    }
    assert!(
        errors.iter().all(|&e| e < TOLERANCE),
        "{label}: forward, ∂x, ∂w (, ∂b) errors {errors:?}"
    );
}

/// conv2d's forward, input gradient and weight gradient against the direct sums.
fn check_conv2d(case: Case, rng: &mut ChaCha8Rng) {
    let [oh, ow] = case.out().unwrap();
    let x = Array::random([case.n, case.c_in, case.size[0], case.size[1]], rng);
    let w = Array::random(case.weight_dims(), rng);
    let g = Array::random([case.n, case.c_out, oh, ow], rng);
    let bias = random_bias(case.c_out, rng);
    let options =
        ConvOptions::new_with_padding(case.stride, case.padding, case.dilation, case.groups);
    check(
        &format!("conv2d {case:?} bias {}", bias.is_some()),
        [&x, &w, &g],
        bias.as_ref(),
        |f| case.for_each_tap(|xi, wi, yi| f(x.at(xi), w.at(wi), g.at(yi))),
        |x, w, b| conv2d(x, w, b, options),
    );
}

/// conv_transpose2d's forward, input gradient and weight gradient against the direct sums of
/// its definition. Here `case` describes the transposed convolution itself: input
/// `[n, c_in, size]`, weight `[c_in, c_out / groups, kh, kw]`, input position `h` reaching
/// output position `h·s − p + i·d` (symmetric padding, `case.padding`'s begin), output size
/// `(size − 1)·s − 2p + d·(k − 1) + 1 + extra`. Returns false, checking nothing, when that size
/// is below 1.
fn check_conv_transpose2d(case: Case, extra: [usize; 2], rng: &mut ChaCha8Rng) -> bool {
    let out_size = |a: usize| {
        let reach = (case.size[a] - 1) * case.stride[a] + case.dilation[a] * (case.kernel[a] - 1);
        (reach + 1 + extra[a]).checked_sub(2 * case.padding[a].0)
    };
    let (Some(oh), Some(ow)) = (out_size(0), out_size(1)) else {
        return false;
    };
    if oh == 0 || ow == 0 {
        return false;
    }
    let (in_g, out_g) = (case.c_in / case.groups, case.c_out / case.groups);
    let x = Array::random([case.n, case.c_in, case.size[0], case.size[1]], rng);
    let w = Array::random([case.c_in, out_g, case.kernel[0], case.kernel[1]], rng);
    let g = Array::random([case.n, case.c_out, oh, ow], rng);
    let bias = random_bias(case.c_out, rng);
    let taps = |f: &mut dyn FnMut(usize, usize, usize)| {
        for (b, ci, co, h, v, i, j) in transposed_taps(&case, in_g, out_g) {
            let oy = (h * case.stride[0] + i * case.dilation[0]).checked_sub(case.padding[0].0);
            let ox = (v * case.stride[1] + j * case.dilation[1]).checked_sub(case.padding[1].0);
            if let (Some(oy), Some(ox)) = (oy, ox)
                && oy < oh
                && ox < ow
            {
                let out_channel = (ci / in_g) * out_g + co;
                f(
                    x.at([b, ci, h, v]),
                    w.at([ci, co, i, j]),
                    g.at([b, out_channel, oy, ox]),
                );
            }
        }
    };
    let padding = [case.padding[0].0, case.padding[1].0];
    let options =
        ConvTransposeOptions::new(case.stride, padding, extra, case.dilation, case.groups);
    check(
        &format!(
            "conv_transpose2d {case:?} +{extra:?} bias {}",
            bias.is_some()
        ),
        [&x, &w, &g],
        bias.as_ref(),
        taps,
        |x, w, b| conv_transpose2d(x, w, b, options),
    );
    true
}

/// Every (batch, input channel, output channel within the group, row, column, tap row, tap
/// column) of a transposed convolution.
fn transposed_taps(
    case: &Case,
    in_g: usize,
    out_g: usize,
) -> impl Iterator<Item = (usize, usize, usize, usize, usize, usize, usize)> {
    let (n, c_in, [h, w], [kh, kw]) = (case.n, in_g * case.groups, case.size, case.kernel);
    (0..n).flat_map(move |b| {
        (0..c_in).flat_map(move |ci| {
            (0..out_g).flat_map(move |co| {
                (0..h).flat_map(move |y| {
                    (0..w).flat_map(move |x| {
                        (0..kh).flat_map(move |i| (0..kw).map(move |j| (b, ci, co, y, x, i, j)))
                    })
                })
            })
        })
    })
}

#[test]
fn conv2d_gradients_match_the_direct_sums_on_random_shapes() {
    let mut rng = ChaCha8Rng::seed_from_u64(18);
    for pool in &pools() {
        for _ in 0..30 {
            let case = random_case(&mut rng);
            pool.install(|| check_conv2d(case, &mut rng));
        }
    }
}

#[test]
fn conv_transpose2d_gradients_match_the_direct_sums_on_random_shapes() {
    let mut rng = ChaCha8Rng::seed_from_u64(81);
    for pool in &pools() {
        let mut checked = 0;
        while checked < 30 {
            let mut case = random_case(&mut rng);
            // burn's transposed convolution pads symmetrically; its output padding must stay
            // below the stride or the dilation.
            case.padding = case.padding.map(|(begin, _)| (begin, begin));
            let extra = [0, 1].map(|a| rng.random_range(0..case.stride[a].max(case.dilation[a])));
            if pool.install(|| check_conv_transpose2d(case, extra, &mut rng)) {
                checked += 1;
            }
        }
    }
}

#[test]
fn an_output_padding_at_the_stride_is_handled() {
    // Stride 1, dilation 2: burn allows an output padding of 1, at the stride.
    let case = Case {
        dilation: [2, 2],
        padding: [(1, 1), (1, 1)],
        groups: 2,
        ..Case::new(3, [4, 6], [5, 7], [3, 3])
    };
    for pool in &pools() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        assert!(pool.install(|| check_conv_transpose2d(case, [1, 1], &mut rng)));
    }
}

#[test]
fn layers_too_large_for_one_position_tile_are_cut_into_tiles() {
    // 64 channels × 8 × 8 taps = 4 096 per receptive field, plus 2 outputs: 1 023 positions fit
    // the 2²² element budget of a block, and 41 × 41 output positions need two tiles.
    let conv = Case {
        padding: [(4, 4), (4, 4)],
        ..Case::new(2, [64, 2], [40, 40], [8, 8])
    };
    assert_eq!(conv.out(), Some([41, 41]));
    // Seen from its output gradient, this transposed convolution reads 64 channels × 8 × 8 taps
    // at each of its 41 × 41 input positions: its weight gradient is cut the same way.
    let transposed = Case {
        c_in: 2,
        c_out: 64,
        size: [41, 41],
        ..conv
    };
    for pool in &pools() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        pool.install(|| {
            check_conv2d(conv, &mut rng);
            assert!(check_conv_transpose2d(transposed, [0, 0], &mut rng));
        });
    }
}

#[test]
fn the_dcgan_layers_of_the_models_match() {
    // The stride-2, kernel-4, padding-1 layers every DCGAN-style network here uses, batch 8.
    let mut rng = ChaCha8Rng::seed_from_u64(32);
    let dcgan = |c_in, c_out, size| Case {
        stride: [2, 2],
        padding: [(1, 1), (1, 1)],
        ..Case::new(8, [c_in, c_out], [size, size], [4, 4])
    };
    for pool in &pools() {
        for (c_in, c_out, size) in [(1, 16, 32), (16, 32, 16), (32, 8, 8)] {
            pool.install(|| {
                check_conv2d(dcgan(c_in, c_out, size), &mut rng);
                assert!(check_conv_transpose2d(
                    dcgan(c_out, c_in, size / 2),
                    [0, 0],
                    &mut rng
                ));
            });
        }
    }
}
