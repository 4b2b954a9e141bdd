"""CSV inputs on the command line (issue 11, item 5): predict matches columns by header name, a NaN
or text cell is reported by its line in the file."""

import numpy as np
import pytest

from glassnet.app.cli import main


def _write_csv(path, x, y=None, names=("a", "b", "c"), blank_line_at=None):
    lines = [",".join([*names] + (["label"] if y is not None else []))]
    for k, row in enumerate(x):
        cells = [repr(float(v)) for v in row] + ([str(int(y[k]))] if y is not None else [])
        lines.append(",".join(cells))
    if blank_line_at is not None:
        lines.insert(blank_line_at, "")
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("csvrun")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 3))
    _write_csv(tmp / "train.csv", x, (x[:, 0] > x[:, 2]).astype(int))
    (tmp / "run.toml").write_text(
        f'[data]\nname = "csv"\npath = "{tmp / "train.csv"}"\ntarget = "label"\n'
        '[preprocessing]\nscaler = "standard"\n'
        '[[model.layers]]\ntype = "Dense"\nunits = 2\nactivation = "softmax"\n'
        "[training]\nepochs = 2\ndiagnose = false\n"
    )
    assert main(["train", str(tmp / "run.toml"), "--out", str(tmp / "runs"), "--quiet"]) == 0
    return next((tmp / "runs").iterdir())


def test_predict_matches_columns_by_header_name(run_dir, tmp_path, capsys):
    x = np.random.default_rng(1).normal(size=(5, 3))
    _write_csv(tmp_path / "in.csv", x)
    _write_csv(tmp_path / "reordered.csv", x[:, [2, 0, 1]], names=("c", "a", "b"))
    assert main(["predict", str(run_dir), str(tmp_path / "in.csv")]) == 0
    straight = capsys.readouterr().out
    assert main(["predict", str(run_dir), str(tmp_path / "reordered.csv")]) == 0
    assert capsys.readouterr().out == straight
    _write_csv(tmp_path / "renamed.csv", x, names=("a", "b", "d"))
    assert main(["predict", str(run_dir), str(tmp_path / "renamed.csv")]) == 2
    err = capsys.readouterr().err
    assert "lacks ['c']" in err and "unexpected ['d']" in err and err.count("\n") == 1


def test_a_nan_or_text_cell_is_refused_with_its_line_in_the_file(run_dir, tmp_path, capsys):
    x = np.ones((4, 3))
    x[2, 1] = np.nan
    _write_csv(tmp_path / "nan.csv", x, blank_line_at=2)  # a blank line before it: line 5, data row 3
    assert main(["predict", str(run_dir), str(tmp_path / "nan.csv")]) == 2
    assert "line 5, column 'b' is nan" in capsys.readouterr().err
    (tmp_path / "text.csv").write_text("a,b,c\n1,2,3\n\n1,two,3\n")
    assert main(["predict", str(run_dir), str(tmp_path / "text.csv")]) == 2
    assert "column 'b' must be numeric, got 'two' on line 4" in capsys.readouterr().err


def test_train_refuses_a_nan_cell_by_its_line_before_shuffling(tmp_path, capsys):
    x = np.ones((30, 3))
    x[17, 2] = np.inf
    _write_csv(tmp_path / "train.csv", x, np.arange(30) % 2)
    (tmp_path / "run.toml").write_text(f'[data]\nname = "csv"\npath = "{tmp_path / "train.csv"}"\n'
                                       'target = "label"\n')
    assert main(["train", str(tmp_path / "run.toml"), "--out", str(tmp_path / "runs"), "--quiet"]) == 2
    assert "line 19, column 'c' is inf" in capsys.readouterr().err
