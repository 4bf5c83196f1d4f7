"""Keras' own count of the lab's model, to check `core.params` against.

`count_with_keras` builds the model exactly as the app does
(`core.model.build_model`, with an un-adapted vectorizer: the vocabulary holds
no parameters), asks every layer for `count_params()`, and reads the ledger
back from the real weights: each recurrent weight is cut into its gates along
its last axis, in Keras' order, and its rows of biases apart.
"""

import dataclasses
import logging
import time

import numpy as np
from keras import layers

from core import params
from core.config import Hyperparameters
from core.model import build_model
from core.text import build_vectorizer

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class RecurrentWeight:
    """One of a cell's weights as Keras holds it, and its split into the gates."""

    direction: str  # "forward" or "backward"
    name: str  # Keras' name: "kernel", "recurrent_kernel" or "bias"
    path: str  # Keras' variable path, e.g. "recurrent/forward_gru/gru_cell/kernel"
    shape: tuple[int, ...]
    gate_shapes: tuple[tuple[str, tuple[int, ...]], ...]  # (gate, block shape)


@dataclasses.dataclass(frozen=True)
class KerasCount:
    """What Keras says about the model built from some hyperparameters."""

    layer_params: dict[str, int]  # count_params() per layer, in the model's order
    total: int  # model.count_params()
    recurrent_weights: tuple[RecurrentWeight, ...]
    rows: tuple[params.LedgerRow, ...]  # the ledger, read from the real weights
    build_seconds: float


def _shape(array) -> tuple[int, ...]:
    return tuple(int(size) for size in array.shape)


def _cell_rows(
    cell_layer, direction: str, gates: tuple[str, ...]
) -> tuple[list[params.LedgerRow], list[RecurrentWeight]]:
    """Cut one direction's kernel, recurrent kernel and bias into gate blocks."""
    cell = cell_layer.cell
    g = len(gates)
    kernel = np.asarray(cell.kernel.numpy())
    recurrent_kernel = np.asarray(cell.recurrent_kernel.numpy())
    bias = np.asarray(cell.bias.numpy())
    units = kernel.shape[-1] // g

    # A 2-D GRU bias holds the bias added to x_t W (row 0) and to h_(t-1) U (row 1).
    if bias.ndim == 2:
        biases = [
            (params.INPUT_BIAS, bias[0], "0, "),
            (params.RECURRENT_BIAS, bias[1], "1, "),
        ]
    else:
        biases = [(params.BIAS, bias, "")]

    rows = []
    blocks = {
        params.KERAS_KERNEL: np.split(kernel, g, axis=-1),
        params.KERAS_RECURRENT_KERNEL: np.split(recurrent_kernel, g, axis=-1),
    }
    bias_blocks = [
        (matrix, np.split(vector, g, axis=-1), row) for matrix, vector, row in biases
    ]
    for index, gate in enumerate(gates):
        columns = f"{index * units}:{(index + 1) * units}"
        # (matrix, its block for this gate, where Keras keeps that block)
        pieces = [
            (params.INPUT_KERNEL, blocks[params.KERAS_KERNEL][index],
             f"{params.KERAS_KERNEL}[:, {columns}]"),
            (params.RECURRENT_KERNEL, blocks[params.KERAS_RECURRENT_KERNEL][index],
             f"{params.KERAS_RECURRENT_KERNEL}[:, {columns}]"),
        ] + [
            (matrix, vectors[index], f"{params.KERAS_BIAS}[{row}{columns}]")
            for matrix, vectors, row in bias_blocks
        ]  # fmt: skip
        for matrix, block, keras_slice in pieces:
            rows.append(
                params.LedgerRow(
                    params.RECURRENT,
                    direction,
                    gate,
                    matrix,
                    _shape(block),
                    int(block.size),
                    keras_slice,
                )
            )

    weights = []
    for name, variable, value in (
        (params.KERAS_KERNEL, cell.kernel, kernel),
        (params.KERAS_RECURRENT_KERNEL, cell.recurrent_kernel, recurrent_kernel),
        (params.KERAS_BIAS, cell.bias, bias),
    ):
        pieces = np.split(value, g, axis=-1)
        weights.append(
            RecurrentWeight(
                direction,
                name,
                variable.path,
                _shape(value),
                tuple((gate, _shape(piece)) for gate, piece in zip(gates, pieces)),
            )
        )
    return rows, weights


def count_with_keras(hp: Hyperparameters) -> KerasCount:
    """Build the app's model for `hp` and read its parameters from Keras.

    The global random generators are left alone, so a check never changes the
    weights a training running in another session starts from.
    """
    started = time.perf_counter()
    vectorizer = build_vectorizer(hp.vocab_size, hp.sequence_length)
    model = build_model(hp, vectorizer, seed_everything=False)
    layer_params = {layer.name: int(layer.count_params()) for layer in model.layers}
    layer_params.pop("review", None)  # the Input, not a layer with weights

    embedding = model.get_layer(params.EMBEDDING)
    recurrent = model.get_layer(params.RECURRENT)
    dense = model.get_layer(params.OUTPUT)
    gates = params.GATES[hp.cell]

    rows = [
        params.LedgerRow(
            params.EMBEDDING,
            "",
            "",
            params.EMBEDDINGS,
            _shape(embedding.embeddings),
            int(np.prod(embedding.embeddings.shape)),
            "embeddings",
        )
    ]
    if isinstance(recurrent, layers.Bidirectional):
        directions = [
            (params.FORWARD, recurrent.forward_layer),
            (params.BACKWARD, recurrent.backward_layer),
        ]
    else:
        directions = [(params.FORWARD, recurrent)]
    weights = []
    for direction, cell_layer in directions:
        cell_rows, cell_weights = _cell_rows(cell_layer, direction, gates)
        rows += cell_rows
        weights += cell_weights
    for matrix, variable, keras_slice in (
        (params.INPUT_KERNEL, dense.kernel, "kernel"),
        (params.BIAS, dense.bias, "bias"),
    ):
        rows.append(
            params.LedgerRow(
                params.OUTPUT,
                "",
                "",
                matrix,
                _shape(variable),
                int(np.prod(variable.shape)),
                keras_slice,
            )
        )

    seconds = time.perf_counter() - started
    logger.info("Built and counted %s in %.2f s", hp.cell, seconds)
    return KerasCount(
        layer_params=layer_params,
        total=int(model.count_params()),
        recurrent_weights=tuple(weights),
        rows=tuple(rows),
        build_seconds=seconds,
    )


def differences(
    ledger_rows: list[params.LedgerRow], keras_rows: list[params.LedgerRow]
) -> list[str]:
    """Where the ledger and Keras disagree, one sentence each (empty: they agree)."""
    found = []
    if len(ledger_rows) != len(keras_rows):
        found.append(
            f"The ledger has {len(ledger_rows)} weight blocks, Keras {len(keras_rows)}."
        )
    for expected, actual in zip(ledger_rows, keras_rows):
        if expected != actual:
            where = " / ".join(
                part
                for part in (expected.layer, expected.direction, expected.gate)
                if part
            )
            found.append(
                f"{where} / {expected.matrix}: the ledger says {expected.shape} "
                f"= {expected.count:,} at {expected.keras_slice}, Keras has "
                f"{actual.matrix} {actual.shape} = {actual.count:,} at "
                f"{actual.keras_slice}."
            )
    return found
