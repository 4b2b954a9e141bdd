"""`glassnet train` under signals, kills and closed pipes (issue 11, items 1 and 2): SIGINT/SIGTERM
write the epochs done and exit 130/143, `--resume` continues a killed run bit for bit, a failed run's
metrics.json says so, and `| head` does not leave a half-written folder."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import glassnet as gn

EPOCHS = "30"


def _train(out, *extra, stdout=subprocess.PIPE):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    config = [] if "--resume" in extra else ["moons"]
    args = [sys.executable, "-m", "glassnet", "train", *config, "--epochs", EPOCHS, "--out", str(out), *extra]
    return subprocess.Popen(args, env=env, stdout=stdout, stderr=subprocess.PIPE, text=True)


def _run_dir(out):
    found = list(Path(out).glob("moons-*"))
    return found[0] if found else None


def _wait_for_backup(proc, out, epochs_done, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = _run_dir(out)
        state = run / "backup" / "state.json" if run else None
        if state is not None and state.exists():
            try:
                if json.loads(state.read_text())["epoch"] >= epochs_done:
                    return run
            except (ValueError, KeyError):
                pass
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    raise AssertionError("no backup appeared")


def _weights(path):
    return gn.load_model(path).get_weights()


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("reference")
    proc = _train(out, "--quiet")
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    run = _run_dir(out)
    assert json.loads((run / "metrics.json").read_text())["status"] == "completed"
    assert not (run / "backup").exists()
    return run


@pytest.mark.parametrize("signum", [signal.SIGTERM, pytest.param(signal.SIGINT, marks=pytest.mark.slow)])
def test_a_signal_writes_the_epochs_done_and_resume_finishes_bit_for_bit(reference, tmp_path, signum):
    proc = _train(tmp_path, "--quiet")
    run = _wait_for_backup(proc, tmp_path, 3)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum, err
    assert "interrupted at epoch" in err and f"--resume {run}" in err and err.count("\n") == 1
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["status"] == "interrupted" and metrics["interrupted"].startswith("interrupted at epoch")
    assert metrics["interrupted"].endswith(f"of {EPOCHS} by {signal.Signals(signum).name}")
    assert "interrupted at epoch" in (run / "report.html").read_text()
    assert (run / "model.glassnet").exists() and (run / "history.csv").exists()
    resumed = _train(tmp_path, "--quiet", "--resume", str(run))
    _, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err
    assert (run / "history.csv").read_text() == (reference / "history.csv").read_text()
    for a, b in zip(_weights(run / "model.glassnet"), _weights(reference / "model.glassnet")):
        assert np.array_equal(a, b)
    assert json.loads((run / "metrics.json").read_text())["status"] == "completed"


def test_a_sigkilled_run_resumes_bit_for_bit(reference, tmp_path):
    proc = _train(tmp_path, "--quiet")
    run = _wait_for_backup(proc, tmp_path, 2)
    proc.kill()
    proc.communicate(timeout=60)
    assert json.loads((run / "metrics.json").read_text())["status"] == "running"  # never looks finished
    resumed = _train(tmp_path, "--quiet", "--resume", str(run))
    _, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err
    assert (run / "history.csv").read_text() == (reference / "history.csv").read_text()
    for a, b in zip(_weights(run / "model.glassnet"), _weights(reference / "model.glassnet")):
        assert np.array_equal(a, b)


def test_resume_refuses_finished_and_foreign_folders(reference, tmp_path, capsys):
    from glassnet.app.cli import main

    assert main(["train", "--resume", str(reference)]) == 2
    assert "already finished" in capsys.readouterr().err
    assert main(["train", "--resume", str(tmp_path)]) == 2
    assert "not a run folder" in capsys.readouterr().err


def test_a_closed_pipe_does_not_leave_a_half_written_folder(tmp_path):
    proc = _train(tmp_path, "--verbose", "2")
    proc.stdout.readline()
    proc.stdout.close()  # as `| head -1` does
    _, err = proc.communicate(timeout=120)
    run = _run_dir(tmp_path)
    metrics = json.loads((run / "metrics.json").read_text())
    assert proc.returncode == 0 and metrics["status"] == "completed", err
    assert (run / "report.html").exists() and (run / "model.glassnet").exists()


def test_a_failed_run_says_so_in_metrics_json(tmp_path, monkeypatch):
    from glassnet.app import runs

    setup = runs.setup({"data": {"name": "moons"}}, epochs=3)

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(setup.model, "fit", broken)
    with pytest.raises(RuntimeError):
        runs.train(setup, out=tmp_path, verbose=0)
    metrics = json.loads((_run_dir(tmp_path) / "metrics.json").read_text())
    assert metrics["status"] == "failed" and metrics["error"] == "RuntimeError: disk on fire"
