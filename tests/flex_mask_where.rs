//! The patched flex `mask_where` (vendor/burn-flex, `ops/mask.rs`: a bit blend in place of a
//! branch per element) against a direct selection, on random masks: both in-place paths (the
//! tensor reused, or the value reused), for f32, f64, f16, bf16 and integer elements (the
//! blend's 32-, 64- and 16-bit forms), and through autodiff
//! as burn's default `leaky_relu`, whose forward and gradient are recorded `mask_where`s.

use burn::prelude::*;
use burn::tensor::activation::leaky_relu;
use burn::tensor::{DType, TensorData};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const LEN: usize = 10_007;

/// Random operands and a random mask: `(tensor, mask, value)`.
fn case(rng: &mut ChaCha8Rng) -> (Vec<f32>, Vec<bool>, Vec<f32>) {
    let tensor: Vec<f32> = (0..LEN).map(|_| rng.random_range(-1.0..1.0)).collect();
    let value: Vec<f32> = (0..LEN).map(|_| rng.random_range(-1.0..1.0)).collect();
    let mask: Vec<bool> = (0..LEN).map(|_| rng.random_bool(0.5)).collect();
    (tensor, mask, value)
}

fn floats(values: &[f32], dtype: DType, device: &Device) -> Tensor<1> {
    Tensor::<1>::from_data(TensorData::new(values.to_vec(), [LEN]), device).cast(dtype)
}

fn selected(t: Tensor<1>) -> Vec<f64> {
    t.cast(DType::F64)
        .into_data()
        .try_into_vec::<f64>()
        .unwrap()
}

#[test]
fn mask_where_selects_on_both_in_place_paths() {
    let device = Device::flex();
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    for dtype in [DType::F32, DType::F64, DType::F16, DType::BF16] {
        let (tensor, mask, value) = case(&mut rng);
        // The operands as stored in `dtype` (rounded for the 16-bit types), then selected.
        let (t_stored, v_stored) = (
            selected(floats(&tensor, dtype, &device)),
            selected(floats(&value, dtype, &device)),
        );
        let expected: Vec<f64> = (0..LEN)
            .map(|i| if mask[i] { v_stored[i] } else { t_stored[i] })
            .collect();
        let mask = Tensor::<1, Bool>::from_data(TensorData::new(mask, [LEN]), &device);
        // The tensor is the only handle on its storage: the selection is written into it.
        let t = floats(&tensor, dtype, &device);
        let v = floats(&value, dtype, &device);
        let kept_v = v.clone();
        assert_eq!(
            selected(t.mask_where(mask.clone(), v)),
            expected,
            "{dtype:?}, tensor reused"
        );
        // The tensor is shared and the value is not: the selection is written into the value.
        let t = floats(&tensor, dtype, &device);
        let kept_t = t.clone();
        let v = floats(&value, dtype, &device);
        assert_eq!(
            selected(t.mask_where(mask, v)),
            expected,
            "{dtype:?}, value reused"
        );
        drop((kept_t, kept_v));
    }
}

#[test]
fn integer_mask_where_selects() {
    let device = Device::flex();
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    let tensor: Vec<i64> = (0..LEN).map(|_| rng.random_range(-9..9)).collect();
    let value: Vec<i64> = (0..LEN).map(|_| rng.random_range(-9..9)).collect();
    let mask: Vec<bool> = (0..LEN).map(|_| rng.random_bool(0.5)).collect();
    let expected: Vec<i64> = (0..LEN)
        .map(|i| if mask[i] { value[i] } else { tensor[i] })
        .collect();
    let ints = |v: &[i64]| Tensor::<1, Int>::from_data(TensorData::new(v.to_vec(), [LEN]), &device);
    let mask = Tensor::<1, Bool>::from_data(TensorData::new(mask, [LEN]), &device);
    let values = |t: Tensor<1, Int>| -> Vec<i64> {
        let t = t.cast(burn::tensor::IntDType::I64);
        t.into_data().try_into_vec().unwrap()
    };
    // The tensor reused, then (the tensor shared, the value not) the value reused.
    let reused_tensor = ints(&tensor).mask_where(mask.clone(), ints(&value));
    assert_eq!(values(reused_tensor), expected, "tensor reused");
    let shared = ints(&tensor);
    let reused_value = shared.clone().mask_where(mask, ints(&value));
    assert_eq!(values(reused_value), expected, "value reused");
    drop(shared);
}

#[test]
fn leaky_relu_and_its_gradient_through_autodiff() {
    let device = Device::flex().autodiff();
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let (x, _, g) = case(&mut rng);
    let slope = 0.2;
    let xt = Tensor::<1>::from_data(TensorData::new(x.clone(), [LEN]), &device).require_grad();
    let gt = Tensor::<1>::from_data(TensorData::new(g.clone(), [LEN]), &device);
    let y = leaky_relu(xt.clone(), slope);
    let grads = (y.clone() * gt).sum().backward();
    let y: Vec<f32> = y.into_data().try_into_vec().unwrap();
    let dx: Vec<f32> = xt.grad(&grads).unwrap().into_data().try_into_vec().unwrap();
    for i in 0..LEN {
        let factor = if x[i] < 0.0 { slope as f32 } else { 1.0 };
        assert_eq!(
            y[i],
            if x[i] < 0.0 {
                x[i] * slope as f32
            } else {
                x[i]
            },
            "y[{i}]"
        );
        assert_eq!(dx[i], g[i] * factor, "dx[{i}]");
    }
}
