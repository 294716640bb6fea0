"""The Python package: PyOD's BaseDetector meanings, the same scores as the command line,
clear ValueErrors for bad arrays, image runs with maps, and a PyOD script run as it is."""

import csv
import pathlib

import numpy as np
import pytest

import oddity
from conftest import FIXTURES, auroc, mnist_test_images, run_cli, idx_test_images

HERE = pathlib.Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def fitted(breastw):
    X, _ = breastw
    return oddity.AutoEncoder(epoch_num=20, contamination=0.1, random_state=3).fit(X)


def test_pyod_meanings(fitted, breastw):
    X, y = breastw
    clf = fitted
    assert clf.decision_scores_.shape == (len(X),)
    np.testing.assert_array_equal(clf.decision_scores_, clf.decision_function(X))
    assert clf.threshold_ == pytest.approx(np.percentile(clf.decision_scores_, 90))
    np.testing.assert_array_equal(clf.labels_, (clf.decision_scores_ > clf.threshold_).astype(int))
    assert clf.labels_.mean() == pytest.approx(0.1, abs=0.01)
    np.testing.assert_array_equal(clf.predict(X), clf.labels_)
    low, high = clf.decision_scores_.min(), clf.decision_scores_.max()
    proba = clf.predict_proba(X[:50])
    expected = ((clf.decision_function(X[:50]) - low) / (high - low)).clip(0, 1)
    np.testing.assert_allclose(proba[:, 1], expected)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    unify = clf.predict_proba(X[:50], method="unify")[:, 1]
    mu, sigma = clf.decision_scores_.mean(), clf.decision_scores_.std()
    from math import erf, sqrt
    expected = np.clip([erf((s - mu) / (sigma * sqrt(2))) for s in clf.decision_function(X[:50])], 0, 1)
    np.testing.assert_allclose(unify, expected, rtol=1e-12)
    with pytest.raises(ValueError, match="conversion method"):
        clf.predict_proba(X[:5], method="softmax")
    prediction, confidence = clf.predict(X[:40], return_confidence=True)
    assert ((confidence >= 0) & (confidence <= 1)).all() and len(confidence) == 40
    # Outliers score high: breastw's anomalies (35 % of X, unlabelled in fit) are found.
    # Measured 0.9185, 0.8966, 0.9101, 0.8816, 0.9259 for random_state 0–4 (20 epochs).
    assert auroc(clf.decision_scores_, y) > 0.85


def test_conformal_p_values(fitted, breastw):
    X, _ = breastw
    p = fitted.p_value(X)
    assert ((p > 0) & (p <= 1)).all()
    flagged = fitted.predict(X, false_alarm_rate=0.2)
    np.testing.assert_array_equal(flagged, (p <= 0.2 + 1e-12).astype(int))
    with pytest.raises(ValueError, match="false_alarm_rate"):
        fitted.predict(X, false_alarm_rate=1.5)
    # A rate too small for the calibration set flags nothing: refused, as the command line
    # refuses it, rather than answered with all zeros.
    with pytest.raises(ValueError, match="normal validation samples"):
        fitted.predict(X, false_alarm_rate=1e-9)
    # ExCeeD's confidence belongs to the contamination threshold's labels, not to these.
    with pytest.raises(ValueError, match="return_confidence"):
        fitted.predict(X, return_confidence=True, false_alarm_rate=0.2)


def test_parameters_clone_as_scikit_learn_does():
    original = oddity.AutoEncoder(epoch_num=7, lr=1e-3, hidden_neuron_list=[16, 8],
                                  contamination=np.float32(0.2), model_config={"latent_dim": 4})
    params = original.get_params()
    twin = type(original)(**params)
    for key, value in params.items():
        assert twin.get_params()[key] is value, key
    assert original.set_params(contamination=0.05).contamination == 0.05
    assert original.get_params()["epoch_num"] == 7
    with pytest.raises(ValueError, match="invalid parameter"):
        original.set_params(colour="red")
    detector = oddity.Detector("alad", epochs=2)
    assert type(detector)(**detector.get_params()).get_params() == detector.get_params()
    # Every parameter is there to set, whatever the constructor was given (PyOD's
    # get_params reads the signature), and set_params of a bad value changes nothing.
    assert oddity.AutoEncoder().set_params(epoch_num=5).get_params()["epoch_num"] == 5
    assert detector.set_params(contamination=0.2).get_params()["contamination"] == 0.2
    assert detector.set_params(model="egbad").get_params()["model"] == "egbad"
    assert oddity.ALAD().set_params(epoch_num=3).get_params()["epoch_num"] == 3
    with pytest.raises(ValueError, match="contamination"):
        detector.set_params(contamination=0.9)
    assert detector.contamination == 0.2
    with pytest.raises(ValueError, match="unknown model"):
        detector.set_params(model="knn")
    assert detector.model == "egbad"


def test_parameters_are_attributes_that_fit_uses(breastw):
    X, _ = breastw
    clf = oddity.AutoEncoder(epoch_num=1, random_state=0)
    clf.contamination = 0.3
    assert clf.get_params()["contamination"] == 0.3
    assert clf.set_params(verbose=0).contamination == 0.3
    clf.epoch_num = 0
    with pytest.raises(ValueError, match="epoch_num"):
        clf.fit(X)
    clf.epoch_num = 1
    clf.lr = float("inf")
    with pytest.raises(ValueError, match="lr must be a finite number"):
        clf.fit(X)
    clf.lr = None
    # A PyOD argument the constructor was not given, assigned: a parameter like the others.
    clf.hidden_neurons = [4]
    assert clf.get_params()["hidden_neurons"] == [4]
    alad = oddity.ALAD()
    alad.epoch_num = 3
    assert alad.get_params()["epoch_num"] == 3 and alad._resolve() is None and alad._epochs == 3
    clf.fit(X[:80])
    assert clf.labels_.mean() == pytest.approx(0.3, abs=0.05)
    # set_params on a fitted detector keeps the fit when no training parameter changes (a new
    # contamination recomputes threshold_ and labels_), and drops it whole otherwise.
    clf.set_params(contamination=0.1, verbose=1)
    assert clf.labels_.mean() == pytest.approx(0.1, abs=0.05)
    new_widths = [8, 4]
    clf.set_params(hidden_neuron_list=new_widths)
    assert clf.get_params()["hidden_neuron_list"] is new_widths
    assert not hasattr(clf, "labels_")
    with pytest.raises(ValueError, match="not fitted"):
        clf.predict(X)


def test_numbers_are_checked_at_the_door(tmp_path):
    for kwargs, message in [
        ({"random_state": True}, "random_state"),
        ({"random_state": 2**64}, "random_state"),
        ({"batch_size": 2**70}, "batch_size"),
        ({"batch_size": 10**400}, "batch_size"),
        ({"model_config": {"learning_rate": float("nan")}}, r"model_config\['learning_rate'\]"),
        ({"lr": float("inf")}, "lr must be a finite number"),
        ({"verbose": "loud"}, "verbose"),
        ({"hidden_neuron_list": [8, float("nan")]}, "hidden_neuron_list"),
        ({"epoch_num": 5, "model_config": {"epochs": 7}}, r"epoch_num=5 and model_config"),
    ]:
        with pytest.raises(ValueError, match=message):
            oddity.AutoEncoder(**kwargs)
    mnist = FIXTURES / "mnist"
    for kwargs, message in [
        ({"epochs": 2.5}, "epochs"),
        ({"epochs": -1}, "epochs"),
        ({"decode_size": -1}, "decode_size"),
        ({"random_state": 2**64}, "random_state"),
        ({"contamination": "0.1"}, "contamination"),
        ({"contamination": 0.1}, "contaminated protocol only"),
    ]:
        with pytest.raises(ValueError, match=message):
            oddity.train("autoencoder", "mnist", mnist, tmp_path / "r", "one-class", "1", **kwargs)
    assert not (tmp_path / "r").exists()
    # The contaminated protocol, which needs its outliers per inlier, runs from Python too.
    run = oddity.train("autoencoder", "mnist", mnist, tmp_path / "c", "contaminated", "1",
                       epochs=1, contamination=0.1)
    assert run.decision_function(mnist_test_images(5)[0]).shape == (5,)


def test_core_errors_name_the_python_keywords(tmp_path):
    # The core's messages name the command line's options; from Python they name the keyword
    # the user gave (or left out), and no option.
    mnist = FIXTURES / "mnist"

    def train(protocol, **kwargs):
        return oddity.train("autoencoder", "mnist", mnist, tmp_path / "r", protocol, **kwargs)

    def ood_train(**kwargs):
        return oddity.ood.train("mnist", mnist, tmp_path / "o", **kwargs)

    for call, message in [
        (lambda: train("one-class"), r"needs a class \(class_name\)"),
        (lambda: train("one-class", class_name="1", contamination=0.1),
         "^contamination applies to the contaminated protocol only"),
        (lambda: oddity.train("autoencoder", "adbench", FIXTURES / "adbench", tmp_path / "r",
                              "tabular", decode_size=32), "^decode_size resizes image files"),
        (lambda: ood_train(classifier={"depht": 10}), "^classifier: unknown field `depht`"),
        (lambda: ood_train(generative={"mutation": 0.1}), '^generative: unknown setting "mutation"'),
        (lambda: ood_train(validation=100000), "^validation must be less than"),
        (lambda: ood_train(max_train=5), r"\(after validation and max_train\): raise max_train$"),
    ]:
        with pytest.raises(ValueError, match=message) as refused:
            call()
        assert "--" not in str(refused.value), refused.value
    assert not (tmp_path / "r").exists() and not (tmp_path / "o").exists()


def test_model_names_and_the_models_package():
    assert "autoencoder" in oddity.model_names() and "ganomaly" in oddity.model_names()
    from oddity.models.auto_encoder import AutoEncoder
    assert oddity.models.auto_encoder.AutoEncoder is AutoEncoder is oddity.AutoEncoder


def test_vae_speaks_pyod(breastw):
    X, y = breastw
    clf = oddity.VAE(epoch_num=20, latent_dim=4, contamination=0.1, random_state=0).fit(X)
    # Measured 0.9751, 0.9791, 0.9785, 0.9772, 0.9769 for random_state 0–4.
    assert auroc(clf.decision_scores_, y) > 0.93
    kl = oddity.VAE(epoch_num=2, random_state=0, model_config={"score": "kl"}).fit(X)
    assert kl.decision_scores_.min() >= 0  # a KL divergence
    with pytest.raises(ValueError, match="beta"):
        oddity.VAE(beta=4.0)


def test_same_seed_same_scores(breastw):
    X, _ = breastw
    a = oddity.AutoEncoder(epoch_num=3, random_state=5).fit(X).decision_scores_
    b = oddity.AutoEncoder(epoch_num=3, random_state=5).fit(X).decision_scores_
    c = oddity.AutoEncoder(epoch_num=3, random_state=6).fit(X).decision_scores_
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_bad_arrays_raise_value_errors(fitted, breastw):
    X, _ = breastw
    bad = {
        "dtype": (np.array([["a"] * 9]), "must hold numbers"),
        "object": (np.array([[object()] * 9]), "must hold numbers"),
        "complex": (X[:2].astype(complex), "real numbers"),
        "nan": (np.where(np.eye(3, 9) == 1, np.nan, 0.0), "not finite"),
        "inf": (np.full((2, 9), np.inf), "not finite"),
        "overflow": (np.full((2, 9), 1e300), "not finite"),
        "width": (X[:, :5], r"X has 5 features; the detector was fitted on 9"),
        "one-d": (X[0], "2-D"),
        "empty": (np.zeros((0, 9)), "no sample"),
        "sparse": (type("Sparse", (), {"toarray": lambda self: X})(), r"X.toarray\(\)"),
    }
    for name, (array, message) in bad.items():
        with pytest.raises(ValueError, match=message):
            fitted.decision_function(array)
    with pytest.raises(ValueError, match="not fitted"):
        oddity.AutoEncoder().decision_function(X)
    with pytest.raises(ValueError, match="at least 2 samples"):
        oddity.AutoEncoder().fit(X[:1])
    for kwargs, message in [
        ({"contamination": 0.7}, "contamination"),
        ({"epoch_num": 0}, "epoch_num"),
        ({"validation_size": 1.0}, "validation_size"),
        ({"dropout_rate": 0.3}, "dropout_rate"),
        ({"lr": -1.0}, "learning_rate"),
        ({"random_state": -2}, "random_state"),
    ]:
        with pytest.raises(ValueError, match=message):
            oddity.AutoEncoder(**kwargs).fit(X)
    with pytest.raises(TypeError, match="n_neighbors"):
        oddity.AutoEncoder(n_neighbors=5)
    with pytest.raises(ValueError, match="unknown model"):
        oddity.Detector("knn")
    # One setting given twice with two values, or a value that would be read as another one,
    # is an error naming it (the last one won, or 2.7 became 2, or "minmax" counted as True).
    for kwargs, message in [
        ({"epoch_num": 5, "epochs": 7}, "epoch_num=5 and epochs=7"),
        ({"lr": 0.01, "model_config": {"learning_rate": 0.1}}, "lr=0.01 and model_config"),
        ({"hidden_neuron_list": [8, 4], "hidden_neurons": [16, 8]}, "hidden_neurons"),
        ({"preprocessing": "minmax"}, "preprocessing must be True"),
        ({"epochs": 5, "model_config": {"epochs": 7}}, r"model_config\['epochs'\]"),
        ({"batch_size": 32, "model_config": {"batch_size": 64}}, "batch_size=32"),
        ({"epoch_num": True}, "epoch_num"),
    ]:
        with pytest.raises(ValueError, match=message):
            oddity.AutoEncoder(**kwargs)
    with pytest.raises(ValueError, match="latent_dim must be a whole number"):
        oddity.VAE(latent_dim=2.7)
    # The same value given twice is one setting; set_params of one alias replaces the other.
    assert oddity.VAE(latent_dim=2, model_config={"latent_dim": 2.0}).model_config["latent_dim"] == 2
    regridded = oddity.AutoEncoder(epoch_num=5).set_params(epochs=10)
    assert regridded.epochs == 10
    # A parameter assigned after the constructor is checked by fit, before any training.
    late = oddity.AutoEncoder(epoch_num=1)
    late.contamination = 0
    with pytest.raises(ValueError, match="contamination"):
        late.fit(X)
    # NumPy values in the settings are taken as numbers, not refused by the JSON encoder.
    numpy_settings = oddity.AutoEncoder(
        epoch_num=1, hidden_neuron_list=np.array([8, 4]), model_config={"batch_size": np.int64(64)}
    )
    assert numpy_settings.fit(X[:60]).decision_scores_.shape == (60,)


def test_another_thread_gets_a_python_error(fitted, breastw):
    """A model is used from the thread that made it: another thread gets a RuntimeError, not a
    Rust panic (PanicException escapes ``except Exception``)."""
    import threading

    X, _ = breastw
    caught = []

    def score_elsewhere():
        try:
            fitted.decision_function(X[:3])
        except Exception as error:  # noqa: BLE001 (the test records what escaped)
            caught.append(error)

    worker = threading.Thread(target=score_elsewhere)
    worker.start()
    worker.join()
    assert len(caught) == 1 and isinstance(caught[0], RuntimeError), caught
    assert "another thread" in str(caught[0])
    assert fitted.decision_function(X[:3]).shape == (3,)


def test_python_and_cli_give_the_same_scores(tmp_path, oddity_bin, fitted, breastw):
    X, _ = breastw
    data = FIXTURES / "adbench" / "4_breastw.npz"

    def cli_table(run, checkpoint):
        out = tmp_path / f"{run.name}-{checkpoint}.csv"
        run_cli(oddity_bin, "score", run, "--dataset", "adbench", "--data", data,
                "--checkpoint", checkpoint, "--output", out)
        with open(out) as f:
            rows = list(csv.DictReader(f))
        return (np.array([float(r["score"]) for r in rows]),
                np.array([int(r["flagged"]) for r in rows]))

    def cli_scores(run, checkpoint):
        return cli_table(run, checkpoint)[0]

    # A run trained by the command line, loaded in Python.
    cli_run = tmp_path / "cli-run"
    run_cli(oddity_bin, "train", "--model", "autoencoder", "--dataset", "adbench", "--data",
            data, "--protocol", "tabular", "--epochs", "5", "--quiet", "--out", cli_run)
    loaded = oddity.load(cli_run)
    assert loaded.model == "autoencoder" and loaded.input_shape == (9,)
    np.testing.assert_allclose(loaded.decision_function(X), cli_scores(cli_run, "best"), rtol=1e-6)
    # A model fitted in Python, saved, scored by the command line.
    saved = tmp_path / "py-run"
    fitted.save(saved)
    assert (saved / "run.json").is_file()
    # fit keeps the last epoch's weights, as PyOD does, under both checkpoints; the command
    # line flags what predict flags.
    for checkpoint in ["best", "last"]:
        scores, flagged = cli_table(saved, checkpoint)
        np.testing.assert_allclose(fitted.decision_function(X), scores, rtol=1e-6)
        np.testing.assert_array_equal(flagged, fitted.predict(X))
    np.testing.assert_allclose(oddity.load(saved, "last").decision_function(X),
                               fitted.decision_function(X), rtol=1e-6)
    # Saved again: refused, naming Python's way to replace it (not the command line's).
    with pytest.raises(ValueError, match="py-run") as refused:
        fitted.save(saved)
    assert "replace=True" in str(refused.value) and "--force" not in str(refused.value)
    fitted.save(saved, replace=True)
    np.testing.assert_allclose(oddity.load(saved, "last").decision_function(X),
                               fitted.decision_function(X), rtol=1e-6)
    with pytest.raises(ValueError, match="replace must be True or False"):
        fitted.save(saved, replace="no")
    # A folder of the user's is never replaced.
    (saved / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="notes.txt"):
        fitted.save(saved, replace=True)
    assert (saved / "notes.txt").read_text() == "mine"


def test_image_runs_score_and_map(tmp_path, oddity_bin):
    images, labels = mnist_test_images(200)
    run = oddity.train("autoencoder", "mnist", FIXTURES / "mnist", tmp_path / "digits",
                       "one-class", class_name="1", epochs=2, random_state=0)
    scores = run.decision_function(images)
    assert scores.shape == (200,)
    assert auroc(scores, (labels != 1).astype(int)) > 0.8
    out = tmp_path / "scores.csv"
    run_cli(oddity_bin, "score", tmp_path / "digits", "--dataset", "mnist", "--data",
            FIXTURES / "mnist", "--split", "test", "--checkpoint", "best", "--output", out)
    with open(out) as f:
        cli = np.array([float(r["score"]) for r in csv.DictReader(f)])[:200]
    np.testing.assert_allclose(scores, cli, rtol=1e-5)
    maps = run.anomaly_map(images[:4, None, :, :])
    assert maps.shape == (4, 28, 28) and (maps >= 0).all()
    np.testing.assert_array_equal(run.predict(images[:10]), (scores[:10] >= run.threshold).astype(int))
    with pytest.raises(ValueError, match=r"shape \(3, 14, 14\) does not fit; the run was trained on \(n, 1, 28, 28\)"):
        run.decision_function(images[:3, :14, :14])
    # One image on its own, not read as 28 rows of 28 features.
    with pytest.raises(ValueError, match=r"one image of shape \(28, 28\), not a batch.*X\[None\]"):
        run.decision_function(images[0])
    np.testing.assert_allclose(run.decision_function(images[0][None]), scores[:1], rtol=1e-5)
    # Pixels scaled to [0, 1] (torchvision's habit) are refused, not scored as near-black.
    with pytest.raises(ValueError, match=r"\[0, 1\] pixels"):
        run.decision_function(images[:3] / 255.0)
    with pytest.raises(ValueError, match="false_alarm_rate"):
        run.predict(images[:3], false_alarm_rate="0.1")
    # Epochs given twice with two values: refused before any training, naming both.
    with pytest.raises(ValueError, match=r"epochs 1 and the settings' \"epochs\": 3 disagree"):
        oddity.train("autoencoder", "mnist", FIXTURES / "mnist", tmp_path / "twice", "one-class",
                     class_name="1", epochs=1, model_config={"epochs": 3})
    assert not (tmp_path / "twice").exists()
    # Training on image arrays from Python.
    clf = oddity.Detector("autoencoder", epochs=1, random_state=0, contamination=0.1)
    clf.fit(images[labels == 1].astype(np.float32))
    assert clf.decision_function(images[:5]).shape == (5,)
    assert clf.anomaly_map(images[:2]).shape == (2, 28, 28)


def test_an_ood_run_classifies_scores_and_refuses(tmp_path, oddity_bin):
    """An OOD run trained by the command line, loaded in Python: the same classes and scores
    as `oddity ood score` on the same test digits, and Fashion-MNIST's clothes refused."""
    run_dir = tmp_path / "ood"
    run_cli(oddity_bin, "ood", "train", "--dataset", "mnist", "--data", FIXTURES / "mnist",
            "--validation", "100", "--classifier-config", '{"epochs": 2}', "--out", run_dir)
    table = tmp_path / "verdicts.csv"
    run_cli(oddity_bin, "ood", "score", run_dir, "--images", f"mnist:{FIXTURES / 'mnist'}",
            "--output", table)
    with open(table) as f:
        rows = list(csv.DictReader(f))[:200]
    run = oddity.load_ood(run_dir)
    assert run.image_shape == (1, 28, 28) and run.classes_ == [str(d) for d in range(10)]
    digits, labels = mnist_test_images(200)
    assert [int(r["index"]) for r in rows] == list(range(200))
    np.testing.assert_array_equal(run.predict(digits), [r["class"] for r in rows])
    assert (run.predict(digits) == labels.astype(str)).mean() > 0.85
    scores = run.scores(digits)
    assert list(scores) == run.score_names
    for name in run.score_names:
        np.testing.assert_allclose(scores[name], [float(r[name]) for r in rows], rtol=1e-5,
                                   atol=1e-6, err_msg=name)
    np.testing.assert_allclose(run.p_value(digits), [float(r["p_value"]) for r in rows])
    clothes, _ = idx_test_images("fashion-mnist", 200)
    refused = run.is_out_of_distribution(clothes)
    assert refused.mean() > 0.9, refused.mean()
    assert run.is_out_of_distribution(digits).mean() < 0.15
    with pytest.raises(ValueError, match="the run's classifier takes"):
        run.predict(digits[:, :14, :14])
    with pytest.raises(ValueError, match=r"one image of shape \(28, 28\), not a batch.*X\[None\]"):
        run.predict(digits[0])
    np.testing.assert_array_equal(run.predict(digits[0][None]), run.predict(digits[:1]))
    with pytest.raises(ValueError, match="outside 0..=255"):
        run.scores(digits.astype(np.float32) * 2.0)
    with pytest.raises(ValueError, match="the run's scores are"):
        run.p_value(digits, score="likelihood")
    with pytest.raises(ValueError, match="the run's scores are"):
        run.p_value(digits, score=np.array(["msp", "odin"]))
    with pytest.raises(ValueError, match="false_alarm_rate"):
        run.is_out_of_distribution(digits, false_alarm_rate=1.5)
    # Too low a rate for 100 validation images: the core's refusal in Python's terms.
    with pytest.raises(ValueError, match=r"^score \w+ at false_alarm_rate 0.001: .*more validation$") \
            as too_low:
        run.is_out_of_distribution(digits, false_alarm_rate=0.001)
    assert "--" not in str(too_low.value), too_low.value
    with pytest.raises(ValueError, match=r"look like \[0, 1\] pixels"):
        run.predict(digits.astype(np.float32) / 255.0)
    with pytest.raises(ValueError, match="boolean"):
        run.predict(digits > 128)
    # A short run trained from Python and by the command line with the same seed, data and
    # settings: the same scores.
    two = oddity.ood.train("mnist", FIXTURES / "mnist", tmp_path / "two", classes="0, 1",
                           validation=50.0, max_train=300, classifier={"epochs": np.int64(1)},
                           random_state=0)
    assert two.classes_ == ["0", "1"] and set(two.predict(digits[:20])) <= {"0", "1"}
    run_cli(oddity_bin, "ood", "train", "--dataset", "mnist", "--data", FIXTURES / "mnist",
            "--classes", "0,1", "--validation", "50", "--max-train", "300",
            "--classifier-config", '{"epochs": 1}', "--seed", "0", "--out", tmp_path / "two-cli")
    from_cli = oddity.load_ood(tmp_path / "two-cli").scores(digits[:20])
    for name, column in two.scores(digits[:20]).items():
        np.testing.assert_array_equal(column, from_cli[name], err_msg=name)
    # Refused: settings before any folder is made, an unknown class after reading the data,
    # leaving nothing behind.
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    for kwargs, needle in [
        ({"validation": 1}, "validation must be from 2"),
        ({"classifier": {"epochs": 0}}, "epochs"),
        ({"classes": ["cat"]}, "cat"),
        ({"classes": 5}, "classes must be a list"),
    ]:
        with pytest.raises(ValueError, match=needle):
            oddity.ood.train("mnist", FIXTURES / "mnist", fresh / "run", **kwargs)
        assert list(fresh.iterdir()) == [], kwargs
    # Another kind of data set: a typo is answered with the kinds the job trains on only, a
    # table with the job's reason.
    kinds = "mnist, fashion-mnist, cifar10, image-folder or builtin-mnist"
    with pytest.raises(ValueError, match=f'unknown dataset "cifar"; use {kinds}$'):
        oddity.ood.train("cifar", FIXTURES / "mnist", fresh / "run")
    with pytest.raises(ValueError, match=f"labelled images: {kinds}, not kdd99 data"):
        oddity.ood.train("kdd99", FIXTURES / "mnist", fresh / "run")
    assert list(fresh.iterdir()) == []


def test_a_pyod_script_runs_with_only_its_import_changed():
    source = (HERE / "pyod_autoencoder_example.py").read_text()
    pyod_import = "from pyod.models.auto_encoder import AutoEncoder"
    assert source.count(pyod_import) == 1
    changed = source.replace(pyod_import, "from oddity.models.auto_encoder import AutoEncoder")
    namespace = {"__name__": "__main__"}
    exec(compile(changed, "pyod_autoencoder_example.py", "exec"), namespace)
    result = namespace["RESULT"]
    assert result["train_roc"] > 0.95 and result["test_roc"] > 0.95, result
    assert set(np.unique(result["test_pred"])) <= {0, 1}
    assert result["proba"].shape == (500, 2)


def test_ctrl_c_stops_a_fit(breastw):
    """Ctrl-C (SIGINT) during fit raises KeyboardInterrupt after the current step; without it
    the training held the interpreter until its last epoch (a million here), and the
    detector stays unfitted."""
    import os
    import signal
    import threading

    X, _ = breastw
    clf = oddity.AutoEncoder(epoch_num=1_000_000, random_state=0)
    # Python's own handler, whatever this process inherited: a shell's background job starts
    # with SIGINT ignored, and the fit would then run its million epochs.
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            clf.fit(X)
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, inherited)
    with pytest.raises(ValueError, match="not fitted"):
        clf.decision_function(X[:3])
