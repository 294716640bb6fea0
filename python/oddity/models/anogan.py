"""AnoGAN (Schlegl et al., IPMI 2017) with its test-time latent search, with PyOD's detector interface."""

from ..base import BaseDetector


class AnoGAN(BaseDetector):
    """AnoGAN (Schlegl et al., IPMI 2017) with its test-time latent search.

    epochs/epoch_num, batch_size, random_state, contamination and
    verbose as in PyOD; any of the model's hyper-parameters by its oddity name
    (oddity models lists them), e.g. AnoGAN(model_config={"learning_rate": 1e-4}).
    """

    _model = "anogan"
