//! A model's training state restores exactly: a fresh model given the state of one trained
//! for a few steps takes its next step to the same weights, bit for bit (parameter identities,
//! optimizer moments, random generators and BatchNorm statistics all come back).

use burn::prelude::*;
use oddity::data::SampleShape;
use oddity::models::ModelConfig;

#[test]
fn a_restored_training_state_steps_as_the_original() {
    let device = oddity::device::parse("cpu").unwrap();
    let train_device = device.clone().autodiff();
    let batch = |k: usize| {
        let values: Vec<f32> = (0..8 * 1024)
            .map(|i| (((i + k) * 7919) % 211) as f32 / 105.0 - 1.0)
            .collect();
        Tensor::<2>::from_data(TensorData::new(values, [8, 1024]), &train_device)
    };
    let image = SampleShape::Image { channels: 1, height: 32, width: 32 };
    let table = SampleShape::Table { features: 1024 };
    let mut resumable = Vec::new();
    for (name, shape) in [("autoencoder", table), ("autoencoder", image), ("ganomaly", image)] {
        let config = ModelConfig::default_for(name).unwrap();
        let mut original = config.build(shape, &device, 3).unwrap();
        for k in 0..3 {
            original.train_step(batch(k)).unwrap();
        }
        let Some(state) = original.training_state().unwrap() else {
            continue;
        };
        resumable.push(name);
        let mut restored = config.build(shape, &device, 3).unwrap();
        restored.restore_training_state(&state).unwrap();
        for k in 5..7 {
            original.train_step(batch(k)).unwrap();
            restored.train_step(batch(k)).unwrap();
        }
        assert!(
            original.save_weights().unwrap() == restored.save_weights().unwrap(),
            "{name} on {shape}: the restored model stepped elsewhere"
        );
    }
    assert_eq!(resumable, ["autoencoder", "autoencoder", "ganomaly"]);
}
