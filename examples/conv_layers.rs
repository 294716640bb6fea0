//! Per-layer, per-kernel timing of the DCGAN-32 convolutions on flex, batch 64: the forward pass
//! alone, then the forward pass with the input gradient only, with the weight gradient only, and
//! with both (functional convolutions through autodiff, only the named tensor requiring a
//! gradient). The PyTorch counterpart, same layers and columns, is bench/reference/conv_layers.py.
//! See docs/perf-log.md, entries 2 and 7.
//!
//!     RAYON_NUM_THREADS=2 cargo run --release --example conv_layers
//!
//! `ONLY=dec.p1` times the layers whose name starts with it (for a profiler).

use burn::prelude::*;
use burn::tensor::Distribution;
use burn::tensor::module::{conv_transpose2d, conv2d};
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};
use std::time::Instant;

/// Best of five runs after two warm-ups, in milliseconds.
fn time<F: FnMut()>(mut f: F) -> f64 {
    for _ in 0..2 {
        f();
    }
    let mut best = f64::MAX;
    for _ in 0..5 {
        let s = Instant::now();
        f();
        best = best.min(s.elapsed().as_secs_f64());
    }
    best * 1e3
}

fn main() {
    let ad = Device::flex().autodiff();
    let b = 64;
    // (name, cin, cout, in_size, transposed, stride2)
    let layers = [
        ("enc.first 1->64 32->16", 1, 64, 32, false, true),
        ("enc.p0 64->128 16->8", 64, 128, 16, false, true),
        ("enc.p1 128->256 8->4", 128, 256, 8, false, true),
        ("enc.last 256->100 4->1", 256, 100, 4, false, false),
        ("dec.p0 100->256 1->4", 100, 256, 1, true, false),
        ("dec.p1 256->128 4->8", 256, 128, 4, true, true),
        ("dec.p2 128->64 8->16", 128, 64, 8, true, true),
        ("dec.last 64->1 16->32", 64, 1, 16, true, true),
    ];
    println!(
        "{:28} {:>8} {:>8} {:>8} {:>9}  (ms)",
        "layer", "fwd", "dx", "dw", "fwd+both"
    );
    let only = std::env::var("ONLY").unwrap_or_default();
    for (name, cin, cout, s, transposed, stride2) in layers {
        if !name.starts_with(&only) {
            continue;
        }
        let (stride, pad) = if stride2 { (2, 1) } else { (1, 0) };
        let x = Tensor::<4>::random([b, cin, s, s], Distribution::Normal(0.0, 1.0), &ad);
        let w_dims = if transposed {
            [cin, cout, 4, 4]
        } else {
            [cout, cin, 4, 4]
        };
        let w = Tensor::<4>::random(w_dims, Distribution::Normal(0.0, 0.05), &ad);
        let apply = |x: Tensor<4>, w: Tensor<4>| {
            if transposed {
                let options = ConvTransposeOptions::new([stride; 2], [pad; 2], [0; 2], [1; 2], 1);
                conv_transpose2d(x, w, None, options)
            } else {
                conv2d(
                    x,
                    w,
                    None,
                    ConvOptions::new([stride; 2], [pad; 2], [1; 2], 1),
                )
            }
        };
        let forward = time(|| {
            apply(x.clone(), w.clone()).into_data();
        });
        let with = |grad_x: bool, grad_w: bool| {
            time(|| {
                let xg = if grad_x {
                    x.clone().require_grad()
                } else {
                    x.clone()
                };
                let wg = if grad_w {
                    w.clone().require_grad()
                } else {
                    w.clone()
                };
                let _ = apply(xg, wg).sum().backward();
            })
        };
        let (with_dx, with_dw, both) = (with(true, false), with(false, true), with(true, true));
        println!(
            "{name:28} {forward:8.2} {:8.2} {:8.2} {both:9.2}",
            with_dx - forward,
            with_dw - forward
        );
    }
}
