//! Per-layer timing of the DCGAN-32 convolutions on flex (forward, forward + backward), batch 64;
//! the PyTorch counterpart is bench/reference/conv_layers.py. See docs/perf-log.md, entry 2.

use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2dConfig, ConvTranspose2dConfig};
use burn::prelude::*;
use std::time::Instant;

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
    let dev = Device::flex();
    let ad = dev.clone().autodiff();
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
    for (name, cin, cout, s, tr, s2) in layers {
        let x = Tensor::<4>::random(
            [b, cin, s, s],
            burn::tensor::Distribution::Normal(0.0, 1.0),
            &dev,
        );
        let (fwd, bwd) = if !tr {
            let mut c = Conv2dConfig::new([cin, cout], [4, 4]).with_bias(false);
            if s2 {
                c = c
                    .with_stride([2, 2])
                    .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1));
            }
            let m = c.init(&dev);
            let ma = c.init(&ad);
            let f = time(|| {
                m.forward(x.clone()).into_data();
            });
            let xa = Tensor::<4>::from_data(x.to_data(), &ad).require_grad();
            let g = time(|| {
                let y = ma.forward(xa.clone());
                let _ = y.sum().backward();
            });
            (f, g)
        } else {
            let mut c = ConvTranspose2dConfig::new([cin, cout], [4, 4]).with_bias(false);
            if s2 {
                c = c.with_stride([2, 2]).with_padding([1, 1]);
            }
            let m = c.init(&dev);
            let ma = c.init(&ad);
            let f = time(|| {
                m.forward(x.clone()).into_data();
            });
            let xa = Tensor::<4>::from_data(x.to_data(), &ad).require_grad();
            let g = time(|| {
                let y = ma.forward(xa.clone());
                let _ = y.sum().backward();
            });
            (f, g)
        };
        println!("{name:28} fwd {fwd:7.2} ms  fwd+bwd {bwd:7.2} ms");
    }
}
