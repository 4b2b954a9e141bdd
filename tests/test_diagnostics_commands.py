"""The gradcheck/experiment CLI handlers (called directly) and the run report's Diagnosis section."""

from __future__ import annotations

import argparse
import base64
import json
import subprocess
import sys

import numpy as np
import pytest

import glassnet as gn
from glassnet.app.cli.diagnostics import add_subcommands, load_model_or_config, random_batch
from glassnet.app.diagnosis_plots import diagnosis_html


@pytest.fixture
def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="glassnet")
    add_subcommands(parser.add_subparsers(dest="command"))
    return parser


def _run(parser, argv):  # type: ignore[no-untyped-def]
    args = parser.parse_args(argv)
    return args.handler(args)


def test_gradcheck_a_saved_model_passes(parser, tmp_path, capsys):
    model = gn.Sequential(
        [
            gn.layers.Input(shape=(4,)),
            gn.layers.Dense(5, activation="tanh"),
            gn.layers.Dense(3, activation="softmax"),
        ]
    )
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    model.save(tmp_path / "m.glassnet")
    assert _run(parser, ["gradcheck", str(tmp_path / "m.glassnet")]) == 0
    out = capsys.readouterr().out
    assert "dense/kernel" in out and "passed" in out


def test_gradcheck_a_broken_model_fails_with_exit_code_1(parser, tmp_path, capsys):
    from test_diagnostics_gradcheck import WrongKernelDense  # registered test-only layer

    model = gn.Sequential([gn.layers.Input(shape=(4,)), WrongKernelDense(3, activation="tanh"), gn.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    model.save(tmp_path / "bad.glassnet")
    assert _run(parser, ["gradcheck", str(tmp_path / "bad.glassnet"), "--max-params", "4"]) == 1
    assert "FAILED" in capsys.readouterr().out


@pytest.mark.parametrize("suffix", [".toml", ".json"])
def test_gradcheck_a_config_file(parser, tmp_path, suffix):
    if suffix == ".toml":
        text = (
            'loss = "binary_crossentropy"\n[model]\ninput_shape = [3]\n'
            'layers = [{class_name = "Dense", units = 4, activation = "elu"}, '
            '{class_name = "Dense", units = 1, activation = "sigmoid"}]\n'
        )
    else:
        text = json.dumps({"model": {"input_shape": [3], "layers": [{"type": "Dense", "units": 2}]}, "loss": "huber"})
    path = tmp_path / f"net{suffix}"
    path.write_text(text)
    model, loss = load_model_or_config(path)
    assert model.built and loss is not None
    assert _run(parser, ["gradcheck", str(path)]) == 0


def test_gradcheck_bad_inputs_exit_2(parser, tmp_path, capsys):
    assert _run(parser, ["gradcheck", str(tmp_path / "missing.toml")]) == 2
    path = tmp_path / "noloss.json"
    path.write_text(json.dumps({"input_shape": [3], "layers": [{"type": "Dense", "units": 2}]}))
    assert _run(parser, ["gradcheck", str(path)]) == 2
    assert "no loss" in capsys.readouterr().err


def test_random_batch_targets_fit_the_loss():
    model = gn.Sequential([gn.layers.Input(shape=(3,)), gn.layers.Dense(4)])
    _, labels = random_batch(model, gn.losses.get("sparse_categorical_crossentropy"), 5, 0)
    assert labels.shape == (5,) and labels.max() < 4
    _, onehot = random_batch(model, gn.losses.get("categorical_crossentropy"), 5, 0)
    np.testing.assert_array_equal(onehot.sum(axis=1), 1)


def test_experiment_command_writes_figure_and_table(parser, tmp_path, capsys):
    assert _run(parser, ["experiment", "losses", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "losses.png").stat().st_size > 1000
    table = (tmp_path / "losses.md").read_text()
    assert "| huber |" in table and "| mean_absolute_error |" in table
    assert "Experiment 5" in capsys.readouterr().out
    assert _run(parser, ["experiment", "nonsense", "--out", str(tmp_path)]) == 2


def test_diagnosis_html_has_findings_and_two_plots(capsys):
    from glassnet.app.experiments.core import train_arm

    html = diagnosis_html(train_arm("vanishing", "sigmoid", epochs=2))
    assert html.startswith('<section id="diagnosis">') and "<h2>Diagnosis</h2>" in html
    assert "<strong>vanishing gradients</strong>" in html
    images = html.split('src="data:image/png;base64,')[1:]
    assert len(images) == 2
    assert base64.b64decode(images[0].split('"')[0])[:4] == b"\x89PNG"
    healthy = diagnosis_html(train_arm("vanishing", "relu", epochs=2))
    assert "No problems found" in healthy


def test_gradcheck_a_train_config_uses_its_data_and_model(parser, capsys):
    assert _run(parser, ["gradcheck", "digits", "--samples", "4", "--max-params", "20"]) == 0
    out = capsys.readouterr().out
    assert "passed" in out and "kernel" in out


def test_a_monitored_glassnet_train_run_gets_diagnostics_csv_and_a_report_section(tmp_path):
    from glassnet.app.cli import main

    config = tmp_path / "run.toml"
    config.write_text('[data]\nname = "digits"\n\n[training]\nepochs = 2\n\n[[callbacks]]\ntype = "GradientMonitor"\n')
    assert main(["train", str(config), "--out", str(tmp_path / "runs"), "--quiet"]) == 0
    (run_dir,) = (tmp_path / "runs").iterdir()
    rows = (run_dir / "diagnostics.csv").read_text().splitlines()
    assert rows[0].startswith("epoch,layer,parameter,grad_norm,update_ratio") and len(rows) > 10
    report = (run_dir / "report.html").read_text()
    assert "<h2>Diagnosis</h2>" in report and report.count("data:image/png;base64,") >= 2
    assert "No problems found" in report  # the default digits MLP trains healthily


def test_report_section_skips_unmonitored_runs(tmp_path):
    from types import SimpleNamespace

    from glassnet.app.diagnosis_report import report_section

    unmonitored = SimpleNamespace(model=SimpleNamespace(history=gn.callbacks.History()))
    assert report_section(unmonitored, tmp_path, {}, {}) is None
    assert not (tmp_path / "diagnostics.csv").exists()


def test_runs_train_writes_the_diagnosis_section_without_the_command_line(tmp_path):
    # Regression: the section used to be registered only when the CLI parser had been built first.
    code = (
        "import sys; from glassnet.app import runs; "
        "raw = {'data': {'name': 'digits', 'limit': 200}, 'training': {'epochs': 2}}; "
        "result = runs.train(runs.setup(raw), out=sys.argv[1], verbose=0); "
        "assert 'glassnet.app.cli' not in sys.modules; "
        "print('<h2>Diagnosis</h2>' in (result.run_dir / 'report.html').read_text())"
    )
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"
