"""The reconstruction autoencoder (an MLP for tables), under PyOD's name and arguments."""

from ..base import BaseDetector


class AutoEncoder(BaseDetector):
    """Autoencoder scored by mean squared reconstruction error.

    Accepts the arguments of PyOD's ``AutoEncoder`` (2.x and 1.x names) that oddity honours:
    ``epoch_num`` / ``epochs``, ``batch_size``, ``lr``, ``hidden_neuron_list`` /
    ``hidden_neurons`` (the encoder's widths; the decoder mirrors them), ``preprocessing``,
    ``random_state``, ``verbose``, ``contamination``. Others PyOD accepts (dropout, batch norm,
    the optimizer's name and parameters, …) are refused with a ``ValueError`` unless left at a
    value oddity's network matches, so that a script never runs a different model silently.
    """

    _model = "autoencoder"
    _aliases = BaseDetector._aliases + (("hidden_neuron_list", "hidden_neurons"),)
    # PyOD argument -> (oddity hyper-parameter, conversion)
    _renames = {
        "lr": ("learning_rate", float),
        "hidden_neuron_list": ("hidden", list),
        "hidden_neurons": ("hidden", list),
    }
    # PyOD arguments oddity's autoencoder has no counterpart for: allowed only at these values.
    _fixed = {
        "optimizer_name": ("adam",),
        "optimizer": ("adam",),
        "hidden_activation_name": ("relu",),
        "hidden_activation": ("relu",),
        "batch_norm": (False,),
        "dropout_rate": (0.0, 0),
        "use_compile": (False,),
        "compile_mode": ("default",),
        "device": (None, "cpu"),
        "optimizer_params": (None,),
        "l2_regularizer": (0.0, 0),
        "loss": (None, "mse"),
        "loss_fn": (None,),
        "output_activation": (None, "linear", "identity"),
    }

    def __init__(self, contamination=0.1, epoch_num=None, batch_size=None, lr=None,
                 hidden_neuron_list=None, preprocessing=True, random_state=None, verbose=0,
                 **pyod_arguments):
        # epoch_num is PyOD 2's name, epochs (in pyod_arguments) PyOD 1's.
        super().__init__(contamination=contamination, batch_size=batch_size,
                         random_state=random_state, verbose=verbose, preprocessing=preprocessing,
                         epoch_num=epoch_num, lr=lr, hidden_neuron_list=hidden_neuron_list,
                         **pyod_arguments)
