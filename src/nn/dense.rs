//! A dense layer whose output row for a sample has the same bits whatever batch the sample is
//! in: alone, among a few, or among hundreds.
//!
//! Why: the CPU backend's matrix product (the `gemm` crate under burn-flex) sums the `K`
//! input terms of an output in one of three orders, chosen by the batch's size: one running
//! sum for a single row (its matrix-vector path), chunks of at most 512 while both the rows
//! and the outputs number at most 64 (its small-size path), and chunks sized by the L1 cache
//! otherwise. Where `K` is over 512 (LeNet's 3 136 features, a wide WRN's 640) the orders round
//! differently, so a sample scored alone differed from the same sample in a batch (relative
//! 1e-7 to 1e-6): the server, which batches whatever requests are waiting, and `oddity ood
//! score` on a folder whose last chunk holds one image gave slightly other scores for the same
//! image. Padding the input with zero rows always takes the third order, in which a row's sum
//! depends on `K` and the machine only: to 2 rows where the layer has more than 64 outputs
//! (the small-size path is closed to it at any batch), to [`MIN_ROWS`] otherwise.

use burn::nn::Linear;
use burn::prelude::*;

/// Rows a layer of at most 64 outputs gets: more than the matrix product's small-size path
/// takes.
pub const MIN_ROWS: usize = SMALL_SIDE + 1;

/// The largest side (rows, outputs) of the matrix product's small-size path.
const SMALL_SIDE: usize = 64;

/// `layer` applied to `x` `[B, D_in]` → `[B, D_out]`, each row's bits independent of `B` and of
/// the other rows (zero rows pad a small batch; their outputs are dropped, so they take no
/// part in gradients either).
pub fn forward_batch_invariant(layer: &Linear, x: Tensor<2>) -> Tensor<2> {
    let [rows, features] = x.dims();
    let outputs = layer.weight.dims()[1];
    // The output is row-major, so gemm transposes the product: its rows are the outputs, its
    // columns the batch. (A `LinearLayout::Col` weight, a transposed view, could take yet
    // another kernel; no layer here uses one.)
    let min_rows = if outputs > SMALL_SIDE { 2 } else { MIN_ROWS };
    if rows >= min_rows || rows == 0 {
        return layer.forward(x);
    }
    let padding = Tensor::zeros([min_rows - rows, features], &x.device());
    layer
        .forward(Tensor::cat(vec![x, padding], 0))
        .slice([0..rows])
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

    /// LeNet's first dense layer (3 136 → 128) and a wide WRN's head (640 → 10): a row alone,
    /// second of two, and 37th of 100 gives the same bits.
    #[test]
    fn a_row_is_the_same_alone_and_in_any_batch() {
        let device = Device::flex();
        for (d_in, d_out) in [(3136, 128), (640, 10), (8, 4)] {
            let layer = LinearConfig::new(d_in, d_out).init(&device);
            let data: Vec<f32> = (0..100 * d_in)
                .map(|i| ((i * 7919) % 1013) as f32 / 506.0 - 1.0)
                .collect();
            let batch = Tensor::<2>::from_data(TensorData::new(data, [100, d_in]), &device);
            let row = |i: usize| batch.clone().slice([i..i + 1]);
            let all = bits(forward_batch_invariant(&layer, batch.clone()));
            let of_row = |i: usize| all[i * d_out..(i + 1) * d_out].to_vec();
            assert_eq!(
                bits(forward_batch_invariant(&layer, row(36))),
                of_row(36),
                "{d_in} alone"
            );
            let pair = forward_batch_invariant(&layer, Tensor::cat(vec![row(5), row(36)], 0));
            assert_eq!(bits(pair)[d_out..].to_vec(), of_row(36), "{d_in} in a pair");
            let seventy = forward_batch_invariant(&layer, batch.clone().slice([0..70]));
            assert_eq!(
                bits(seventy)[36 * d_out..37 * d_out].to_vec(),
                of_row(36),
                "{d_in} of 70"
            );
            // The padded rows change nothing but the path: the values are the layer's.
            let plain = layer
                .forward(batch.clone())
                .into_data()
                .try_into_vec::<f32>()
                .unwrap();
            let ours = forward_batch_invariant(&layer, row(36))
                .into_data()
                .try_into_vec::<f32>()
                .unwrap();
            for (a, b) in ours.iter().zip(&plain[36 * d_out..37 * d_out]) {
                assert!((a - b).abs() <= 1e-5 * b.abs().max(1.0), "{a} vs {b}");
            }
        }
    }
}
