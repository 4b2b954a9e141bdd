"""glassnet.sklearn: scikit-learn's own estimator checks, pipelines, grid search, the two model forms."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="the sklearn extra: pip install 'glassnet[sklearn]'")

from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import glassnet as gn  # noqa: E402
from glassnet.sklearn import GlassnetClassifier, GlassnetRegressor  # noqa: E402

FAST = dict(hidden_layer_sizes=(16,), epochs=60, learning_rate=0.01, random_state=0)


@parametrize_with_checks([GlassnetClassifier(**FAST), GlassnetRegressor(**FAST)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def _digits():
    x, y = gn.datasets.load_digits()
    return x.reshape(len(x), -1).astype(np.float64), y


def test_pipeline_and_cross_validation_on_digits_like_mlpclassifier():
    from sklearn.neural_network import MLPClassifier

    x, y = _digits()
    ours = make_pipeline(StandardScaler(), GlassnetClassifier(hidden_layer_sizes=(32,), epochs=20, batch_size=32,
                                                              random_state=0))
    theirs = make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(32,), max_iter=20, batch_size=32,
                                                           random_state=0))
    ours_scores = cross_val_score(ours, x[:600], y[:600], cv=3)
    with pytest.warns(UserWarning):  # sklearn's ConvergenceWarning after 20 iterations
        theirs_scores = cross_val_score(theirs, x[:600], y[:600], cv=3)
    assert ours_scores.mean() > theirs_scores.mean() - 0.05, (ours_scores, theirs_scores)
    assert ours_scores.mean() > 0.75


def test_grid_search_picks_a_learning_rate():
    x, y = _digits()
    search = GridSearchCV(GlassnetClassifier(hidden_layer_sizes=(16,), epochs=10, random_state=0),
                          {"learning_rate": [1e-5, 1e-2]}, cv=2)
    search.fit(x[:400] / 16.0, y[:400])
    assert search.best_params_ == {"learning_rate": 1e-2}


def test_a_model_function_and_an_unfitted_model_are_both_accepted():
    x, y = _digits()
    x = x[:300] / 16.0

    def build(n_features_in, n_classes):
        model = gn.Sequential([gn.layers.Input(shape=(n_features_in,)),
                               gn.layers.Dense(n_classes, activation="softmax")])
        model.compile(optimizer=gn.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
        return model

    by_function = GlassnetClassifier(model=build, epochs=30, random_state=0).fit(x, y[:300])
    template = build(64, 10)
    before = template.get_weights()
    by_copy = GlassnetClassifier(model=template, epochs=30, random_state=0).fit(x, y[:300])
    assert by_function.score(x, y[:300]) > 0.9 and by_copy.score(x, y[:300]) > 0.9
    assert by_copy.model_ is not template  # each fit trains a copy; the template keeps its weights
    for a, b in zip(before, template.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_fitted_attributes_partial_fit_and_pickle():
    x, y = _digits()
    x = x[:200] / 16.0
    clf = GlassnetClassifier(hidden_layer_sizes=(8,), epochs=3, random_state=0).fit(x, y[:200])
    assert clf.n_features_in_ == 64 and clf.classes_.tolist() == list(range(10))
    assert len(clf.history_["loss"]) == clf.n_iter_ == 3
    clf.partial_fit(x, y[:200])
    assert clf.n_iter_ == 4
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict_proba(x), clf.predict_proba(x))
    fresh = GlassnetClassifier(epochs=1)
    with pytest.raises(ValueError, match="classes"):
        fresh.partial_fit(x, y[:200])


def test_regressor_matches_a_linear_target():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 3))
    y = x @ np.array([1.0, -2.0, 0.5]) + 0.3
    reg = GlassnetRegressor(hidden_layer_sizes=(), epochs=200, learning_rate=0.05, alpha=0.0, random_state=0).fit(x, y)
    assert reg.score(x, y) > 0.999 and reg.predict(x).shape == (300,)
