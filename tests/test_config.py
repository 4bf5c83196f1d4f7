"""Hyperparameters: the lab's defaults, presets, and clear refusals."""

import dataclasses

import pytest

from core.config import PRESETS, Hyperparameters, preset


def test_defaults_are_the_labs_values():
    hp = Hyperparameters()
    assert (hp.vocab_size, hp.sequence_length, hp.embedding_dim, hp.units) == (
        10_000,
        300,
        128,
        64,
    )
    assert hp.cell == "gru" and hp.bidirectional and hp.dropout_rate == 0.5
    assert (hp.learning_rate, hp.batch_size, hp.epochs) == (1e-3, 64, 10)
    # The lab preset keeps all of them and changes only the recipe around them.
    lab = preset("lab")
    assert lab == hp.with_changes(validation_fraction=0.1, weight_averaging=True)


def test_presets_are_valid_and_named():
    assert {"lab", "classroom", "tiny"} <= set(PRESETS)
    assert preset("tiny").train_size < preset("classroom").train_size
    with pytest.raises(ValueError, match="Unknown preset 'huge'.*lab"):
        preset("huge")


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("units", 0, "`units` must be between 1 and 1,024, got 0"),
        ("units", 12.5, "`units` must be an integer, got 12.5"),
        ("cell", "transformer", "`cell` must be one of"),
        ("dropout_rate", 1.5, "`dropout_rate` must be in"),
        ("learning_rate", 0.0, "`learning_rate` must be in \\(0.0"),
        ("merge_mode", "max", "`merge_mode` must be one of"),
        ("bidirectional", "yes", "`bidirectional` must be True or False"),
        ("train_size", 30_000, "`train_size` must be between 20 and 25,000"),
        ("batch_size", True, "`batch_size` must be an integer"),
    ],
)
def test_bad_values_are_refused_with_field_value_and_allowed(field, value, expected):
    with pytest.raises(ValueError, match=expected):
        Hyperparameters(**{field: value})


def test_split_too_small_is_refused():
    with pytest.raises(ValueError, match="each needs at least 2"):
        Hyperparameters(train_size=20, validation_fraction=0.05)


def test_round_trip_through_a_dict():
    hp = preset("classroom").with_changes(units=32)
    assert Hyperparameters.from_dict(hp.to_dict()) == hp
    with pytest.raises(ValueError, match="Unknown hyperparameter"):
        Hyperparameters.from_dict({**hp.to_dict(), "colour": "blue"})


def test_instances_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        Hyperparameters().units = 3
