//! A score does not depend on its batch: for every detector, scoring a sample alone equals
//! scoring it inside a batch of others, at another position (to float tolerance). Scores are
//! taken in evaluation mode (BatchNorm with its running statistics), as `score` and `eval` do.

use burn::prelude::*;
use oddity::data::SampleShape;
use oddity::models::ModelConfig;

/// The model `name` with small networks (the score's definition is the same at any width).
fn small(name: &str) -> ModelConfig {
    let mut v = serde_json::to_value(ModelConfig::default_for(name).unwrap()).unwrap();
    let map = v.as_object_mut().unwrap();
    for (key, value) in [("base_width", 8), ("width", 8), ("latent_dim", 16)] {
        if map.contains_key(key) && !map[key].is_null() {
            map.insert(key.into(), value.into());
        }
    }
    if let Some(search) = map.get_mut("search") {
        search["steps"] = 20.into();
    }
    serde_json::from_value(v).unwrap()
}

/// The shape a model takes: its own image size in grey, or a table for models whose default
/// networks are the tabular ones (EGBAD, ALAD) and for AnoGAN.
fn shape_for(config: &ModelConfig) -> SampleShape {
    let probe = SampleShape::Image {
        channels: 1,
        height: 28,
        width: 28,
    };
    match config.input_size(probe) {
        // AnoGAN's tabular generator follows its code closely even untrained, so a search
        // start that depended on the batch would show in the score.
        Some(_) if matches!(config, ModelConfig::Anogan(_)) => SampleShape::Table { features: 9 },
        Some(side) => SampleShape::Image {
            channels: 1,
            height: side,
            width: side,
        },
        _ => SampleShape::Table { features: 9 },
    }
}

fn values(t: Tensor<1>) -> Vec<f32> {
    t.into_data().try_into_vec::<f32>().unwrap()
}

#[test]
fn every_detector_scores_a_sample_as_it_scores_it_in_a_batch() {
    let device = oddity::device::parse("cpu").unwrap();
    for info in oddity::models::MODELS {
        let config = small(info.name);
        let shape = shape_for(&config);
        let detector = config.build(shape, &device, 5).unwrap();
        let n = 6;
        let d = shape.len();
        let data: Vec<f32> = (0..n * d)
            .map(|i| ((i * 7919) % 211) as f32 / 105.0 - 1.0)
            .collect();
        let batch = Tensor::<2>::from_data(TensorData::new(data.clone(), [n, d]), &device);
        let together = values(detector.score(batch));
        // Each sample alone, and the batch reversed (every sample at another position).
        let mut reversed = Vec::with_capacity(n * d);
        for i in (0..n).rev() {
            reversed.extend_from_slice(&data[i * d..(i + 1) * d]);
        }
        let reversed = values(detector.score(Tensor::<2>::from_data(
            TensorData::new(reversed, [n, d]),
            &device,
        )));
        for i in 0..n {
            let one = Tensor::<2>::from_data(
                TensorData::new(data[i * d..(i + 1) * d].to_vec(), [1, d]),
                &device,
            );
            let alone = values(detector.score(one))[0];
            let tolerance = 1e-4 * together[i].abs().max(1.0);
            assert!(
                (alone - together[i]).abs() <= tolerance,
                "{}: sample {i} alone {alone}, in a batch {}",
                info.name,
                together[i]
            );
            assert!(
                (reversed[n - 1 - i] - together[i]).abs() <= tolerance,
                "{}: sample {i} at another position {}, in order {}",
                info.name,
                reversed[n - 1 - i],
                together[i]
            );
        }
    }
}
