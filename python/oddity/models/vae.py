"""The VAE (Lu & Xu 2018's scores, An & Cho's reconstruction probability), under PyOD's name."""

from ..base import BaseDetector, _whole


class VAE(BaseDetector):
    """VAE scored by the IWAE bound (``model_config={"score": "kl" | "elbo" |
    "reconstruction" | "reconstruction-probability"}`` for the others).

    PyOD 2 arguments honoured: ``epoch_num``, ``batch_size``, ``lr``, ``latent_dim``,
    ``encoder_neuron_list`` (the decoder mirrors it), ``preprocessing``, ``random_state``,
    ``verbose``, ``contamination``; the others are refused unless at a value oddity's VAE
    matches (no dropout or batch norm, β = 1, no capacity).
    """

    _model = "vae"
    _renames = {
        "lr": ("learning_rate", float),
        "latent_dim": ("latent_dim", _whole),
        "encoder_neuron_list": ("hidden", list),
    }
    _fixed = {
        "decoder_neuron_list": (None,),
        "optimizer_name": ("adam",),
        "hidden_activation_name": ("relu",),
        "output_activation_name": (None, "linear", "identity"),
        "batch_norm": (False,),
        "dropout_rate": (0.0, 0),
        "beta": (1.0, 1),
        "capacity": (0.0, 0),
        "device": (None, "cpu"),
        "optimizer_params": (None,),
        "use_compile": (False,),
        "compile_mode": ("default",),
    }

    def __init__(self, contamination=0.1, epoch_num=None, batch_size=None, lr=None,
                 latent_dim=None, encoder_neuron_list=None, preprocessing=True,
                 random_state=None, verbose=0, **pyod_arguments):
        super().__init__(contamination=contamination, batch_size=batch_size,
                         random_state=random_state, verbose=verbose, preprocessing=preprocessing,
                         epoch_num=epoch_num, lr=lr, latent_dim=latent_dim,
                         encoder_neuron_list=encoder_neuron_list, **pyod_arguments)
