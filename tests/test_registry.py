"""Saved runs: atomic saving, safe loading, identical predictions."""

import json

import numpy as np
import pytest
import tensorflow as tf

from core import registry


def test_saved_model_loads_and_predicts_identically(tiny_models_dir, tiny_vectorized):
    from core import training

    card = registry.load_card("tiny-run", tiny_models_dir)
    model = registry.load_model("tiny-run", tiny_models_dir)
    hp = registry.hyperparameters_of(card)
    result = training.train(hp, tiny_vectorized)
    reviews = ["a wonderful superb film", "boring and awful", "<br />x"]
    before = result.model(tf.constant(reviews), training=False).numpy()
    folder = registry.save_run(result.model, {"note": "t"}, "again", tiny_models_dir)
    after = registry.load_model("again", tiny_models_dir)(
        tf.constant(reviews), training=False
    ).numpy()
    np.testing.assert_allclose(before, after, atol=1e-6)
    assert json.loads((folder / registry.CARD_FILE).read_text())["model_bytes"] > 0
    assert model.count_params() == card["parameters"]


def test_card_records_what_is_needed(tiny_models_dir):
    card = registry.load_card("tiny-run", tiny_models_dir)
    assert card["hyperparameters"]["vocab_size"] == 500
    assert card["data"]["fit_size"] + card["data"]["validation_size"] == 120
    assert len(card["history"]) == card["training"]["epochs_run"]
    assert 0 <= card["test"]["accuracy"] <= 1
    assert {"tensorflow", "keras", "python"} <= set(card["versions"])


def test_failed_save_leaves_nothing_behind(tiny_models_dir, tmp_path, monkeypatch):
    model = registry.load_model("tiny-run", tiny_models_dir)

    def broken_save(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(model, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        registry.save_run(model, {}, "broken", tmp_path)
    assert list(tmp_path.iterdir()) == []
    assert registry.list_runs(tmp_path) == []


def test_existing_name_is_not_overwritten_by_accident(tiny_models_dir, tmp_path):
    model = registry.load_model("tiny-run", tiny_models_dir)
    registry.save_run(model, {"note": "first"}, "same", tmp_path)
    with pytest.raises(FileExistsError):
        registry.save_run(model, {"note": "second"}, "same", tmp_path)
    registry.save_run(model, {"note": "second"}, "same", tmp_path, overwrite=True)
    assert registry.load_card("same", tmp_path)["note"] == "second"
    assert [p.name for p in tmp_path.iterdir()] == ["same"]


def test_listing_skips_hidden_and_incomplete_folders(tiny_models_dir, tmp_path):
    (tmp_path / ".half-written").mkdir()
    (tmp_path / "no-model").mkdir()
    assert registry.list_runs(tmp_path) == []
    names = [card["name"] for card in registry.list_runs(tiny_models_dir)]
    assert "tiny-run" in names


@pytest.mark.parametrize("name", ["../escape", "", "a/b", ".hidden"])
def test_bad_names_are_refused(name, tmp_path):
    with pytest.raises(ValueError, match="not allowed"):
        registry.check_name(name)


def test_unknown_model_lists_the_known_ones(tiny_models_dir):
    with pytest.raises(FileNotFoundError, match="tiny-run"):
        registry.load_model("nope", tiny_models_dir)


def test_the_shipped_model_is_present_and_small():
    card = registry.load_card(registry.SHIPPED_MODEL)
    folder = registry.run_folder(registry.SHIPPED_MODEL)
    assert (folder / registry.MODEL_FILE).stat().st_size < 8 * 1024 * 1024
    assert card["parameters"] == 1_354_625
    assert card["test"]["size"] == 25_000
