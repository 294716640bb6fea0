//! Dense products whose output row for a sample has the same bits whatever batch the sample
//! is in: alone, among a few, or among hundreds.
//!
//! Why: the CPU backend's matrix product (the `gemm` crate under burn-flex; the dispatch of
//! gemm-common 0.19's `gemm.rs`, lines 260–352, to re-read on an upgrade) picks its kernel from
//! the sizes of `x [R, K] · W [K, N]`, and the kernels sum the `K` terms of an output in
//! different orders: a "horizontal" kernel (partial sums in SIMD lanes, then a tree) while
//! `R·N ≤ 256` where an operand lies along `K` in memory (one output, `N = 1`; a transposed
//! weight; the input gradient's `Wᵀ`); matrix-vector kernels for a single row or column;
//! chunks of at most 512 while `R` and `N` are both at most 64 (small sizes); and chunks sized
//! by the L1 cache otherwise. So a sample scored alone differed from the same sample in a batch
//! (relative 1e-7 to 1e-6 where `K` is over 512): the server, which batches whatever requests
//! are waiting, and `oddity score` on a folder whose last chunk holds one sample gave slightly
//! other scores for the same sample. Padding `x` with zero rows to [`min_rows`] leaves one
//! kernel for the product at every batch: the cache-blocked one, whose order depends on `K`
//! and the machine only (for `N = 1`, the row-by-row matrix-vector one from 257 rows on; for
//! `K ≤ 2`, a plain sum per output). The same holds for the input gradient
//! `∂/∂x = g [R, N] · Wᵀ`, with `K` and `N` swapped.
//!
//! Training pads too: some scores take gradients (ODIN's and Mahalanobis's input steps,
//! AnoGAN's latent search), and they run on the same layers with autodiff as training does,
//! so padding only tensors without autodiff would leave them batch-dependent. A training
//! batch of 64 gains one row in a layer whose narrower side (inputs or outputs) is 4 to 64,
//! more where it is narrower (257 rows for one output), none where it is wider.

use burn::nn::Linear;
use burn::prelude::*;

/// The largest side (rows, columns) of the matrix product's small-size path (gemm-common
/// 0.19, `gemm.rs` line 352).
const SMALL_SIDE: usize = 64;

/// The most cells (rows × columns) the matrix product's horizontal kernel takes (gemm-common
/// 0.19, `gemm.rs` line 260).
const HORIZONTAL_CELLS: usize = 256;

/// The rows a product of `inputs` → `outputs` is padded to, so that neither it nor its input
/// gradient takes the small-size or horizontal kernels at any batch.
pub fn min_rows(inputs: usize, outputs: usize) -> usize {
    let narrow = inputs.min(outputs).max(1);
    let past_small = if narrow <= SMALL_SIDE {
        SMALL_SIDE + 1
    } else {
        2
    };
    past_small.max(HORIZONTAL_CELLS / narrow + 1)
}

/// `layer` applied to `x` `[B, D_in]` → `[B, D_out]`, each row's bits independent of `B` and of
/// the other rows (zero rows pad a small batch; their outputs are dropped, so they take no
/// part in gradients either).
pub fn forward_batch_invariant(layer: &Linear, x: Tensor<2>) -> Tensor<2> {
    let [inputs, outputs] = layer.weight.dims();
    with_rows_padded(x, min_rows(inputs, outputs), |x| layer.forward(x))
}

/// `x` `[B, K]` times `weight` `[K, N]` (stored either way round) → `[B, N]`, each row's bits
/// independent of `B`, as [`forward_batch_invariant`].
pub fn matmul_batch_invariant(x: Tensor<2>, weight: Tensor<2>) -> Tensor<2> {
    let [inputs, outputs] = weight.dims();
    with_rows_padded(x, min_rows(inputs, outputs), |x| x.matmul(weight))
}

/// `product` of `x` padded with zero rows to `min_rows`, the padding's rows dropped from the
/// result.
fn with_rows_padded(
    x: Tensor<2>,
    min_rows: usize,
    product: impl FnOnce(Tensor<2>) -> Tensor<2>,
) -> Tensor<2> {
    let [rows, features] = x.dims();
    if rows >= min_rows || rows == 0 {
        return product(x);
    }
    let padding = Tensor::zeros([min_rows - rows, features], &x.device());
    product(Tensor::cat(vec![x, padding], 0)).slice([0..rows])
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::LinearConfig;

    fn bits(t: Tensor<2>) -> Vec<u32> {
        t.into_data()
            .try_into_vec::<f32>()
            .unwrap()
            .into_iter()
            .map(f32::to_bits)
            .collect()
    }

    /// `n` rows of `d` deterministic values in [−1, 1).
    fn rows(n: usize, d: usize, device: &Device) -> Tensor<2> {
        let data: Vec<f32> = (0..n * d)
            .map(|i| ((i * 7919) % 1013) as f32 / 506.0 - 1.0)
            .collect();
        Tensor::<2>::from_data(TensorData::new(data, [n, d]), device)
    }

    /// `product` gives row 36 of 400 the same bits alone, second of a pair, 37th of 70 and of
    /// 300 (every kernel's range of batch sizes), and within rounding of the plain product.
    fn check_rows(name: &str, d_in: usize, product: impl Fn(Tensor<2>) -> Tensor<2>) {
        let device = Device::flex();
        let batch = rows(400, d_in, &device);
        let row = |i: usize| batch.clone().slice([i..i + 1]);
        let all = bits(product(batch.clone()));
        let d_out = all.len() / 400;
        let expected = all[36 * d_out..37 * d_out].to_vec();
        let at = |t: Tensor<2>, i: usize| bits(t)[i * d_out..(i + 1) * d_out].to_vec();
        assert_eq!(at(product(row(36)), 0), expected, "{name}: alone");
        let pair = Tensor::cat(vec![row(5), row(36)], 0);
        assert_eq!(at(product(pair), 1), expected, "{name}: in a pair");
        for n in [70, 300] {
            let first = batch.clone().slice([0..n]);
            assert_eq!(at(product(first), 36), expected, "{name}: of {n}");
        }
    }

    /// Products of every shape the detectors use: wide (LeNet's 3 136 → 128), a WRN's head
    /// (640 → 10), small (8 → 4), one output (600 → 1), few inputs (64 → 128), a transposed
    /// weight with few outputs (OC-SVM's support vectors, 600 → 3), and the same layers' input
    /// gradients (ODIN's, AnoGAN's).
    #[test]
    fn a_row_is_the_same_alone_and_in_any_batch() {
        let device = Device::flex();
        for (d_in, d_out) in [(3136, 128), (640, 10), (8, 4), (600, 1), (64, 128)] {
            let layer = LinearConfig::new(d_in, d_out).init(&device);
            let name = format!("{d_in} → {d_out}");
            check_rows(&name, d_in, |x| forward_batch_invariant(&layer, x));
            // The padded rows change nothing but the kernel: the values are the layer's.
            let batch = rows(100, d_in, &device);
            let plain = layer
                .forward(batch.clone())
                .into_data()
                .try_into_vec::<f32>()
                .unwrap();
            let ours = forward_batch_invariant(&layer, batch.slice([36..37]))
                .into_data()
                .try_into_vec::<f32>()
                .unwrap();
            for (a, b) in ours.iter().zip(&plain[36 * d_out..37 * d_out]) {
                assert!((a - b).abs() <= 1e-5 * b.abs().max(1.0), "{a} vs {b}");
            }
            let weight = layer.weight.val();
            check_rows(&format!("{name} product"), d_in, |x| {
                matmul_batch_invariant(x, weight.clone())
            });
            let trainable = LinearConfig::new(d_in, d_out).init(&device.clone().autodiff());
            check_rows(&format!("{name} input gradient"), d_in, |x| {
                let x = Tensor::<2>::from_data(x.into_data(), &device.clone().autodiff())
                    .require_grad();
                let y = forward_batch_invariant(&trainable, x.clone());
                let grads = y.tanh().sum().backward();
                x.grad(&grads).unwrap()
            });
        }
        let support = rows(3, 600, &device);
        check_rows("600 → 3 transposed", 600, |x| {
            matmul_batch_invariant(x, support.clone().transpose())
        });
    }
}
