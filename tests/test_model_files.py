"""Model files from strangers: every damaged, edited or hostile file is a ModelFileError, found before
the loader allocates more than the file holds (issue 11, item 3)."""

import io
import json
import os
import stat
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest

import glassnet as gn
from glassnet._files import atomic_write
from glassnet.errors import ModelFileError


def _model(optimizer=True):
    gn.set_seed(0)
    model = gn.Sequential([gn.layers.Input(shape=(3,)), gn.layers.Dense(4, activation="relu"),
                           gn.layers.BatchNormalization(), gn.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    if optimizer:
        rng = np.random.default_rng(0)
        model.fit(rng.normal(size=(16, 3)), rng.integers(0, 2, 16), epochs=1, verbose=0, seed=0)
    return model


def _members(path):
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _write(path, members, compression=zipfile.ZIP_DEFLATED):
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def _npz(arrays):
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "m.glassnet"
    _model().save(path, include_optimizer=True)
    return path


def _edit_config(saved, tmp_path, edit):
    members = _members(saved)
    config = json.loads(members["config.json"])
    edit(config)
    members["config.json"] = json.dumps(config).encode()
    return _write(tmp_path / "edited.glassnet", members)


def _edit_array(saved, tmp_path, member, key, value):
    members = _members(saved)
    with np.load(io.BytesIO(members[member])) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays[key] = value
    members[member] = _npz(arrays)
    return _write(tmp_path / "edited.glassnet", members)


def test_a_valid_file_with_optimizer_state_round_trips(saved):
    model = gn.load_model(saved)
    original = _model()
    for a, b in zip(model.get_weights(), original.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert model.optimizer.iterations == 1


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda c: c.update(format_version=2), "unsupported format version 2"),
        (lambda c: c.update(format_version="1"), "not a glassnet model"),
        (lambda c: c.update(dtype="int8"), "dtype must be"),
        (lambda c: c.update(weights=c["weights"][:-1]), "lists 7 weights"),
        (lambda c: c["model"]["config"]["layers"][0]["config"].update(units=10**12), "3000000000000 numbers"),
        (lambda c: c["model"]["config"]["layers"][0]["config"].update(units="many"), "cannot rebuild the model"),
        (lambda c: c["model"]["config"].update(input_shape=[10**15]), "numbers per sample"),
        (lambda c: c.update(model={"class_name": "Dense", "config": {"units": 2}}), "not a model"),
        (lambda c: c["compile"].update(loss="no_such_loss"), "bad compile settings"),
        (lambda c: c.update(optimizer_state=c["optimizer_state"][:-1]), "optimizer state entries"),
    ],
)
def test_edited_configs_are_model_file_errors(saved, tmp_path, edit, match):
    path = _edit_config(saved, tmp_path, edit)
    with pytest.raises(ModelFileError, match=match) as info:
        gn.load_model(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_huge_units_are_refused_before_allocating(saved, tmp_path):
    path = _edit_config(saved, tmp_path, lambda c: c["model"]["config"]["layers"][0]["config"].update(units=10**12))
    with pytest.raises(ModelFileError, match="hold only"):
        gn.load_model(path)


@pytest.mark.parametrize(
    ("member", "key", "value", "match"),
    [
        ("weights.npz", "w0000", np.full((3, 4), np.nan, np.float32), "NaN or Inf"),
        ("weights.npz", "w0000", np.zeros((3, 4), np.float64), "dtype <f8, expected float32"),
        ("weights.npz", "w0000", np.zeros((3, 5), np.float32), r"shape \(3, 5\), the architecture needs \(3, 4\)"),
        ("weights.npz", "w0000", np.zeros((3, 4), ">f4"), "dtype >f4"),
        ("weights.npz", "w0005", -np.ones(4, np.float32), "negative values"),
        ("weights.npz", "w0000", np.array(["a"] * 12).reshape(3, 4), "dtype <U1"),
    ],
)
def test_bad_weights_name_the_member(saved, tmp_path, member, key, value, match):
    path = _edit_array(saved, tmp_path, member, key, value)
    with pytest.raises(ModelFileError, match=match) as info:
        gn.load_model(path)
    assert f"{member}:{key}.npy" in str(info.value)


def test_nonfinite_weights_load_when_allowed(saved, tmp_path):
    path = _edit_array(saved, tmp_path, "weights.npz", "w0000", np.full((3, 4), np.inf, np.float32))
    model = gn.load_model(path, allow_nonfinite=True)
    assert np.isinf(model.get_weights()[0]).all()


def test_malformed_optimizer_state_is_refused(saved, tmp_path):
    names = json.loads(_members(saved)["config.json"])["optimizer_state"]
    last = f"s{len(names) - 1:04d}"
    assert names[-1] == "iterations"
    for value, match in [(np.array(-3), "must be >= 0"), (np.array([1, 2]), "one integer"),
                         (np.array(1.5), "one integer")]:
        with pytest.raises(ModelFileError, match=match):
            gn.load_model(_edit_array(saved, tmp_path, "optimizer.npz", last, value))
    with pytest.raises(ModelFileError, match="the architecture needs"):
        gn.load_model(_edit_array(saved, tmp_path, "optimizer.npz", "s0000", np.zeros(7, np.float32)))
    path = _edit_config(saved, tmp_path, lambda c: c["optimizer_state"].__setitem__(0, "nowhere:first_moment"))
    with pytest.raises(ModelFileError, match="not '<weight>:<slot>'"):
        gn.load_model(path)


@pytest.mark.filterwarnings("ignore:Duplicate name")
def test_zip_level_damage_is_a_model_file_error(saved, tmp_path):
    members = _members(saved)
    cases = {
        "duplicate": [("config.json", members["config.json"])] + list(members.items()),
        "unknown": [*members.items(), ("evil.py", b"import os")],
        "missing": [(k, v) for k, v in members.items() if k != "weights.npz"],
    }
    for label, items in cases.items():
        path = tmp_path / f"{label}.glassnet"
        with zipfile.ZipFile(path, "w") as archive:
            for name, data in items:
                archive.writestr(name, data)
        with pytest.raises(ModelFileError, match="twice|unexpected member|missing"):
            gn.load_model(path)
    raw = saved.read_bytes()
    for cut in (0, 10, len(raw) // 2, len(raw) - 5):
        (tmp_path / "cut.glassnet").write_bytes(raw[:cut])
        with pytest.raises(ModelFileError):
            gn.load_model(tmp_path / "cut.glassnet")
    with pytest.raises(ModelFileError, match="cannot read"):
        gn.load_model(tmp_path / "absent.glassnet")
    with pytest.raises(ModelFileError, match="folder"):
        gn.load_model(tmp_path)


def test_json_depth_size_and_duplicate_keys_are_limited(saved, tmp_path):
    members = _members(saved)
    for text, match in [("[" * 100_000 + "]" * 100_000, "levels deep"), ('{"a": 1, "a": 2}', "appears twice"),
                        ("\xff", "not UTF-8"), ("[1, 2]", "JSON object")]:
        data = text.encode("latin-1") if text == "\xff" else text.encode()
        path = _write(tmp_path / "j.glassnet", {**members, "config.json": data})
        with pytest.raises(ModelFileError, match=match):
            gn.load_model(path)


def test_a_zip_bomb_is_refused_from_its_directory(saved, tmp_path):
    members = _members(saved)
    bomb = _write(tmp_path / "bomb.glassnet", {**members, "weights.npz": b"\0" * (64 << 20)})
    assert bomb.stat().st_size < 1 << 20
    start = time.perf_counter()
    with pytest.raises(ModelFileError, match="more than the limit"):
        gn.load_model(bomb, max_bytes=16 << 20)
    assert time.perf_counter() - start < 1.0  # refused from the directory, nothing inflated


def _npy(header: str, data: bytes) -> bytes:
    text = header.encode("latin-1")
    text += b" " * (-(10 + len(text) + 1) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text + data


def test_an_npy_header_declaring_a_huge_shape_is_refused(saved, tmp_path):
    members = _members(saved)
    with zipfile.ZipFile(io.BytesIO(members["weights.npz"])) as npz:
        inner = {name: npz.read(name) for name in npz.namelist()}
    for header, match in [
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000, 4), }", "holds 48 bytes of data"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (-4, -3), }", "invalid shape"),
        ("{'descr': '|O', 'fortran_order': False, 'shape': (3, 4), }", "bad .npy header|not a plain number"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': " + "(" * 5000 + ")" * 5000 + "}", "bad .npy header"),
    ]:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as npz:
            for name, data in inner.items():
                npz.writestr(name, _npy(header, b"\0" * 48) if name == "w0000.npy" else data)
        path = _write(tmp_path / "h.glassnet", {**members, "weights.npz": buffer.getvalue()})
        with pytest.raises(ModelFileError, match=match) as info:
            gn.load_model(path)
        assert "weights.npz" in str(info.value) and "w0000.npy" in str(info.value)


def test_more_than_ten_thousand_arrays_round_trip_in_order(tmp_path):
    model = gn.Sequential([gn.layers.Input(shape=(1,))] + [gn.layers.Dense(1) for _ in range(5_001)])
    for k, param in enumerate(model.parameters()):
        param.value = np.full(param.value.shape, k, dtype=np.float32)
    model.save(tmp_path / "big.glassnet")
    loaded = gn.load_model(tmp_path / "big.glassnet")
    values = [float(p.value.ravel()[0]) for p in loaded.parameters()]
    assert len(values) == 10_002 and values == list(range(10_002))


def test_old_files_with_four_digit_names_still_load(saved, tmp_path):
    members = _members(saved)
    with zipfile.ZipFile(io.BytesIO(members["weights.npz"])) as npz:
        assert sorted(npz.namelist())[:2] == ["w0000.npy", "w0001.npy"]
    assert gn.load_model(saved).count_params() == _model().count_params()


def test_files_get_the_umask_permissions_and_stale_temporaries_go(tmp_path):
    old = os.umask(0o027)
    try:
        target = tmp_path / "m.glassnet"
        stale = tmp_path / f".m.glassnet.{2**22 + 7}-abc.tmp"  # a pid that cannot be running
        stale.write_bytes(b"half")
        other = tmp_path / ".other.glassnet.1-abc.tmp"
        other.write_bytes(b"not ours")
        atomic_write(target, lambda handle: handle.write(b"data"))
        assert stat.S_IMODE(target.stat().st_mode) == 0o640
        assert not stale.exists() and other.exists()
    finally:
        os.umask(old)


def test_a_killed_save_leaves_nothing_after_the_next_save(tmp_path):
    target = tmp_path / "m.glassnet"
    code = ("import os, signal; from glassnet._files import atomic_write\n"
            "def write(h):\n    h.write(b'x' * 1000); h.flush(); os.kill(os.getpid(), signal.SIGKILL)\n"
            f"atomic_write({str(target)!r}, write)\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    result = subprocess.run([sys.executable, "-c", code], env=env, check=False)
    assert result.returncode == -9 and list(tmp_path.glob(".m.glassnet.*.tmp"))
    _model(optimizer=False).save(target)
    assert not list(tmp_path.glob(".*.tmp")) and gn.load_model(target).count_params() > 0


@pytest.mark.slow
def test_sixteen_thousand_layers_load_in_linear_time(tmp_path):
    model = gn.Sequential([gn.layers.Input(shape=(2,))] + [gn.layers.Dense(2) for _ in range(16_000)])
    model.save(tmp_path / "deep.glassnet")
    start = time.process_time()
    gn.load_model(tmp_path / "deep.glassnet")
    assert time.process_time() - start < 4.0  # about 1.3 s of CPU; generous for a shared CI machine


@pytest.mark.parametrize("command", ["evaluate", "predict", "summary", "gradcheck"])
def test_every_cli_command_reading_a_model_reports_a_damaged_file_in_one_line(saved, tmp_path, capsys, command):
    from glassnet.app.cli import main

    path = tmp_path / "damaged.glassnet"
    path.write_bytes(saved.read_bytes()[:-40])
    (tmp_path / "in.csv").write_text("a,b,c\n1,2,3\n")
    argv = [command, str(path)] + ([str(tmp_path / "in.csv")] if command == "predict" else [])
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"glassnet {command}: error: ") and "\n" not in err and "damaged.glassnet" in err


def test_the_same_model_saved_twice_gives_the_same_bytes(tmp_path, monkeypatch):
    """Member times are fixed (glassnet._zipfiles): a file's bytes depend on the model only, not on the clock."""
    model = gn.Sequential([gn.layers.Input(shape=(3,)), gn.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(np.ones((4, 3), dtype=np.float32), np.array([0, 1, 0, 1]), epochs=1, verbose=0)
    model.save(tmp_path / "a.glassnet", include_optimizer=True)
    model.save_weights(tmp_path / "a.weights")
    later, gmtime = time.time() + 3600.0, time.gmtime
    monkeypatch.setattr(time, "time", lambda: later)  # what zipfile and np.savez would stamp
    monkeypatch.setattr(time, "localtime", lambda *a: gmtime(later))
    model.save(tmp_path / "b.glassnet", include_optimizer=True)
    model.save_weights(tmp_path / "b.weights")
    assert (tmp_path / "a.glassnet").read_bytes() == (tmp_path / "b.glassnet").read_bytes()
    assert (tmp_path / "a.weights").read_bytes() == (tmp_path / "b.weights").read_bytes()
    again = gn.load_model(tmp_path / "b.glassnet")
    np.testing.assert_array_equal(again.get_weights()[0], model.get_weights()[0])
