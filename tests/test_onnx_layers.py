"""ONNX round trips for every registered layer type and one model of each network family.

Each case builds a small model, moves every weight away from its initial value (so zero biases or unit
norms cannot hide a layout mistake), exports it, checks it with onnx.checker (full check, inside
``to_onnx``) and compares onnxruntime's outputs with ``model.predict`` within 1e-5 in float32.
``CASES`` has one entry per registered layer class; a class that cannot be exported is listed in
``glassnet.export.onnx.UNSUPPORTED`` instead, and the contract test below fails for a class that is in
neither.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import glassnet as gn
from glassnet.export import onnx as gonnx
from glassnet.layers import LAYERS

onnxruntime = pytest.importorskip("onnxruntime", reason="the onnx extra: pip install 'glassnet[onnx]'")
L = gn.layers
Case = Callable[[np.random.Generator], tuple[Any, list[np.ndarray]]]


def _perturb(model: Any, rng: np.random.Generator) -> None:
    """Every parameter (biases, norms, moving statistics too) moved by noise; variances stay positive."""
    for p in model.parameters():
        noise = rng.normal(0.0, 0.3, size=p.value.shape).astype(p.value.dtype)
        p.value[...] = np.abs(p.value + noise) + 0.1 if "variance" in p.name else p.value + noise


def _run(model: Any, xs: list[np.ndarray], path: Any, opset: int = gonnx.DEFAULT_OPSET) -> list[np.ndarray]:
    gn.export_onnx(model, path, opset=opset)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {i.name: x for i, x in zip(session.get_inputs(), xs)})


def _check(model: Any, xs: list[np.ndarray], tmp_path: Any, opset: int = gonnx.DEFAULT_OPSET) -> None:
    got = _run(model, xs, tmp_path / "model.onnx", opset)
    expected = model.predict(xs[0] if len(xs) == 1 else xs)
    expected = expected if isinstance(expected, list) else [expected]
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert g.dtype == np.float32 and g.shape == e.shape, (g.dtype, g.shape, e.shape)
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-5)


def seq(shape: tuple[int, ...], *layers: Any, batch: int = 3, ints: int | None = None) -> Case:
    """A case: Sequential([Input(shape), *layers]) on normal inputs (or ids below ``ints``)."""

    def make(rng: np.random.Generator) -> tuple[Any, list[np.ndarray]]:
        model = gn.Sequential([L.Input(shape=shape), *layers])
        x = rng.integers(0, ints, size=(batch, *shape)) if ints else rng.normal(size=(batch, *shape))
        return model, [x.astype(np.int64 if ints else np.float32)]

    return make


def graph(inputs: list[tuple[int, ...]], body: Callable[..., Any], masks: dict[int, tuple[int, ...]] | None = None,
          batch: int = 3) -> Case:
    """A case: a Functional model ``body(*Input tensors)`` on normal inputs (0/1 for the inputs in ``masks``)."""

    def make(rng: np.random.Generator) -> tuple[Any, list[np.ndarray]]:
        tensors = [L.Input(shape=s, name=f"in{k}") for k, s in enumerate(inputs)]
        model = gn.Model(inputs=tensors, outputs=body(*tensors))
        xs = []
        for k, s in enumerate(inputs):
            if masks and k in masks:
                m = rng.random((batch, *s)) < 0.7
                m[0] = False  # a sample with nothing to attend to: zero rows, not NaN
                xs.append(m.astype(np.float32))
            else:
                xs.append(rng.normal(size=(batch, *s)).astype(np.float32))
        return model, xs

    return make


def _mha_masked(q: Any, v: Any, m: Any) -> Any:
    return L.MultiHeadAttention(num_heads=2, key_dim=3)([q, v], attention_mask=m)


def _mha_padding_and_causal(x: Any, m: Any) -> Any:
    return L.MultiHeadAttention(num_heads=2, key_dim=2, use_causal_mask=True)([x, x], attention_mask=m)


def _encoder_masked(x: Any, m: Any) -> Any:
    return L.TransformerEncoderBlock(num_heads=2, key_dim=2, ff_dim=6)(x, attention_mask=m)


CASES: dict[str, list[Case]] = {
    "Dense": [seq((4,), L.Dense(3, activation="relu")), seq((2, 4), L.Dense(3, use_bias=False, activation="tanh"))],
    "Activation": [seq((5,), L.Activation(name)) for name in
                   ("linear", "relu", "sigmoid", "tanh", "softmax", "leaky_relu", "elu", "selu", "softplus", "swish",
                    "gelu")],
    "ReLU": [seq((5,), L.ReLU())],
    "LeakyReLU": [seq((5,), L.LeakyReLU(alpha=0.2))],
    "PReLU": [seq((2, 3), L.PReLU())],
    "ELU": [seq((5,), L.ELU(alpha=0.7))],
    "Sigmoid": [seq((4,), L.Sigmoid())],
    "Tanh": [seq((4,), L.Tanh())],
    "SELU": [seq((4,), L.SELU())],
    "Softmax": [seq((2, 5), L.Softmax())],
    "GELU": [seq((6,), L.GELU()), seq((6,), L.GELU(approximate="tanh"))],
    "Swish": [seq((6,), L.Swish())],
    "Softplus": [seq((6,), L.Softplus())],
    "Dropout": [seq((6,), L.Dropout(0.5, seed=0))],
    "GaussianNoise": [seq((6,), L.GaussianNoise(0.3, seed=0))],
    "SpatialDropout2D": [seq((3, 3, 4), L.SpatialDropout2D(0.5, seed=0))],
    "Sampling": [graph([(3,), (3,)], lambda a, b: L.Sampling(seed=0)([a, b]))],
    "BatchNormalization": [seq((4,), L.BatchNormalization()), seq((3, 3, 2), L.BatchNormalization(center=False))],
    "LayerNormalization": [seq((5,), L.LayerNormalization()), seq((2, 4), L.LayerNormalization(scale=False))],
    "Add": [graph([(3,), (3,), (3,)], lambda a, b, c: L.Add()([a, b, c]))],
    "Multiply": [graph([(4,), (4,)], lambda a, b: L.Multiply()([a, b]))],
    "Concatenate": [graph([(2, 3), (1, 3)], lambda a, b: L.Concatenate(axis=1)([a, b]))],
    "Conv2D": [
        seq((5, 6, 2), L.Conv2D(3, 3)),
        seq((5, 7, 2), L.Conv2D(4, (2, 3), strides=2, padding="same", activation="relu")),
        seq((6, 6, 3), L.Conv2D(2, 2, strides=(1, 2), padding="same")),  # odd "same" totals: extra zero after
        seq((7, 7, 4), L.Conv2D(4, 3, dilation_rate=2, groups=2, use_bias=False)),
        seq((7, 7, 4), L.Conv2D(6, 3, padding="same", dilation_rate=(2, 1), groups=2)),
    ],
    "Conv1D": [
        seq((7, 2), L.Conv1D(3, 3)),
        seq((7, 3), L.Conv1D(2, 2, strides=2, padding="same", activation="tanh")),
        seq((8, 4), L.Conv1D(4, 3, padding="causal", dilation_rate=2, groups=2)),
    ],
    "Conv2DTranspose": [
        seq((3, 4, 2), L.Conv2DTranspose(2, 3)),
        seq((3, 3, 2), L.Conv2DTranspose(3, 2, strides=2, padding="same")),
        seq((3, 4, 2), L.Conv2DTranspose(2, 3, strides=2, padding="same", activation="relu")),
        seq((3, 3, 1), L.Conv2DTranspose(2, 2, strides=3)),  # s > k: output_padding fills the gap
        seq((3, 3, 2), L.Conv2DTranspose(2, 2, dilation_rate=2, padding="same", use_bias=False)),
    ],
    "MaxPooling2D": [seq((4, 6, 2), L.MaxPooling2D()), seq((5, 5, 2), L.MaxPooling2D(3, strides=2, padding="same"))],
    "MaxPooling1D": [seq((6, 2), L.MaxPooling1D()), seq((5, 2), L.MaxPooling1D(3, strides=1, padding="same"))],
    "AveragePooling2D": [seq((4, 4, 2), L.AveragePooling2D()),
                         seq((5, 5, 1), L.AveragePooling2D(3, strides=2, padding="same"))],
    "AveragePooling1D": [seq((6, 3), L.AveragePooling1D()), seq((5, 2), L.AveragePooling1D(padding="same"))],
    "GlobalAveragePooling2D": [seq((3, 4, 2), L.GlobalAveragePooling2D()),
                               seq((3, 4, 2), L.GlobalAveragePooling2D(keepdims=True))],
    "GlobalMaxPooling2D": [seq((3, 4, 2), L.GlobalMaxPooling2D())],
    "GlobalAveragePooling1D": [seq((5, 3), L.GlobalAveragePooling1D())],
    "GlobalMaxPooling1D": [seq((5, 3), L.GlobalMaxPooling1D(keepdims=True))],
    "UpSampling2D": [seq((2, 3, 2), L.UpSampling2D()), seq((2, 2, 1), L.UpSampling2D(size=(1, 3)))],
    "ZeroPadding2D": [seq((2, 3, 2), L.ZeroPadding2D(((1, 0), (2, 1))))],
    "Flatten": [seq((2, 3, 2), L.Flatten())],
    "Reshape": [seq((6,), L.Reshape((3, -1)))],
    "Permute": [seq((3, 4, 2), L.Permute((3, 1, 2)))],
    "RepeatVector": [seq((4,), L.RepeatVector(3))],
    "SimpleRNN": [
        seq((4, 2), L.SimpleRNN(3)),
        seq((3, 2), L.SimpleRNN(2, return_sequences=True, go_backwards=True)),
        seq((4, 2), L.SimpleRNN(3, activation="relu", use_bias=False, return_state=True)),
    ],
    "LSTM": [
        seq((4, 2), L.LSTM(3)),
        seq((3, 3), L.LSTM(2, return_sequences=True, return_state=True)),
        seq((5, 2), L.LSTM(3, return_sequences=True, go_backwards=True)),
    ],
    "GRU": [
        seq((4, 2), L.GRU(3)),
        seq((3, 2), L.GRU(2, reset_after=False, return_sequences=True)),
        seq((5, 3), L.GRU(3, go_backwards=True, return_state=True)),
        seq((4, 2), L.GRU(2, reset_after=False, use_bias=False, go_backwards=True, return_sequences=True)),
    ],
    "Bidirectional": [
        seq((3, 2), L.Bidirectional(L.LSTM(2))),
        seq((4, 2), L.Bidirectional(L.GRU(2, return_sequences=True), merge_mode="sum")),
        seq((4, 2), L.Bidirectional(L.SimpleRNN(3, return_sequences=True), merge_mode="ave")),
        seq((3, 2), L.Bidirectional(L.LSTM(2, return_sequences=True, return_state=True), merge_mode="mul")),
        seq((3, 2), L.Bidirectional(L.GRU(2, return_sequences=True), merge_mode=None)),  # two outputs
        seq((3, 2), L.Bidirectional(L.LSTM(2), backward_layer=L.LSTM(3, go_backwards=True))),
    ],
    "TimeDistributed": [seq((4, 2), L.TimeDistributed(L.Dense(3, activation="tanh"))),
                        seq((3, 4, 4, 1), L.TimeDistributed(L.Conv2D(2, 3)))],
    "Embedding": [seq((4,), L.Embedding(5, 3), ints=5), seq((2, 3), L.Embedding(7, 2), ints=7)],
    "MultiHeadAttention": [
        graph([(4, 5), (3, 5)], lambda q, v: L.MultiHeadAttention(num_heads=2, key_dim=3)([q, v])),
        graph([(2, 3), (2, 4), (2, 5)], lambda q, v, k: L.MultiHeadAttention(
            num_heads=1, key_dim=2, value_dim=3, output_shape=4, use_bias=False)([q, v, k])),
        graph([(4, 6)], lambda x: L.MultiHeadAttention(num_heads=3, key_dim=2, use_causal_mask=True)([x, x])),
        graph([(4, 5), (3, 5), (4, 3)], _mha_masked, masks={2: (4, 3)}),
        graph([(5, 4), (1, 5)], _mha_padding_and_causal, masks={1: (1, 5)}),  # a key padding mask, broadcast
    ],
    "PositionalEmbedding": [seq((4, 3), L.PositionalEmbedding(sequence_length=6, output_dim=3))],
    "SinusoidalPositionalEncoding": [seq((5, 4), L.SinusoidalPositionalEncoding()),
                                     seq((3, 6), L.SinusoidalPositionalEncoding(max_length=8, max_wavelength=50.0))],
    "PatchEmbedding": [seq((4, 6, 2), L.PatchEmbedding(patch_size=2, output_dim=3)),
                       seq((4, 6, 1), L.PatchEmbedding(patch_size=(2, 3), output_dim=5, use_bias=False))],
    "TransformerEncoderBlock": [
        seq((3, 4), L.TransformerEncoderBlock(num_heads=2, key_dim=2, ff_dim=6)),
        seq((3, 4), L.TransformerEncoderBlock(num_heads=1, key_dim=4, ff_dim=5, norm_first=False, activation="relu")),
        graph([(4, 4), (4, 4)], _encoder_masked, masks={1: (4, 4)}),
    ],
    "TransformerDecoderBlock": [
        seq((3, 4), L.TransformerDecoderBlock(num_heads=2, key_dim=2, ff_dim=6)),
        graph([(3, 4), (5, 4)], lambda x, m: L.TransformerDecoderBlock(num_heads=2, key_dim=2, ff_dim=6,
                                                                       norm_first=False)([x, m])),
    ],
}

EXEMPT = {"Input": "declares a graph input; it computes nothing"}
MODELS = {"Sequential", "Functional", "Autoencoder", "VAE", "GAN"}  # checked by the family tests below


def built_in_layers() -> dict[str, type]:
    return {name: cls for name, cls in LAYERS.classes().items() if cls.__module__.startswith("glassnet.")}


def test_every_registered_layer_has_an_onnx_round_trip_or_a_reason():
    missing = []
    for name, cls in sorted(built_in_layers().items()):
        if name in EXEMPT or cls in gonnx.UNSUPPORTED:
            continue
        if gonnx.find_converter(cls) is None or (name not in CASES and name not in MODELS):
            missing.append(name)
    assert not missing, (
        f"layers with neither an ONNX round trip nor a reason they cannot be exported: {missing}; hint: add a "
        "converter (glassnet.export.onnx.converter) and a CASES line in tests/test_onnx_layers.py, or "
        "glassnet.export.onnx.cannot_export(cls, 'because ...')")
    stale = sorted(set(CASES) - set(built_in_layers()))
    assert not stale, f"CASES lists {stale}, which are not registered layers"


PARAMS = [pytest.param(name, case, id=f"{name}-{k}") for name, cases in CASES.items() for k, case in enumerate(cases)]


@pytest.mark.parametrize(("name", "case"), PARAMS)
def test_layer_round_trip(name: str, case: Case, tmp_path, rng):
    model, xs = case(rng)
    _perturb(model, rng)
    _check(model, xs, tmp_path)


@pytest.mark.parametrize("opset", [13, 16, 18, 20])
def test_other_opsets(opset, tmp_path, rng):
    """Reductions take their axes as an attribute before opset 18 and as an input from 18 on; before 17
    LayerNormalization is written out."""
    model = gn.Sequential([L.Input(shape=(5, 6, 2)), L.Conv2D(3, 3, padding="same"), L.MaxPooling2D(),
                           L.Reshape((-1, 3)), L.LayerNormalization(),
                           L.TransformerEncoderBlock(num_heads=1, key_dim=3, ff_dim=4), L.LSTM(3),
                           L.Dense(2, activation="gelu")])
    _perturb(model, rng)
    _check(model, [rng.normal(size=(2, 5, 6, 2)).astype(np.float32)], tmp_path, opset=opset)


def test_a_class_marked_unsupported_is_a_clear_error_naming_it(tmp_path, monkeypatch):
    class Lookahead(L.Dense):
        pass

    monkeypatch.setitem(gonnx.UNSUPPORTED, Lookahead, "it reads future inputs")
    model = gn.Sequential([L.Input(shape=(3,)), Lookahead(2, name="peek")])
    with pytest.raises(gn.ConfigError, match=r"'peek' \(Lookahead\) cannot be exported to ONNX: it reads future"):
        gn.export_onnx(model, tmp_path / "m.onnx")
    assert gonnx.find_converter(Lookahead) is None  # the entry wins over the Dense base class


def test_sampling_with_noise_in_inference_and_masking_embeddings_are_refused(tmp_path):
    a, b = L.Input(shape=(2,)), L.Input(shape=(2,))
    noisy = gn.Model(inputs=[a, b], outputs=L.Sampling(sample=True, name="draw")([a, b]))
    with pytest.raises(gn.ConfigError, match="'draw' \\(Sampling\\) has sample=True"):
        gn.export_onnx(noisy, tmp_path / "m.onnx")
    masked = gn.Sequential([L.Input(shape=(4,)), L.Embedding(5, 3, mask_zero=True, name="emb"), L.LSTM(2)])
    with pytest.raises(gn.ConfigError, match="'emb' \\(Embedding\\) has mask_zero=True"):
        gn.export_onnx(masked, tmp_path / "m.onnx")


def test_recurrent_activation_without_onnx_form_is_refused(tmp_path):
    model = gn.Sequential([L.Input(shape=(3, 2)), L.SimpleRNN(2, activation="swish", name="rnn")])
    with pytest.raises(gn.ConfigError, match="'rnn' \\(SimpleRNN\\) uses the activation 'swish'"):
        gn.export_onnx(model, tmp_path / "m.onnx")


def test_opset_below_the_minimum_is_refused(tmp_path):
    model = gn.Sequential([L.Input(shape=(3,)), L.Dense(2)])
    with pytest.raises(gn.ConfigError, match="opset must be >= 13"):
        gn.export_onnx(model, tmp_path / "m.onnx", opset=11)


# -- one model of each network family ------------------------------------------------------------
def _cnn(rng):
    model = gn.Sequential([L.Input(shape=(12, 12, 1)), L.Conv2D(4, 3, activation="relu"), L.BatchNormalization(),
                           L.MaxPooling2D(), L.Conv2D(6, 3, padding="same", activation="relu"),
                           L.GlobalAveragePooling2D(), L.Dropout(0.3), L.Dense(3, activation="softmax")])
    return model, [rng.normal(size=(4, 12, 12, 1)).astype(np.float32)]


def _lstm_classifier(rng):
    model = gn.Sequential([L.Input(shape=(6,)), L.Embedding(20, 5), L.LSTM(4, return_sequences=True), L.LSTM(3),
                           L.Dense(2, activation="softmax")])
    return model, [rng.integers(0, 20, size=(4, 6)).astype(np.int64)]


def _gru_tagger(rng):
    model = gn.Sequential([L.Input(shape=(5, 3)), L.Bidirectional(L.GRU(4, return_sequences=True)),
                           L.TimeDistributed(L.Dense(2))])
    return model, [rng.normal(size=(4, 5, 3)).astype(np.float32)]


def _autoencoder(rng):
    encoder = gn.Sequential([L.Input(shape=(8, 8, 1)), L.Conv2D(4, 3, strides=2, padding="same", activation="relu"),
                             L.Flatten(), L.Dense(6, activation="relu")])
    decoder = gn.Sequential([L.Input(shape=(6,)), L.Dense(4 * 4 * 4, activation="relu"), L.Reshape((4, 4, 4)),
                             L.Conv2DTranspose(1, 3, strides=2, padding="same", activation="sigmoid")])
    return gn.models.Autoencoder(encoder, decoder), [rng.normal(size=(3, 8, 8, 1)).astype(np.float32)]


def _vae(rng):
    x = L.Input(shape=(10,))
    h = L.Dense(8, activation="relu")(x)
    encoder = gn.Model(inputs=x, outputs=[L.Dense(3)(h), L.Dense(3)(h)])
    decoder = gn.Sequential([L.Input(shape=(3,)), L.Dense(8, activation="relu"), L.Dense(10, activation="sigmoid")])
    return gn.models.VAE(encoder, decoder, seed=0), [rng.normal(size=(3, 10)).astype(np.float32)]


def _gan_generator(rng):
    generator = gn.Sequential([L.Input(shape=(4,)), L.Dense(2 * 2 * 3, activation="relu"), L.Reshape((2, 2, 3)),
                               L.UpSampling2D(), L.Conv2D(1, 3, padding="same", activation="tanh")])
    discriminator = gn.Sequential([L.Input(shape=(4, 4, 1)), L.Flatten(), L.Dense(1)])
    gan = gn.models.GAN(generator, discriminator, latent_dim=4, seed=0)
    return gan, [rng.normal(size=(3, 4)).astype(np.float32)]


def _gpt(rng):
    tokens = L.Input(shape=(6,), name="tokens")
    h = L.PositionalEmbedding(sequence_length=6, output_dim=8)(L.Embedding(11, 8)(tokens))
    h = L.TransformerDecoderBlock(num_heads=2, key_dim=4, ff_dim=16)(h)
    h = L.TransformerDecoderBlock(num_heads=2, key_dim=4, ff_dim=16)(h)
    logits = L.Dense(11)(L.LayerNormalization()(h))
    return gn.Model(inputs=tokens, outputs=logits), [rng.integers(0, 11, size=(3, 6)).astype(np.int64)]


def _vit(rng):
    image = L.Input(shape=(8, 8, 3))
    h = L.SinusoidalPositionalEncoding()(L.PatchEmbedding(patch_size=4, output_dim=8)(image))
    h = L.TransformerEncoderBlock(num_heads=2, key_dim=4, ff_dim=16)(h)
    out = L.Dense(5, activation="softmax")(L.GlobalAveragePooling1D()(L.LayerNormalization()(h)))
    return gn.Model(inputs=image, outputs=out), [rng.normal(size=(3, 8, 8, 3)).astype(np.float32)]


def _two_outputs(rng):
    x = L.Input(shape=(5,))
    h = L.Dense(4, activation="relu")(x)
    return gn.Model(inputs=x, outputs=[L.Dense(2, activation="softmax")(h), L.Dense(1)(h)]), \
        [rng.normal(size=(3, 5)).astype(np.float32)]


FAMILIES = {"cnn": _cnn, "lstm": _lstm_classifier, "gru": _gru_tagger, "autoencoder": _autoencoder, "vae": _vae,
            "gan_generator": _gan_generator, "gpt": _gpt, "vit": _vit, "two_outputs": _two_outputs}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_family_model_round_trip(family, tmp_path, rng):
    model, xs = FAMILIES[family](rng)
    _perturb(model, rng)
    _check(model, xs, tmp_path)


def test_token_inputs_are_int64_and_the_names_follow_the_inputs(tmp_path, rng):
    model, xs = _gpt(rng)
    gn.export_onnx(model, tmp_path / "gpt.onnx")
    session = onnxruntime.InferenceSession(str(tmp_path / "gpt.onnx"), providers=["CPUExecutionProvider"])
    (inp,), (out,) = session.get_inputs(), session.get_outputs()
    assert (inp.name, inp.type, inp.shape) == ("tokens", "tensor(int64)", ["batch", 6])
    assert (out.name, out.shape) == ("output", ["batch", 6, 11])
