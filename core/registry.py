"""Saved runs: one folder per trained model, with its card.

    models/<name>/model.keras   the end-to-end model (vectorizer included)
    models/<name>/card.json     hyperparameters, data, history, scores, versions

A run is written into a hidden folder beside its final place and then renamed,
so a crash or a stop never leaves half a model where the app looks for one.
Models load with Keras' safe mode on.
"""

import datetime
import json
import logging
import os
import pathlib
import re
import shutil
import tempfile
import uuid

import keras

from core import (
    runtime,
    text,  # noqa: F401  (registers the standardization for loading)
)
from core.config import Hyperparameters

logger = logging.getLogger(__name__)

MODELS_ENV = "GRU_LAB_MODELS"
MODEL_FILE = "model.keras"
CARD_FILE = "card.json"
SHIPPED_MODEL = "lab-bigru"
_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")


def default_models_dir() -> pathlib.Path:
    configured = os.environ.get(MODELS_ENV)
    if configured:
        return pathlib.Path(configured).expanduser()
    return pathlib.Path(__file__).resolve().parent.parent / "models"


def check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME_PATTERN.match(name):
        raise ValueError(
            f"Model name {name!r} is not allowed: use 1-80 letters, digits, '.', "
            "'_' or '-', starting with a letter or digit."
        )
    return name


def new_run_name(prefix: str = "run") -> str:
    """A unique, sortable name such as run-20261203-141502-1a2b."""
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    return f"{prefix}-{stamp}-{uuid.uuid4().hex[:4]}"


def save_run(
    model: keras.Model,
    card: dict,
    name: str,
    models_dir: str | os.PathLike | None = None,
    *,
    overwrite: bool = False,
) -> pathlib.Path:
    """Write the model and its card atomically; returns the run's folder."""
    check_name(name)
    root = pathlib.Path(models_dir or default_models_dir())
    root.mkdir(parents=True, exist_ok=True)
    destination = root / name
    if destination.exists() and not overwrite:
        raise FileExistsError(f"A model named {name!r} already exists in {root}.")

    card = dict(card, name=name)
    card.setdefault("created", datetime.datetime.now().isoformat(timespec="seconds"))
    card.setdefault("versions", runtime.versions())
    staging = pathlib.Path(tempfile.mkdtemp(prefix=f".{name}-", dir=root))
    staging.chmod(0o755)
    try:
        model.save(staging / MODEL_FILE)
        (staging / CARD_FILE).write_text(json.dumps(card, indent=2, sort_keys=True))
        card["model_bytes"] = (staging / MODEL_FILE).stat().st_size
        (staging / CARD_FILE).write_text(json.dumps(card, indent=2, sort_keys=True))
        if destination.exists():
            retired = root / f".retired-{name}-{uuid.uuid4().hex[:6]}"
            os.replace(destination, retired)
            os.replace(staging, destination)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(staging, destination)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    logger.info("Saved model %s to %s", name, destination)
    return destination


def run_folder(name: str, models_dir=None) -> pathlib.Path:
    folder = pathlib.Path(models_dir or default_models_dir()) / check_name(name)
    if not (folder / MODEL_FILE).is_file() or not (folder / CARD_FILE).is_file():
        known = [card["name"] for card in list_runs(models_dir)]
        raise FileNotFoundError(
            f"No saved model named {name!r}. Saved models: {known}."
        )
    return folder


def load_card(name: str, models_dir=None) -> dict:
    return json.loads((run_folder(name, models_dir) / CARD_FILE).read_text())


def load_model(name: str, models_dir=None) -> keras.Model:
    """The saved end-to-end model, loaded with Keras' safe mode."""
    path = run_folder(name, models_dir) / MODEL_FILE
    return keras.saving.load_model(path, compile=False, safe_mode=True)


def list_runs(models_dir=None) -> list[dict]:
    """Cards of every complete saved run, newest first (hidden folders skipped)."""
    root = pathlib.Path(models_dir or default_models_dir())
    if not root.is_dir():
        return []
    cards = []
    for folder in root.iterdir():
        if folder.name.startswith(".") or not (folder / MODEL_FILE).is_file():
            continue
        try:
            card = json.loads((folder / CARD_FILE).read_text())
        except (OSError, ValueError):
            logger.warning("Skipping %s: its card is missing or unreadable", folder)
            continue
        card["name"] = folder.name
        cards.append(card)
    return sorted(cards, key=lambda card: card.get("created", ""), reverse=True)


def hyperparameters_of(card: dict) -> Hyperparameters:
    return Hyperparameters.from_dict(card["hyperparameters"])
