"""Transformer blocks: gradient checks, parity with torch.nn.TransformerEncoderLayer / DecoderLayer, parameters
and names, config round trip, and a 2-layer GPT trained 10 Adam steps beside a PyTorch twin."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet.diagnostics import check_layer, check_multi_input_layer

L = gn.layers


def _randomize(layer, rng, scale=0.4):
    for p in layer.parameters():
        p.value = rng.normal(size=p.shape) * scale
        if p.name.endswith("gamma"):
            p.value = 1.0 + rng.normal(size=p.shape) * 0.1


def _without_key_biases(report):
    """dL/db_k = 0 exactly (softmax is invariant to a per-row shift), so its relative error means nothing."""
    for name in [n for n in report.errors if n.endswith("/key/bias")]:
        del report.errors[name]
    return report


@pytest.mark.parametrize("norm_first", [True, False])
def test_encoder_block_passes_gradient_check(norm_first, rng, float64):
    block = L.TransformerEncoderBlock(num_heads=2, key_dim=3, ff_dim=5, norm_first=norm_first)
    block.build((4, 6))
    _randomize(block, rng)
    report = _without_key_biases(check_layer(block, rng.normal(size=(2, 4, 6))))
    assert report.passed, report
    assert len(report.errors) == 1 + 7 + 2 + 2 + 2 + 2


def test_encoder_block_with_padding_mask_passes_gradient_check(rng, float64):
    block = L.TransformerEncoderBlock(num_heads=2, key_dim=3, ff_dim=5, activation="swish")
    block.build((4, 6))
    _randomize(block, rng)
    mask = np.array([[True] * 4, [True, True, False, False]])[:, None, :]
    forward = block.forward
    block.forward = lambda x, training=False: forward(x, training=training, attention_mask=mask)
    report = _without_key_biases(check_layer(block, rng.normal(size=(2, 4, 6))))
    assert report.passed, report


@pytest.mark.parametrize("norm_first", [True, False])
def test_decoder_block_with_cross_attention_passes_gradient_check(norm_first, rng, float64):
    block = L.TransformerDecoderBlock(num_heads=2, key_dim=2, ff_dim=4, norm_first=norm_first)
    x, memory = rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 5, 6))  # T != S and E != E_m
    block.build([(3, 4), (5, 6)])
    _randomize(block, rng)
    report = _without_key_biases(check_multi_input_layer(block, [x, memory]))
    assert report.passed, report
    assert {"input[0]", "input[1]"} <= set(report.errors)


def test_decoder_only_block_is_causal_and_passes_gradient_check(rng, float64):
    block = L.TransformerDecoderBlock(num_heads=2, key_dim=3, ff_dim=5)
    x = rng.normal(size=(2, 5, 6))
    block.build((5, 6))
    _randomize(block, rng)
    assert "cross_attention" not in [sub.name for sub in block.layers]
    report = _without_key_biases(check_layer(block, x))
    assert report.passed, report
    changed = x.copy()
    changed[:, 3:] += 1.0  # the future changes: outputs at positions 0..2 must not
    np.testing.assert_allclose(block.forward(changed)[:, :3], block.forward(x)[:, :3], rtol=1e-13)


def _copy_mha(torch, ours, theirs, e):
    """Keras kernels (E, H, d) -> PyTorch rows: in_proj_weight = [Wq; Wk; Wv], W = kernel.reshape(E, E).T."""
    kernels = [getattr(ours, f"{p}_kernel").value.reshape(e, e).T for p in ("query", "key", "value")]
    biases = [getattr(ours, f"{p}_bias").value.reshape(-1) for p in ("query", "key", "value")]
    theirs.in_proj_weight.copy_(torch.tensor(np.concatenate(kernels)))
    theirs.in_proj_bias.copy_(torch.tensor(np.concatenate(biases)))
    theirs.out_proj.weight.copy_(torch.tensor(ours.output_kernel.value.reshape(e, e).T))
    theirs.out_proj.bias.copy_(torch.tensor(ours.output_bias.value))


def _copy_dense(torch, ours, theirs):
    """Dense kernel (n_in, n_out) is nn.Linear's weight transposed."""
    theirs.weight.copy_(torch.tensor(ours.kernel.value.T))
    theirs.bias.copy_(torch.tensor(ours.bias.value))


def _copy_norm(torch, ours, theirs):
    theirs.weight.copy_(torch.tensor(ours.gamma.value))
    theirs.bias.copy_(torch.tensor(ours.beta.value))


def _copy_block(torch, block, ref, e):
    """Our sublayers -> PyTorch's: self_attn, [multihead_attn,] linear1/2, norm1 (self-attention),
    [norm2 (cross-attention),] and the feed-forward norm (norm2 in the encoder, norm3 in the decoder)."""
    with torch.no_grad():
        _copy_mha(torch, block.self_attention, ref.self_attn, e)
        _copy_dense(torch, block.feedforward_intermediate_dense, ref.linear1)
        _copy_dense(torch, block.feedforward_output_dense, ref.linear2)
        _copy_norm(torch, block.self_attention_layer_norm, ref.norm1)
        if hasattr(ref, "multihead_attn"):
            _copy_mha(torch, block.cross_attention, ref.multihead_attn, e)
            _copy_norm(torch, block.cross_attention_layer_norm, ref.norm2)
            _copy_norm(torch, block.feedforward_layer_norm, ref.norm3)
        else:
            _copy_norm(torch, block.feedforward_layer_norm, ref.norm2)


def _assert_param_grads(block, ref, e):
    g = ref.self_attn.in_proj_weight.grad.numpy()
    np.testing.assert_allclose(block.self_attention.query_kernel.grad.reshape(e, e).T, g[:e], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(block.feedforward_intermediate_dense.kernel.grad, ref.linear1.weight.grad.numpy().T,
                               rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(block.self_attention_layer_norm.gamma.grad, ref.norm1.weight.grad.numpy(),
                               rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("norm_first", [True, False])
def test_encoder_block_matches_pytorch(norm_first, rng, float64, torch):
    e, heads, ff = 8, 2, 12
    block = L.TransformerEncoderBlock(heads, e // heads, ff, norm_first=norm_first)
    block.build((5, e))
    _randomize(block, rng)
    ref = torch.nn.TransformerEncoderLayer(e, heads, ff, dropout=0.0, activation="gelu", batch_first=True,
                                           norm_first=norm_first)
    _copy_block(torch, block, ref, e)
    x = rng.normal(size=(3, 5, e))
    padding = np.array([[True] * 5, [True] * 3 + [False] * 2, [True] * 4 + [False]])  # True = real token
    y = block.forward(x, training=True, attention_mask=padding[:, None, :])
    g = rng.normal(size=y.shape)
    grad_x = block.backward(g)
    xt = torch.tensor(x, requires_grad=True)
    yt = ref(xt, src_key_padding_mask=torch.tensor(~padding))  # PyTorch: True = padding (masked out)
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(grad_x, xt.grad.numpy(), rtol=1e-9, atol=1e-12)
    _assert_param_grads(block, ref, e)


@pytest.mark.parametrize("norm_first", [True, False])
def test_decoder_block_matches_pytorch(norm_first, rng, float64, torch):
    e, heads, ff, t, s = 8, 2, 12, 4, 6
    block = L.TransformerDecoderBlock(heads, e // heads, ff, norm_first=norm_first)
    block.build([(t, e), (s, e)])
    _randomize(block, rng)
    ref = torch.nn.TransformerDecoderLayer(e, heads, ff, dropout=0.0, activation="gelu", batch_first=True,
                                           norm_first=norm_first)
    _copy_block(torch, block, ref, e)
    x, memory = rng.normal(size=(2, t, e)), rng.normal(size=(2, s, e))
    memory_padding = np.array([[True] * s, [True] * 4 + [False] * 2])
    y = block.forward([x, memory], training=True, cross_attention_mask=memory_padding[:, None, :])
    g = rng.normal(size=y.shape)
    grad_x, grad_memory = block.backward(g)
    xt, mt = torch.tensor(x, requires_grad=True), torch.tensor(memory, requires_grad=True)
    causal = torch.tensor(~np.tri(t, dtype=bool))  # PyTorch: True = may NOT attend
    yt = ref(xt, mt, tgt_mask=causal, memory_key_padding_mask=torch.tensor(~memory_padding))
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(grad_x, xt.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(grad_memory, mt.grad.numpy(), rtol=1e-9, atol=1e-12)
    _assert_param_grads(block, ref, e)
    cross = ref.multihead_attn.in_proj_weight.grad.numpy()
    np.testing.assert_allclose(block.cross_attention.value_kernel.grad.reshape(e, e).T, cross[2 * e:],
                               rtol=1e-9, atol=1e-12)


def test_block_parameters_names_order_and_config_round_trip(rng):
    x_in = L.Input(shape=(4, 8))
    first, second = L.TransformerDecoderBlock(2, 4, 16), L.TransformerDecoderBlock(2, 4, 16)
    model = gn.Model(inputs=x_in, outputs=second(first(x_in)))
    names = [p.name for p in model.parameters()]
    assert len(names) == len(set(names)) == 2 * (8 + 2 + 2 + 2 + 2)
    assert names[:3] == ["transformer_decoder_block/self_attention/query/kernel",
                         "transformer_decoder_block/self_attention/query/bias",
                         "transformer_decoder_block/self_attention/key/kernel"]
    assert names[16].startswith("transformer_decoder_block_1/")
    assert first.count_params() == 4 * (8 * 8 + 8) + 2 * 2 * 8 + (8 * 16 + 16) + (16 * 8 + 8)
    config = L.serialize_layer(first)
    again = L.deserialize_layer(config)
    assert again.get_config() == first.get_config()
    rebuilt = type(model).from_config(model.get_config())
    rebuilt.set_weights(model.get_weights())
    x = rng.normal(size=(2, 4, 8))
    np.testing.assert_allclose(rebuilt.forward(x), model.forward(x))


def test_blocks_take_shorter_sequences_and_keep_float32(rng):
    block = L.TransformerDecoderBlock(2, 4, 16)
    x = rng.normal(size=(2, 6, 8)).astype(np.float32)
    y = block.forward(x, training=True)
    assert y.dtype == np.float32 and block.backward(np.ones_like(y)).dtype == np.float32
    np.testing.assert_allclose(block.forward(x[:, :3]), block.forward(x)[:, :3], rtol=1e-5)  # causal prefix


def test_block_dropout_is_seeded(rng):
    x = rng.normal(size=(2, 5, 8))
    a, b = L.TransformerEncoderBlock(2, 4, 16, dropout=0.3, seed=1), L.TransformerEncoderBlock(2, 4, 16, dropout=0.3,
                                                                                               seed=1)
    ya = a.forward(x, training=True)
    b.build((5, 8))
    b.set_weights(a.get_weights())
    np.testing.assert_array_equal(b.forward(x, training=True), ya)
    assert not np.allclose(a.forward(x), ya)


# -- a 2-layer GPT beside a PyTorch twin --------------------------------------------------------------
VOCAB, T, E, HEADS, FF = 7, 6, 8, 2, 16


def _gpt(seed=0):
    """One-hot tokens -> bias-free Dense (the same as an Embedding lookup: onehot(t) @ K = K[t]) ->
    PositionalEmbedding -> 2 decoder-only blocks (causal, pre-LN) -> LayerNorm -> Dense logits."""
    gn.set_seed(seed)
    x_in = L.Input(shape=(T, VOCAB))
    h = L.Dense(E, use_bias=False, name="token_embedding")(x_in)
    h = L.PositionalEmbedding(T, E)(h)
    for _ in range(2):
        h = L.TransformerDecoderBlock(HEADS, E // HEADS, FF)(h)
    h = L.LayerNormalization(epsilon=1e-5)(h)
    return gn.Model(inputs=x_in, outputs=L.Dense(VOCAB, name="logits")(h))


def _torch_twin(torch, model):
    nn = torch.nn

    class Twin(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(VOCAB, E)
            self.positions = nn.Parameter(torch.zeros(T, E))
            self.blocks = nn.ModuleList(nn.TransformerEncoderLayer(E, HEADS, FF, dropout=0.0, activation="gelu",
                                                                   batch_first=True, norm_first=True)
                                        for _ in range(2))
            self.norm = nn.LayerNorm(E)
            self.head = nn.Linear(E, VOCAB)

        def forward(self, tokens):
            h = self.embedding(tokens) + self.positions[: tokens.shape[1]]
            causal = torch.tensor(~np.tri(tokens.shape[1], dtype=bool))
            for block in self.blocks:
                h = block(h, src_mask=causal)
            return self.head(self.norm(h))

    twin = Twin()
    embed, positions, b1, b2, norm, head = model.layers
    with torch.no_grad():
        twin.embedding.weight.copy_(torch.tensor(embed.kernel.value))  # (V, E): row t is token t's vector
        twin.positions.copy_(torch.tensor(positions.embeddings.value))
        for ours, theirs in zip((b1, b2), twin.blocks):
            _copy_block(torch, ours, theirs, E)
        _copy_norm(torch, norm, twin.norm)
        _copy_dense(torch, head, twin.head)
    return twin


@pytest.fixture
def one_torch_thread(torch):
    """Tiny float64 tensors: PyTorch's thread pool only costs time here (and much more on a busy machine)."""
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(saved)


def test_two_layer_gpt_trains_like_pytorch_for_10_adam_steps(rng, float64, torch, one_torch_thread):
    model = _gpt()
    model.compile(gn.optimizers.Adam(learning_rate=0.01, epsilon=1e-8),
                  gn.losses.SparseCategoricalCrossentropy(from_logits=True))
    twin = _torch_twin(torch, model)
    optimizer = torch.optim.Adam(twin.parameters(), lr=0.01, eps=1e-8)
    tokens = rng.integers(0, VOCAB, size=(8, T + 1))
    x, y = np.eye(VOCAB)[tokens[:, :-1]], tokens[:, 1:]
    for _ in range(10):
        ours = model.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0).history["loss"][0]
        optimizer.zero_grad()
        logits = twin(torch.tensor(tokens[:, :-1]))
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, VOCAB), torch.tensor(y).reshape(-1))
        loss.backward()
        optimizer.step()
        assert ours == pytest.approx(loss.item(), rel=1e-9)
    np.testing.assert_allclose(model.layers[0].kernel.value, twin.embedding.weight.detach().numpy(), rtol=1e-9,
                               atol=1e-12)
    np.testing.assert_allclose(model.layers[-1].kernel.value, twin.head.weight.detach().numpy().T, rtol=1e-9,
                               atol=1e-12)
    q_kernel = model.layers[2].self_attention.query_kernel.value.reshape(E, E).T
    np.testing.assert_allclose(q_kernel, twin.blocks[0].self_attn.in_proj_weight.detach().numpy()[:E], rtol=1e-9,
                               atol=1e-12)


def test_token_level_cross_entropy_over_every_position_fused_and_from_logits_agree(rng, float64):
    """(batch, T, vocab) outputs: softmax + sparse CE (fused gradient) and logits + from_logits=True give the
    same loss, the mean over every position of every sequence, and the same weight updates."""
    x, y = rng.normal(size=(4, T, E)), rng.integers(0, VOCAB, size=(4, T))
    models = []
    for activation, loss in (("softmax", "sparse_categorical_crossentropy"),
                             (None, gn.losses.SparseCategoricalCrossentropy(from_logits=True))):
        gn.set_seed(3)
        model = gn.Sequential([L.Input(shape=(T, E)), L.Dense(VOCAB, activation=activation)])
        model.compile(gn.optimizers.SGD(learning_rate=0.5), loss)
        z = x @ model.layers[-1].kernel.value + model.layers[-1].bias.value  # before the step
        log_p = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
        expected = -np.take_along_axis(log_p, y[..., None], axis=-1).mean()
        models.append((model, model.fit(x, y, epochs=1, batch_size=4, verbose=0).history["loss"][0], expected))
    (a, loss_a, expected), (b, loss_b, _) = models
    assert loss_a == pytest.approx(expected, rel=1e-12)
    assert loss_b == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(a.layers[-1].kernel.value, b.layers[-1].kernel.value, rtol=1e-12)


def test_gpt_saves_and_loads(tmp_path, rng):
    model = _gpt()
    x = np.eye(VOCAB, dtype=np.float32)[rng.integers(0, VOCAB, size=(3, T))]
    model.save(tmp_path / "gpt.glassnet")
    again = gn.load_model(tmp_path / "gpt.glassnet")
    np.testing.assert_array_equal(again.predict(x), model.predict(x))
    assert [p.name for p in again.parameters()] == [p.name for p in model.parameters()]


def test_encoder_block_takes_a_padding_mask_as_a_graph_input(rng, float64):
    x_in, m_in = L.Input(shape=(5, 8), name="x"), L.Input(shape=(1, 5), name="padding")
    block = L.TransformerEncoderBlock(2, 4, 16, name="encoder")
    model = gn.Model(inputs=[x_in, m_in], outputs=L.Dense(3)(block(x_in, attention_mask=m_in)))
    x = rng.normal(size=(2, 5, 8))
    padding = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], dtype=float)[:, None, :]  # 1 = real token
    out = model.forward([x, padding])
    direct = model.layers[-1].forward(block.forward([x, padding]))
    np.testing.assert_allclose(out, direct)
    changed = x.copy()
    changed[1, 3:] += 5.0  # padded positions must not change the real ones
    np.testing.assert_allclose(model.forward([changed, padding])[1, :3], out[1, :3], rtol=1e-12)
    rebuilt = type(model).from_config(model.get_config())
    rebuilt.set_weights(model.get_weights())
    np.testing.assert_allclose(rebuilt.forward([x, padding]), out)
    model.forward([x, padding], training=True)
    grad_x, grad_mask = model.backward(np.ones_like(out))
    assert grad_x.shape == x.shape and grad_mask is None
    report = _without_key_biases(check_multi_input_layer(model, [x, padding], check_input=False))
    assert report.passed, report
