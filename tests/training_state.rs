//! A model's training state restores exactly: a fresh model given the state of one trained
//! for a few steps takes its next steps to the same weights, bit for bit (parameter
//! identities, optimizer moments, random generators, moving averages, kept batches and
//! BatchNorm statistics all come back). This is what `oddity train --resume` relies on.

mod common;

use burn::prelude::*;
use common::{shape_for, small};

#[test]
fn a_restored_training_state_steps_as_the_original() {
    let device = oddity::device::parse("cpu").unwrap();
    let train_device = device.clone().autodiff();
    for info in oddity::models::MODELS {
        let config = small(info.name);
        let shape = shape_for(&config);
        let d = shape.len();
        let batch = |k: usize| {
            let values: Vec<f32> = (0..8 * d)
                .map(|i| (((i + k) * 7919) % 211) as f32 / 105.0 - 1.0)
                .collect();
            Tensor::<2>::from_data(TensorData::new(values, [8, d]), &train_device)
        };
        let mut original = config.build(shape, &device, 3).unwrap();
        for k in 0..3 {
            original.train_step(batch(k)).unwrap();
        }
        let state = original
            .training_state()
            .unwrap()
            .unwrap_or_else(|| panic!("{} cannot resume", info.name));
        let bytes = state.to_bytes();
        let state = oddity::nn::TrainingState::from_bytes(&bytes).unwrap();
        let mut restored = config.build(shape, &device, 4).unwrap();
        restored.restore_training_state(&state).unwrap();
        for k in 5..8 {
            original.train_step(batch(k)).unwrap();
            restored.train_step(batch(k)).unwrap();
        }
        assert!(
            original.save_weights().unwrap() == restored.save_weights().unwrap(),
            "{} on {shape}: the restored model stepped elsewhere",
            info.name
        );
    }
}
