"""Sequential: counting, summary, training (XOR, digits), PyTorch parity of a training run, save/load,
reproducibility and input checks."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn


def notes_network() -> gn.Sequential:
    return gn.Sequential([
        gn.layers.Input(shape=(4,)),
        gn.layers.Dense(5, activation="relu", kernel_initializer="he_normal"),
        gn.layers.Dense(3, activation="tanh"),
        gn.layers.Dense(1, activation="sigmoid"),
    ])


def test_the_notes_network_has_47_parameters_and_a_summary(capsys):
    model = notes_network()
    assert model.count_params() == (4 * 5 + 5) + (5 * 3 + 3) + (3 * 1 + 1) == 47
    model.summary()
    out = capsys.readouterr().out
    assert "Trainable params: 47" in out and "Non-trainable params: 0" in out and "Total params: 47" in out
    assert "dense_2 (Dense)" in out and "(None, 1)" in out


def test_summary_shows_parameterless_layers_as_built_with_their_shapes():
    model = gn.Sequential([gn.layers.Input(shape=(3,)), gn.layers.Dense(4), gn.layers.ReLU(),
                           gn.layers.LeakyReLU(), gn.layers.Dense(2), gn.layers.Softmax()])
    text = []
    model.summary(print_fn=text.append)
    rows = {line.split()[0]: line.split()[2:] for line in text[0].splitlines()[3:8]}
    assert rows["relu"] == ["(None,", "4)", "0"] and rows["leaky_relu"] == ["(None,", "4)", "0"]
    assert "softmax (Softmax)" in text[0] and "unbuilt" not in text[0]
    assert all(layer.built for layer in model.layers)


def test_frozen_layer_counts_as_non_trainable():
    model = notes_network()
    model.layers[0].trainable = False
    text = []
    model.summary(print_fn=text.append)
    assert "Trainable params: 22" in text[0] and "Non-trainable params: 25" in text[0]


def test_parameters_and_weights_are_listed_layer_by_layer_kernel_then_bias():
    model = notes_network()
    names = [p.name for p in model.parameters()]
    assert names == ["dense/kernel", "dense/bias", "dense_1/kernel", "dense_1/bias", "dense_2/kernel", "dense_2/bias"]
    shapes = [w.shape for w in model.get_weights()]
    assert shapes == [(4, 5), (5,), (5, 3), (3,), (3, 1), (1,)]
    new = [np.full(s, 0.5, dtype=np.float32) for s in shapes]
    model.set_weights(new)
    assert all(np.all(w == 0.5) for w in model.get_weights())


def test_mlp_solves_xor():
    gn.set_seed(3)
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    y = np.array([0, 1, 1, 0])
    model = gn.Sequential([gn.layers.Dense(8, activation="tanh"), gn.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=gn.optimizers.SGD(learning_rate=0.5, momentum=0.9), loss="binary_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(x, y, epochs=300, batch_size=4, verbose=0, seed=0)
    assert ((model.predict(x).ravel() > 0.5) == y).all()
    assert history.history["accuracy"][-1] == 1.0
    assert model.evaluate(x, y)["accuracy"] == 1.0


def _digits_split():
    x, y = gn.datasets.load_digits()
    x = x.reshape(len(x), -1).astype(np.float32) / 16.0
    order = np.random.default_rng(0).permutation(len(x))
    return x[order[:1400]], y[order[:1400]], x[order[1400:]], y[order[1400:]]


def test_bundled_digits_have_the_documented_shape_and_classes():
    x, y = gn.datasets.load_digits()
    assert x.shape == (1797, 8, 8) and x.dtype == np.uint8 and x.max() == 16
    assert np.bincount(y).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]


def test_64_64_10_mlp_reaches_95_percent_on_held_out_digits():
    gn.set_seed(0)
    x_train, y_train, x_test, y_test = _digits_split()
    model = gn.Sequential([gn.layers.Dense(64, activation="relu", kernel_initializer="he_normal"),
                           gn.layers.Dense(10, activation="softmax")])
    model.compile(optimizer=gn.optimizers.SGD(learning_rate=0.05, momentum=0.9),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=20, batch_size=32, verbose=0, seed=0)
    assert model.evaluate(x_test, y_test)["accuracy"] >= 0.95


def test_three_layer_mlp_trains_like_pytorch_step_by_step(rng, float64, torch):
    x = rng.normal(size=(40, 6))
    y = rng.integers(0, 3, size=40)
    model = gn.Sequential([gn.layers.Input(shape=(6,)), gn.layers.Dense(8, activation="tanh"),
                           gn.layers.Dense(5, activation="relu"), gn.layers.Dense(3, activation="softmax")])
    model.compile(optimizer=gn.optimizers.SGD(learning_rate=0.1), loss="sparse_categorical_crossentropy")
    ref = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 5), torch.nn.ReLU(),
                              torch.nn.Linear(5, 3))
    with torch.no_grad():
        for lin, dense in zip([ref[0], ref[2], ref[4]], model.layers):
            lin.weight.copy_(torch.tensor(dense.kernel.value.T))
            lin.bias.copy_(torch.tensor(dense.bias.value))
    opt = torch.optim.SGD(ref.parameters(), lr=0.1)
    ours, theirs = [], []
    with model.training_session():
        for step in range(20):
            batch = slice((step * 10) % 40, (step * 10) % 40 + 10)
            ours.append(model.train_step((x[batch], y[batch]))["loss"])
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(ref(torch.tensor(x[batch])), torch.tensor(y[batch]))
            loss.backward()
            opt.step()
            theirs.append(loss.item())
    np.testing.assert_allclose(ours, theirs, rtol=1e-9)
    np.testing.assert_allclose(model.layers[0].kernel.value, ref[0].weight.detach().numpy().T, rtol=1e-9)


def test_same_seed_same_history_bit_for_bit():
    x, y, _, _ = _digits_split()

    def run():
        model = gn.Sequential([gn.layers.Dense(16, activation="relu"), gn.layers.Dense(10, activation="softmax")])
        model.compile(optimizer=gn.optimizers.SGD(0.05), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        return model.fit(x[:300], y[:300], epochs=3, verbose=0, seed=7, validation_split=0.2).history

    assert run() == run()
    gn.set_seed(11)
    a = gn.layers.Dense(3)
    a.build((2,))
    gn.set_seed(11)
    b = gn.layers.Dense(3)
    b.build((2,))
    np.testing.assert_array_equal(a.kernel.value, b.kernel.value)


def test_initializer_seed_fixes_the_weights():
    a, b = gn.layers.Dense(3, kernel_initializer=gn.initializers.HeNormal(seed=5)), gn.layers.Dense(
        3, kernel_initializer=gn.initializers.HeNormal(seed=5))
    a.build((4,))
    b.build((4,))
    np.testing.assert_array_equal(a.kernel.value, b.kernel.value)


def test_fit_history_has_keras_keys_and_validation(rng):
    x = rng.normal(size=(50, 3)).astype(np.float32)
    y = x @ np.array([[1.0], [-2.0], [0.5]], dtype=np.float32)
    model = gn.Sequential([gn.layers.Dense(1)])
    model.compile(optimizer=gn.optimizers.SGD(0.05), loss="mse", metrics=["mae"])
    history = model.fit(x, y, epochs=4, batch_size=10, validation_split=0.2, verbose=0, seed=0)
    assert set(history.history) == {"loss", "mae", "val_loss", "val_mae", "learning_rate"}
    assert all(len(v) == 4 for v in history.history.values())
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_batch_size_extremes_are_batch_and_stochastic_gradient_descent(rng):
    x = rng.normal(size=(12, 2))
    y = x.sum(axis=1)
    for batch_size in (len(x), 1):
        model = gn.Sequential([gn.layers.Dense(1)])
        model.compile(optimizer=gn.optimizers.SGD(0.01), loss="mse")

        class Count(gn.callbacks.Callback):
            calls: list[int] = []

            def on_batch_end(self, batch, logs=None):
                self.calls.append(batch)

        counter = Count()
        model.fit(x, y, epochs=1, batch_size=batch_size, verbose=0, callbacks=[counter])
        assert len(counter.calls) == len(x) // batch_size


def test_predict_is_batched_and_keeps_no_cache(rng):
    model = gn.Sequential([gn.layers.Dense(4, activation="relu"), gn.layers.Dense(2)])
    x = rng.normal(size=(70, 3)).astype(np.float32)
    full = model.forward(x)
    np.testing.assert_allclose(model.predict(x, batch_size=32), full, rtol=1e-6)
    assert all(layer.cache == {} for layer in model.layers)
    assert model.predict(x).dtype == np.float32


def test_save_and_load_round_trip(tmp_path, rng):
    model = notes_network()
    model.compile(optimizer=gn.optimizers.SGD(0.1, momentum=0.5), loss="binary_crossentropy", metrics=["accuracy"])
    x = rng.normal(size=(10, 4)).astype(np.float32)
    path = tmp_path / "m.glassnet"
    model.save(path)
    loaded = gn.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert [p.name for p in loaded.parameters()] == [p.name for p in model.parameters()]
    assert isinstance(loaded.optimizer, gn.optimizers.SGD) and loaded.optimizer.momentum == 0.5
    assert loaded.loss.name == "binary_crossentropy" and [m.name for m in loaded.metrics] == ["accuracy"]
    assert loaded.count_params() == 47


def test_model_file_is_a_zip_of_json_and_npz_without_pickle(tmp_path):
    import json
    import zipfile

    model = notes_network()
    model.save(tmp_path / "m.glassnet")
    with zipfile.ZipFile(tmp_path / "m.glassnet") as archive:
        assert sorted(archive.namelist()) == ["config.json", "weights.npz"]
        config = json.loads(archive.read("config.json"))
    assert config["model"]["class_name"] == "Sequential"
    assert [layer["class_name"] for layer in config["model"]["config"]["layers"]] == ["Dense"] * 3
    assert not list(tmp_path.glob(".*tmp"))  # the temporary file was renamed away


def test_loading_refuses_unknown_layer_classes(tmp_path):
    import json
    import zipfile

    model = notes_network()
    model.save(tmp_path / "m.glassnet")
    with zipfile.ZipFile(tmp_path / "m.glassnet") as archive:
        config = json.loads(archive.read("config.json"))
        weights = archive.read("weights.npz")
    config["model"]["config"]["layers"][0]["class_name"] = "os.system"
    with zipfile.ZipFile(tmp_path / "bad.glassnet", "w") as archive:
        archive.writestr("config.json", json.dumps(config))
        archive.writestr("weights.npz", weights)
    with pytest.raises(gn.ConfigError, match="unknown layer class 'os.system'"):
        gn.load_model(tmp_path / "bad.glassnet")
    (tmp_path / "junk.glassnet").write_bytes(b"not a zip")
    with pytest.raises(gn.ConfigError, match="not a glassnet model file"):
        gn.load_model(tmp_path / "junk.glassnet")


def test_nan_in_inputs_is_refused_before_training():
    model = gn.Sequential([gn.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x = np.ones((5, 2))
    x[3, 1] = np.nan
    with pytest.raises(gn.NonFiniteError, match=r"1 NaN or Inf.*sample 3"):
        model.fit(x, np.ones(5), verbose=0)
    with pytest.raises(gn.NonFiniteError, match="y holds"):
        model.fit(np.ones((5, 2)), np.array([1, 2, np.inf, 4, 5]), verbose=0)


def test_wrong_input_width_names_the_model_and_both_shapes():
    model = notes_network()
    model.compile(optimizer="sgd", loss="binary_crossentropy")
    with pytest.raises(gn.ShapeError, match=r"\(batch, 4\).*\(3, 5\)"):
        model.predict(np.ones((3, 5)))


def test_target_width_mismatch_is_explained():
    model = gn.Sequential([gn.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    with pytest.raises(gn.ShapeError, match="units"):
        model.fit(np.ones((4, 2)), np.eye(4), verbose=0)
    with pytest.raises(gn.LabelError, match="sparse_categorical_crossentropy"):
        model.fit(np.ones((4, 2)), np.array([0, 1, 2, 1]), verbose=0)


def test_sparse_labels_out_of_range_are_refused():
    model = gn.Sequential([gn.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    with pytest.raises(gn.LabelError, match=r"\[0, 3\)"):
        model.fit(np.ones((4, 2)), np.array([0, 1, 5, 1]), verbose=0)


def test_fit_before_compile_and_unknown_optimizer_are_clear():
    model = gn.Sequential([gn.layers.Dense(1)])
    with pytest.raises(gn.StateError, match="compile"):
        model.fit(np.ones((2, 2)), np.ones(2), verbose=0)
    with pytest.raises(gn.UnknownNameError, match="sgd"):
        model.compile(optimizer="sgdd", loss="mse")


def test_a_model_is_a_layer_of_another_model(rng, float64):
    from glassnet.diagnostics import check_layer

    inner = gn.Sequential([gn.layers.Dense(4, activation="tanh"), gn.layers.Dense(3, activation="sigmoid")])
    outer = gn.Sequential([gn.layers.Dense(5, activation="elu"), inner, gn.layers.Dense(2)])
    report = check_layer(outer, rng.normal(size=(6, 3)))
    assert report.passed, report
    assert len(outer.parameters()) == 8


def test_float64_mode_builds_float64_parameters():
    gn.set_floatx("float64")
    layer = gn.layers.Dense(2)
    layer.build((3,))
    assert layer.kernel.dtype == np.float64 and gn.floatx() == "float64"
    with pytest.raises(gn.ConfigError, match="float32"):
        gn.set_floatx("int8")
