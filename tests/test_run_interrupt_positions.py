"""A SIGTERM at a chosen point of `glassnet train` (issue 11, items 1 and 2), without timing: the signal
is raised from inside the run (a callback at a chosen batch, around the per-epoch backup), so every
position is hit each time. Resuming must end bit for bit like the uninterrupted run, wherever the
signal landed: mid-epoch, in the last batch, between the last batch and the backup, during the backup
or right after it."""

import signal

import numpy as np
import pytest

from glassnet import backend, load_model
from glassnet.app import config as config_module
from glassnet.app import run_report, runs
from glassnet.callbacks import Callback
from glassnet.callbacks import backup as backup_module

EPOCHS = 5
INTERRUPTED_EPOCH = 2  # 0-based: two complete epochs are backed up before it


def _raw():
    raw = config_module.load(config_module.find("moons"))
    raw["data"]["n_samples"] = 120  # 6 batches of 16 per epoch after the test split: fast
    return raw


def _train(out, resume=None, extra=()):
    raw = config_module.load(resume / "config.toml") if resume is not None else _raw()
    backend.clear_session()  # the layer names of a fresh process, as `glassnet train --resume` has
    setup = runs.setup(raw, epochs=None if resume is not None else EPOCHS)
    real_build = runs.build_callbacks
    runs_build = lambda specs, run_dir: [*real_build(specs, run_dir), *extra]  # noqa: E731
    try:
        runs.build_callbacks = runs_build
        return runs.train(setup, out=out, verbose=0, resume=resume)
    finally:
        runs.build_callbacks = real_build


class SignalAt(Callback):
    """Raise SIGTERM in this process at batch ``batch`` of ``epoch`` (``"end"``: in on_epoch_end)."""

    def __init__(self, epoch, batch):
        super().__init__()
        self.epoch, self.batch, self.current = epoch, batch, -1

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch

    def on_batch_end(self, batch, logs=None):
        if self.current == self.epoch and (batch == self.batch or (self.batch == "last" and
                                                                  batch == self.params["steps"] - 1)):
            signal.raise_signal(signal.SIGTERM)  # the handler runs before raise_signal returns

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch and self.batch == "end":
            signal.raise_signal(signal.SIGTERM)


@pytest.fixture(autouse=True)
def _no_report(monkeypatch):
    monkeypatch.setattr(run_report, "write_plots_and_report", lambda *args, **kwargs: None)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("reference")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(run_report, "write_plots_and_report", lambda *args, **kwargs: None)
        result = _train(out)
    assert result.metrics["status"] == "completed" and len(result.history["loss"]) == EPOCHS
    return result


def _signal_around_backup(monkeypatch, where):
    """Raise SIGTERM before, in the middle of (after the model file) or after the backup of epoch 2."""
    real_write, real_save = backup_module.write_backup, None

    def write(folder, epochs_done, model, fit, callbacks):
        nonlocal real_save
        if epochs_done != INTERRUPTED_EPOCH + 1:
            return real_write(folder, epochs_done, model, fit, callbacks)
        if where == "before":
            signal.raise_signal(signal.SIGTERM)
        if where == "during":
            real_save = model.save

            def save(*args, **kwargs):
                real_save(*args, **kwargs)
                signal.raise_signal(signal.SIGTERM)

            model.save = save
        try:
            real_write(folder, epochs_done, model, fit, callbacks)
        finally:
            model.__dict__.pop("save", None)
        if where == "after":
            signal.raise_signal(signal.SIGTERM)

    monkeypatch.setattr(backup_module, "write_backup", write)


CASES = ["batch 0", "batch 3", "last batch", "on_epoch_end", "before backup", "during backup", "after backup"]


@pytest.mark.parametrize("case", CASES)
def test_a_sigterm_anywhere_in_an_epoch_resumes_bit_for_bit(reference, tmp_path, monkeypatch, case):
    extra = []
    if case.startswith("batch "):
        extra = [SignalAt(INTERRUPTED_EPOCH, int(case.split()[1]))]
    elif case == "last batch":
        extra = [SignalAt(INTERRUPTED_EPOCH, "last")]
    elif case == "on_epoch_end":
        extra = [SignalAt(INTERRUPTED_EPOCH, "end")]
    else:
        _signal_around_backup(monkeypatch, case.split()[0])
    interrupted = _train(tmp_path, extra=extra)
    assert interrupted.metrics["status"] == "interrupted", case
    assert interrupted.metrics["exit_code"] == 128 + signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handler is gone after the run
    done = interrupted.metrics["epochs_backed_up"]
    assert done in (INTERRUPTED_EPOCH, INTERRUPTED_EPOCH + 1), (case, done)
    monkeypatch.undo()
    monkeypatch.setattr(run_report, "write_plots_and_report", lambda *args, **kwargs: None)
    resumed = _train(tmp_path, resume=interrupted.run_dir)
    assert resumed.metrics["status"] == "completed", case
    assert resumed.history == reference.history, case
    assert (resumed.run_dir / "history.csv").read_text() == (reference.run_dir / "history.csv").read_text()
    for a, b in zip(resumed.metrics["train"].values(), reference.metrics["train"].values()):
        assert a == b
    got = load_model(resumed.run_dir / "model.glassnet").get_weights()
    want = load_model(reference.run_dir / "model.glassnet").get_weights()
    assert len(got) == len(want) and all(np.array_equal(a, b) for a, b in zip(got, want)), case
