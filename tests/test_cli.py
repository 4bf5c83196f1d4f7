"""The command line: train, evaluate, and clear errors."""

from core import evaluate as evaluate_cli
from core import registry
from core import train as train_cli


def test_train_then_evaluate(tiny_imdb_folder, tmp_path, capsys):
    code = train_cli.main(
        [
            "--preset", "tiny",
            "--data", str(tiny_imdb_folder),
            "--models-dir", str(tmp_path),
            "--name", "cli-run",
            "--epochs", "1",
            "--mask-padding", "false",
        ]
    )  # fmt: skip
    assert code == 0
    card = registry.load_card("cli-run", tmp_path)
    assert card["hyperparameters"]["epochs"] == 1
    assert card["hyperparameters"]["mask_padding"] is False
    assert card["test"]["size"] == 160
    assert "test_accuracy=" in capsys.readouterr().out

    code = evaluate_cli.main(
        ["--model", "cli-run", "--models-dir", str(tmp_path),
         "--data", str(tiny_imdb_folder)]
    )  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert f"accuracy {card['test']['accuracy']:.4f}" in out


def test_bad_hyperparameter_is_a_clear_error(tiny_imdb_folder, capsys):
    code = train_cli.main(["--preset", "tiny", "--units", "0"])
    assert code == 2
    assert "`units` must be between 1" in capsys.readouterr().err


def test_missing_data_says_what_to_do(tmp_path, capsys):
    code = train_cli.main(["--preset", "tiny", "--data", str(tmp_path / "none")])
    assert code == 1
    assert "GRU_LAB_DATA" in capsys.readouterr().err
