//! GANomaly's networks: the encoder-decoder-encoder generator and both networks saved together.

use crate::nn::{DcganDecoder, DcganEncoder};
use burn::prelude::*;

/// Encoder → decoder → encoder.
#[derive(Module, Debug)]
pub struct Generator {
    pub(super) encoder1: DcganEncoder,
    pub(super) decoder: DcganDecoder,
    pub(super) encoder2: DcganEncoder,
}

/// What one generator pass produces.
pub struct GeneratorOutput {
    /// x̂ = G_D(G_E(x)).
    pub reconstruction: Tensor<4>,
    /// z = G_E(x), `[B, nz, 1, 1]`.
    pub latent: Tensor<4>,
    /// ẑ = E(x̂).
    pub latent_reconstructed: Tensor<4>,
}

impl Generator {
    /// One pass x → (x̂, z, ẑ).
    pub fn forward(&self, x: Tensor<4>) -> GeneratorOutput {
        let latent = self.encoder1.forward(x);
        let reconstruction = self.decoder.forward(latent.clone());
        let latent_reconstructed = self.encoder2.forward(reconstruction.clone());
        GeneratorOutput {
            reconstruction,
            latent,
            latent_reconstructed,
        }
    }
}

/// Both networks, saved and loaded together.
#[derive(Module, Debug)]
pub struct GanomalyNets {
    pub(super) generator: Generator,
    /// DCGAN encoder with one output channel; its features are the 4×4 map.
    pub(super) discriminator: DcganEncoder,
}
