"""glassnet.distributed: the serial path equals Model.fit bit for bit; under ``mpiexec -n 2`` (subprocess,
with timeouts) 2 ranks equal 1 process within 1e-12 relative, and a failure on one rank ends both."""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import glassnet as gn
from glassnet.distributed.fit import shard_bounds

HERE = Path(__file__).resolve().parent / "distributed"
sys.path.insert(0, str(HERE))
import cases  # noqa: E402


def _mpiexec() -> str | None:
    """The mpiexec beside this Python (where the mpich wheel puts it), else one on PATH."""
    beside = Path(sys.executable).parent / "mpiexec"
    return str(beside) if beside.exists() else shutil.which("mpiexec")


def _require_mpi() -> str:
    missing = importlib.util.find_spec("mpi4py") is None or _mpiexec() is None
    if missing:
        if os.environ.get("GLASSNET_REQUIRE_MPI"):
            pytest.fail('GLASSNET_REQUIRE_MPI is set but mpi4py or mpiexec is missing: pip install ".[mpi]"')
        pytest.skip('needs the mpi extra (pip install "glassnet[mpi]": mpi4py and mpiexec)')
    return str(_mpiexec())


@pytest.fixture(autouse=True)
def _float64_restored():
    before = gn.floatx()
    yield
    gn.set_floatx(before)


def _run_ranks(args: list[str], timeout: float = 120, script: list[str] | None = None,
               cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``mpiexec -n 2 python worker.py ARGS`` (or ``python SCRIPT ARGS``), 1 BLAS thread per rank."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(gn.__file__).parents[1]),
                                                         os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    cmd = [_require_mpi(), "-n", "2", sys.executable, *(script or [str(HERE / "worker.py")]), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd)


def _one_process(case: str) -> dict[str, np.ndarray]:
    model, x, y, fit_args = cases.make(case)
    fit_args.pop("sync_batch_norm")
    model.fit(x, y, verbose=0, **fit_args)
    return {p.name: p.value.copy() for p in model.parameters()}


def _relative_gap(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| / max |a| (norm-wise: a near-zero entry cannot blow it up)."""
    return float(np.max(np.abs(a - b)) / max(float(np.max(np.abs(a))), 1e-300))


# -- one process -----------------------------------------------------------------------------------
@pytest.mark.parametrize("case", ["mlp", "mlp_uneven", "conv_standin"])
def test_serial_fit_equals_model_fit_bit_for_bit(case: str) -> None:
    reference = _one_process(case)
    model, x, y, fit_args = cases.make(case)
    history = gn.distributed.fit(model, x, y, verbose=0, comm=gn.distributed.SerialCommunicator(), **fit_args)
    for p in model.parameters():
        np.testing.assert_array_equal(p.value, reference[p.name], err_msg=p.name)
    assert history.distributed["ranks"] == 1 and history.distributed["steps"] == 18


@pytest.mark.parametrize("rows,size", [(32, 2), (23, 2), (7, 3), (128, 8), (5, 5)])
def test_shards_cover_the_batch_once(rows: int, size: int) -> None:
    bounds = [shard_bounds(rows, r, size) for r in range(size)]
    assert bounds[0][0] == 0 and bounds[-1][1] == rows
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))
    assert max(hi - lo for lo, hi in bounds) - min(hi - lo for lo, hi in bounds) <= 1


@pytest.mark.parametrize("bit_generator", [np.random.PCG64, np.random.MT19937])
@pytest.mark.parametrize("shape", [(10, 7), (9, 3, 5)])
def test_dropout_shard_draws_its_rows_of_the_one_process_mask(bit_generator, shape) -> None:
    """Rows lo:hi of a batch: the same mask as those rows of the whole batch's mask, and the generator ends
    where it ends in one process (with ``advance`` for PCG64; MT19937 draws the whole mask)."""
    whole = gn.layers.Dropout(0.4, seed=np.random.Generator(bit_generator(5)))
    x = np.ones(shape)
    full = [whole.forward(x, training=True) for _ in range(2)]
    for lo, hi in [(0, 4), (4, 9), (3, 4)]:
        part = gn.layers.Dropout(0.4, seed=np.random.Generator(bit_generator(5)))
        for k in range(2):
            part.shard = (lo, hi, shape[0])
            np.testing.assert_array_equal(part.forward(x[lo:hi], training=True), full[k][lo:hi])
        after_part = part.rng.bit_generator.random_raw(3)
        after_whole = np.random.Generator(bit_generator(5))
        after_whole.bit_generator.random_raw(2 * ((int(np.prod(shape)) + 1) // 2))
        np.testing.assert_array_equal(after_part, after_whole.bit_generator.random_raw(3))


def test_dropout_shard_refuses_a_batch_of_other_rows() -> None:
    layer = gn.layers.Dropout(0.5, seed=0)
    layer.shard = (0, 3, 8)
    with pytest.raises(gn.ShapeError, match="shard"):
        layer.forward(np.ones((4, 2)), training=True)


def test_a_step_without_a_row_per_rank_is_refused() -> None:
    class Two(gn.distributed.SerialCommunicator):
        size = 2

    _, x, y, fit_args = cases.make("mlp")
    # no BatchNormalization here: fit refuses its 1-row batch before the ranks are asked (test_fit_arguments)
    model = gn.Sequential([gn.layers.Input(shape=x.shape[1:]), gn.layers.Dense(4, activation="relu"),
                           gn.layers.Dense(int(y.max()) + 1, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    fit_args.update(validation_split=0.0, batch_size=191)  # 192 = 191 + a last batch of 1 row for 2 ranks
    with pytest.raises(gn.ConfigError, match="at least one"):
        gn.distributed.fit(model, x, y, verbose=0, comm=Two(), abort_on_error=False, **fit_args)


def test_mpi_without_mpi4py_names_the_extra(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "mpi4py", None)
    monkeypatch.delitem(sys.modules, "mpi4py.MPI", raising=False)
    with pytest.raises(gn.MissingDependencyError, match=r"glassnet\[mpi\]"):
        gn.distributed.MPICommunicator()


def test_launcher_variables_select_mpi(monkeypatch) -> None:
    for name in gn.distributed.comm.LAUNCHER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    if "mpi4py.MPI" not in sys.modules:
        assert not gn.distributed.launched_under_mpi()
    monkeypatch.setenv("PMI_SIZE", "2")
    assert gn.distributed.launched_under_mpi()


class _ThreadRanks:
    """``size`` ranks as threads of this process (the Communicator seam without MPI), for tests."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.barrier = threading.Barrier(size, timeout=60)
        self.slots: list = [None] * size

    def comm(self, rank: int) -> gn.distributed.Communicator:
        group = self

        class Comm(gn.distributed.Communicator):
            def __init__(self) -> None:
                self.rank, self.size = rank, group.size

            def _exchange(self, value):
                group.slots[rank] = value
                group.barrier.wait()
                values = list(group.slots)
                group.barrier.wait()
                return values

            def allreduce_(self, buffer):
                values = self._exchange(buffer.copy())
                buffer[...] = functools.reduce(np.add, values)
                return buffer

            def bcast_(self, buffer, root=0):
                buffer[...] = self._exchange(buffer.copy())[root]
                return buffer

            def bcast_object(self, obj, root=0):
                return self._exchange(obj)[root]

            def gather_object(self, obj, root=0):
                values = self._exchange(obj)
                return values if rank == root else None

            def barrier(self) -> None:
                self._exchange(None)

            def abort(self, code=1):
                group.barrier.abort()
                raise SystemExit(code)

        return Comm()


@pytest.mark.parametrize("size", [2, 3])
def test_thread_ranks_equal_one_process_with_synced_batch_norm(size: int) -> None:
    """The exactness argument without MPI: 2 and 3 ranks as threads (uneven shards: 32 = 11 + 11 + 10)."""
    reference = _one_process("mlp_uneven")
    for model, _ in _thread_fit(size, "mlp_uneven"):
        for p in model.parameters():
            assert _relative_gap(reference[p.name], p.value) <= 1e-12, p.name


def _thread_fit(size: int, case: str, callbacks_of=lambda rank: None, prepare=lambda rank, model: None,
                **overrides):
    """Train ``case`` on ``size`` thread ranks (``prepare(rank, model)`` first); returns [(model, history)]."""
    group = _ThreadRanks(size)
    built = [cases.make(case) for _ in range(size)]
    for rank, (model, *_) in enumerate(built):
        prepare(rank, model)
    results: list = [None] * size
    errors: list = []

    def train(rank: int) -> None:
        model, x, y, fit_args = built[rank]
        try:
            history = gn.distributed.fit(model, x, y, verbose=0, comm=group.comm(rank), abort_on_error=False,
                                         callbacks=callbacks_of(rank), **{**fit_args, **overrides})
            results[rank] = (model, history)
        except BaseException as exc:  # reported below
            errors.append(exc)
            group.barrier.abort()

    threads = [threading.Thread(target=train, args=(r,)) for r in range(size)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    return results


def test_a_signal_on_one_rank_stops_every_rank_after_the_same_step() -> None:
    """``model.interrupted`` set on rank 1 only, during its 8th step (epoch 2): both ranks end after that step
    (no rank waits in a collective for the other), with the same weights; like ``Model.fit``, the cut epoch
    is logged."""
    def prepare(rank: int, model) -> None:
        if rank != 1:
            return
        real, calls = model.compute_loss_and_gradients, []

        def signalled(*a, **k):
            calls.append(1)
            if len(calls) == 8:
                model.interrupted = True  # what StopOnSignal's handler does
            return real(*a, **k)

        model.compute_loss_and_gradients = signalled

    results = _thread_fit(2, "mlp", prepare=prepare)
    (m0, h0), (m1, h1) = results
    assert m0.optimizer.iterations == m1.optimizer.iterations == 8
    assert h0.epoch == h1.epoch == [0, 1]
    for p0, p1 in zip(m0.parameters(), m1.parameters()):
        np.testing.assert_array_equal(p0.value, p1.value)


@pytest.mark.parametrize("sizes,itemsize,bucket_bytes,want", [
    ([3, 5, 2, 4], 8, 40, [(8, 14), (3, 8), (0, 3)]),  # from the end: 4 + 2 >= 5 elements, then 5, then the rest
    ([3, 5, 2, 4], 8, 1, [(10, 14), (8, 10), (3, 8), (0, 3)]),  # one parameter per bucket
    ([3, 5, 2, 4], 8, 10**6, [(0, 14)]),  # one bucket
    ([7], 4, 4, [(0, 7)]),
])
def test_bucket_bounds_cut_at_parameters_from_the_end(sizes, itemsize, bucket_bytes, want) -> None:
    assert gn.distributed.buckets.bucket_bounds(sizes, itemsize, bucket_bytes) == want


def test_buckets_on_thread_ranks_equal_one_process() -> None:
    """Buckets of >= 200 bytes, started as backward reaches them (the layers report), 2 and 3 thread ranks."""
    reference = _one_process("mlp_uneven")
    for size in (2, 3):
        results = _thread_fit(size, "mlp_uneven", bucket_bytes=200)
        for model, history in results:
            assert history.distributed["buckets"] > 3 and history.distributed["overlap"]
            for p in model.parameters():
                assert _relative_gap(reference[p.name], p.value) <= 1e-12, p.name
            assert all("backward" not in vars(layer) for layer in model.layers)  # the reports are removed


@pytest.mark.parametrize("bucket_bytes", [0, -5, 2.5, True])
def test_bucket_bytes_must_be_a_positive_integer(bucket_bytes) -> None:
    model, x, y, fit_args = cases.make("mlp")
    with pytest.raises(gn.ConfigError, match="bucket_bytes must be a positive integer"):
        gn.distributed.fit(model, x, y, verbose=0, bucket_bytes=bucket_bytes, **fit_args)


def test_rank_zero_callbacks_steer_every_rank(tmp_path: Path) -> None:
    """Callbacks run on rank 0 only: its learning-rate changes and its early stop reach rank 1, only rank 0
    writes the CSV log, and every rank's History holds the one-process logs (loss, metrics, validation)."""
    def callbacks_of(rank: int):
        return [gn.callbacks.LearningRateScheduler(lambda epoch, lr: lr * 0.5),
                gn.callbacks.EarlyStopping(monitor="loss", patience=0, min_delta=10.0),
                gn.callbacks.CSVLogger(str(tmp_path / f"log{rank}.csv"))]

    results = _thread_fit(2, "mlp_uneven", callbacks_of, epochs=5)
    model, x, y, fit_args = cases.make("mlp_uneven")
    fit_args.pop("sync_batch_norm")
    alone = model.fit(x, y, verbose=0, callbacks=callbacks_of(9), **{**fit_args, "epochs": 5})
    assert (tmp_path / "log0.csv").exists() and not (tmp_path / "log1.csv").exists()
    for rank_model, history in results:
        assert history.epoch == alone.epoch == [0, 1]  # EarlyStopping: no improvement by 10 after epoch 0
        assert rank_model.optimizer.learning_rate == model.optimizer.learning_rate == 0.0025
        assert sorted(history.history) == sorted(alone.history)
        for key, values in alone.history.items():
            np.testing.assert_allclose(history.history[key], values, rtol=1e-12, err_msg=key)


# -- two ranks under mpiexec -----------------------------------------------------------------------
@pytest.mark.parametrize("case", ["mlp", "mlp_uneven", "conv_standin", "cnn"])
def test_two_ranks_equal_one_process(case: str, tmp_path: Path) -> None:
    """float64, Dropout and BatchNormalization(sync): 3 epochs, weights within 1e-12 relative."""
    out = tmp_path / "weights.npz"
    done = _run_ranks([case, str(out)])
    assert done.returncode == 0, done.stderr[-3000:]
    reference = _one_process(case)
    got = np.load(out)
    assert sorted(got.files) == sorted(reference)
    for name, value in reference.items():
        assert _relative_gap(value, got[name]) <= 1e-12, name
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["distributed"]["ranks"] == 2 and len(record["distributed"]["comm_s"]) == 2
    assert len(record["history"]["loss"]) == 3
    assert ("val_accuracy" in record["history"]) == (case != "conv_standin")


@pytest.mark.parametrize("case", ["mlp", "cnn"])
def test_two_ranks_with_buckets_equal_one_bucket_bit_for_bit(case: str, tmp_path: Path) -> None:
    """Non-blocking Iallreduce of buckets of >= 100 bytes during backward (mixed with the synchronized
    BatchNormalization's Allreduces) gives the weights of one Allreduce after backward, bit for bit."""
    one, many = tmp_path / "one.npz", tmp_path / "many.npz"
    for out, extra in ((one, []), (many, ["--bucket-bytes", "100"])):
        done = _run_ranks([case, str(out), *extra])
        assert done.returncode == 0, done.stderr[-3000:]
    want, got = np.load(one), np.load(many)
    for name in want.files:
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)
    record = json.loads(many.with_suffix(".json").read_text())["distributed"]
    assert record["buckets"] > 2 and record["overlap"]
    assert json.loads(one.with_suffix(".json").read_text())["distributed"]["buckets"] == 1


def test_two_ranks_with_local_batch_norm_train_but_differ(tmp_path: Path) -> None:
    """Per-rank statistics (the default) are not exact: documented in docs/distributed.md."""
    out = tmp_path / "weights.npz"
    done = _run_ranks(["mlp_local_bn", str(out)])
    assert done.returncode == 0, done.stderr[-3000:]
    reference = _one_process("mlp_local_bn")
    got = np.load(out)
    gaps = [_relative_gap(value, got[name]) for name, value in reference.items()]
    assert max(gaps) > 1e-9
    history = json.loads(out.with_suffix(".json").read_text())["history"]
    assert all(np.isfinite(history["loss"]))


@pytest.mark.parametrize("kill_rank,kill_step", [(1, 10), (0, 15)])
def test_a_killed_two_rank_run_resumes_to_the_uninterrupted_weights(tmp_path: Path, kill_rank: int,
                                                                   kill_step: int) -> None:
    """SIGKILL one rank mid-epoch (6 steps per epoch: step 10 is in epoch 2, step 15 in epoch 3); the rerun
    resumes from rank 0's last epoch backup and ends with the weights and history of a run never killed."""
    whole = tmp_path / "whole.npz"
    done = _run_ranks(["mlp", str(whole), "--backup", str(tmp_path / "whole_backup")])
    assert done.returncode == 0, done.stderr[-3000:]
    backup, resumed = tmp_path / "backup", tmp_path / "resumed.npz"
    killed = _run_ranks(["mlp", str(resumed), "--backup", str(backup), "--kill-rank", str(kill_rank),
                         "--kill-step", str(kill_step)], timeout=60)
    assert killed.returncode != 0 and not resumed.exists()
    assert json.loads((backup / "state.json").read_text())["epoch"] == (kill_step - 1) // 6
    done = _run_ranks(["mlp", str(resumed), "--backup", str(backup)])
    assert done.returncode == 0, done.stderr[-3000:]
    want, got = np.load(whole), np.load(resumed)
    assert sorted(got.files) == sorted(want.files)
    for name in want.files:
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)
    assert json.loads(resumed.with_suffix(".json").read_text())["history"] == json.loads(
        whole.with_suffix(".json").read_text())["history"]
    assert not backup.exists()  # delete_checkpoint after the normal end


def test_a_failure_on_one_rank_ends_both(tmp_path: Path) -> None:
    start = time.perf_counter()
    done = _run_ranks(["mlp", str(tmp_path / "w.npz"), "--fail-on-rank", "1"], timeout=60)
    elapsed = time.perf_counter() - start
    assert done.returncode != 0
    assert "planted failure on rank 1" in done.stderr and "rank 1 of 2 failed" in done.stderr
    assert elapsed < 30
    assert not (tmp_path / "w.npz").exists()


@pytest.mark.slow
def test_cli_under_mpiexec_trains_on_two_ranks(tmp_path: Path) -> None:
    """``mpiexec -n 2 glassnet train``: one run folder (rank 0 writes), the report shows the ranks, and the
    test loss is the one-process run's (float32: within 1e-5 relative)."""
    done = _run_ranks(["train", "--epochs", "2", "--out", str(tmp_path / "two"), "--quiet"],
                      script=["-m", "glassnet"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout == ""  # --quiet on rank 0, and the other rank never prints
    (run_dir,) = (tmp_path / "two").iterdir()
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["distributed"]["ranks"] == 2 and len(metrics["distributed"]["step_time_ms"]) == 2
    assert "2 (MPI)" in (run_dir / "report.html").read_text()
    from glassnet.app.cli import main

    assert main(["train", "--epochs", "2", "--out", str(tmp_path / "one"), "--quiet"]) == 0
    (one_dir,) = (tmp_path / "one").iterdir()
    alone = json.loads((one_dir / "metrics.json").read_text())
    assert metrics["test"]["loss"] == pytest.approx(alone["test"]["loss"], rel=1e-5)


@pytest.mark.slow
def test_cli_resume_of_a_killed_two_rank_run(tmp_path: Path) -> None:
    """``mpiexec -n 2 glassnet train`` SIGKILLed (every process) once its backup holds 3 epochs, then
    ``mpiexec -n 2 glassnet train --resume RUN``: the weights and history of the run never killed."""
    train = ["train", "--epochs", "40", "--quiet"]
    done = _run_ranks([*train, "--out", str(tmp_path / "whole")], script=["-m", "glassnet"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    env = {**os.environ, "PYTHONPATH": str(Path(gn.__file__).parents[1]), "OMP_NUM_THREADS": "1",
           "OPENBLAS_NUM_THREADS": "1"}
    cmd = [_require_mpi(), "-n", "2", sys.executable, "-m", "glassnet", *train, "--out", str(tmp_path / "cut")]
    running = subprocess.Popen(cmd, env=env, cwd=tmp_path, start_new_session=True, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline and running.poll() is None:
            states = list((tmp_path / "cut").glob("*/backup/state.json"))
            try:
                if states and json.loads(states[0].read_text())["epoch"] >= 3:
                    break
            except ValueError:  # state.json is written atomically, but be safe while it appears
                pass
            time.sleep(0.01)
    finally:
        os.killpg(running.pid, signal.SIGKILL)
        running.wait(timeout=30)
    (run_dir,) = (tmp_path / "cut").iterdir()
    assert json.loads((run_dir / "metrics.json").read_text())["status"] == "running"  # killed, not finished
    done = _run_ranks(["train", "--resume", str(run_dir), "--quiet"], script=["-m", "glassnet"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    (whole_dir,) = (tmp_path / "whole").iterdir()
    assert (run_dir / "history.csv").read_text() == (whole_dir / "history.csv").read_text()
    want, got = gn.load_model(whole_dir / "model.glassnet"), gn.load_model(run_dir / "model.glassnet")
    for a, b in zip(want.get_weights(), got.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_cli_failure_on_rank_zero_ends_both(tmp_path: Path) -> None:
    """Rank 0 cannot make the run folder while rank 1 waits for its name: abort, not a hang."""
    (tmp_path / "file").write_text("")
    start = time.perf_counter()
    done = _run_ranks(["train", "--epochs", "1", "--out", str(tmp_path / "file" / "runs"), "--quiet"],
                      script=["-m", "glassnet"], cwd=tmp_path, timeout=60)
    assert done.returncode != 0
    assert "rank 0 of 2 failed" in done.stderr and "NotADirectoryError" in done.stderr
    assert time.perf_counter() - start < 30


def test_import_glassnet_does_not_start_mpi() -> None:
    """mpi4py.MPI initialises MPI on import: only init() under a launcher (or init("mpi")) may load it."""
    code = "import sys, glassnet as gn; gn.distributed.size(); print('mpi4py' in sys.modules)"
    env = {k: v for k, v in os.environ.items() if k not in gn.distributed.comm.LAUNCHER_VARIABLES}
    env["PYTHONPATH"] = str(Path(gn.__file__).parents[1])
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert done.stdout.strip() == "False", done.stderr
