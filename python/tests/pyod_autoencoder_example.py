# A script written for PyOD 2's AutoEncoder, in the shape of PyOD's own example
# (examples/auto_encoder_example.py): synthetic data, fit, training labels and scores, test
# predictions and scores, ROC. test_python.py runs it with only the import line changed.
import numpy as np

from pyod.models.auto_encoder import AutoEncoder

if __name__ == "__main__":
    contamination = 0.1  # percentage of outliers
    n_train = 2000  # number of training points
    n_test = 500  # number of testing points
    n_features = 20

    rng = np.random.RandomState(42)
    def generate(n):
        n_outliers = int(n * contamination)
        inliers = rng.normal(0, 1, size=(n - n_outliers, n_features))
        outliers = rng.uniform(-8, 8, size=(n_outliers, n_features))
        X = np.vstack([inliers, outliers])
        y = np.hstack([np.zeros(n - n_outliers), np.ones(n_outliers)])
        return X, y
    X_train, y_train = generate(n_train)
    X_test, y_test = generate(n_test)

    # train AutoEncoder detector
    clf_name = 'AutoEncoder'
    clf = AutoEncoder(epoch_num=10, contamination=contamination, batch_size=32, lr=1e-3,
                      hidden_neuron_list=[64, 32], random_state=42, verbose=0)
    clf.fit(X_train)

    # get the prediction labels and outlier scores of the training data
    y_train_pred = clf.labels_  # binary labels (0: inliers, 1: outliers)
    y_train_scores = clf.decision_scores_  # raw outlier scores

    # get the prediction on the test data
    y_test_pred = clf.predict(X_test)  # outlier labels (0 or 1)
    y_test_scores = clf.decision_function(X_test)  # outlier scores
    y_test_pred, y_test_pred_confidence = clf.predict(X_test, return_confidence=True)
    y_test_proba = clf.predict_proba(X_test)

    def roc(y, scores):
        order = np.argsort(scores)
        ranks = np.empty(len(scores))
        ranks[order] = np.arange(1, len(scores) + 1)
        pos = y == 1
        return (ranks[pos].sum() - pos.sum() * (pos.sum() + 1) / 2) / (pos.sum() * (~pos).sum())

    print(f"{clf_name} ROC train {roc(y_train, y_train_scores):.4f} "
          f"test {roc(y_test, y_test_scores):.4f}")
    RESULT = dict(train_roc=roc(y_train, y_train_scores), test_roc=roc(y_test, y_test_scores),
                  train_pred=y_train_pred, test_pred=y_test_pred,
                  confidence=y_test_pred_confidence, proba=y_test_proba)
