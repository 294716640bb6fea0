//! Shared network blocks, losses and seeded initialisation. Models are built from these; a block
//! used by two models lives here, once.

pub mod bigan;
pub mod bigan_cifar;
pub mod bigan_conv;
pub mod dcgan;
pub mod dropout;
pub mod ema;
pub mod init;
pub mod latent_search;
pub mod loss;
pub mod mlp;
pub mod optim;
pub mod penalty;
pub mod resnet;
pub mod spectral;
pub mod state;
pub mod unet;
pub mod weights;

pub use bigan::{
    JointDiscriminator, JointDiscriminatorConfig, PairDiscriminator, PairDiscriminatorConfig,
};
pub use dcgan::{
    DcganAutoencoder, DcganDecoder, DcganDecoderConfig, DcganEncoder, DcganEncoderConfig,
};
pub use ema::Ema;
pub use init::{InitScheme, initialise};
pub use latent_search::LatentSearch;
pub use mlp::{Mlp, MlpConfig};
pub use optim::NetOptimizer;
pub use state::{Trainables, TrainablesMut, TrainingState};
pub use weights::{Weights, module_from_bytes, module_to_bytes};
