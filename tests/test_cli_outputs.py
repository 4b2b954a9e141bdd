"""CLI output paths that cannot work are clear errors before any work (issue 11, item 5)."""

import glassnet as gn
from glassnet.app.cli import main


def test_train_out_pointing_at_a_file_is_a_usage_error(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    assert main(["train", "xor", "--out", str(tmp_path / "file"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "--out" in err and "is a file" in err and err.count("\n") == 1


def test_predict_output_that_is_a_folder_is_a_usage_error(tmp_path, capsys):
    model = gn.Sequential([gn.layers.Input(shape=(2,)), gn.layers.Dense(1)])
    model.save(tmp_path / "m.glassnet")
    (tmp_path / "in.csv").write_text("a,b\n1,2\n")
    assert main(["predict", str(tmp_path / "m.glassnet"), str(tmp_path / "in.csv"), "-o", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "is a folder" in err and "predictions.csv" in err and err.count("\n") == 1
