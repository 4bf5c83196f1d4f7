"""Why the model decided: its gates word by word, its two readings, its words.

Three views of one prediction, each computed from the model's own weights:

- `run_gru` re-runs a Keras GRU in plain NumPy and keeps what Keras throws
  away: the update gate, the reset gate and the candidate state at every step.
  It reproduces the Keras layer's outputs (tests/test_explain.py compares
  them on real reviews), so the gates shown are the gates the model used.
- `DecisionSplit`: the last layer is Dense over the final states, linear before
  its sigmoid, so the logit splits exactly into what the forward reading, the
  backward reading and the bias each add.
- `word_influence`: how much P(positive) changes when one word is removed from
  the review, for every word the model reads, in one batch.

Keras' GRU, for one step with input x_t and previous state h_tm1 (kernel
columns in the order z, r, h; `reset_after=True` is Keras' default):

    z = sigmoid(x_t W_z + b_z + h_tm1 U_z + c_z)          update gate
    r = sigmoid(x_t W_r + b_r + h_tm1 U_r + c_r)          reset gate
    h_candidate = tanh(x_t W_h + b_h + r * (h_tm1 U_h + c_h))   reset_after
    h_candidate = tanh(x_t W_h + b_h + (r * h_tm1) U_h)         reset before
    h_t = z * h_tm1 + (1 - z) * h_candidate

The c terms exist only with `reset_after` (the bias then has shape (2, 3u)).
A masked step (padding) leaves the state as it was. The backward layer of a
Bidirectional reads the sequence from its end; with post-padding and a mask
it first skips the padding, so it reads the real tokens in reverse from a zero
state.
"""

import dataclasses

import keras
import numpy as np
from keras import layers

from core import model as model_module
from core import text


class ExplanationUnavailable(ValueError):
    """The model's structure does not allow this view; the message says why."""


# Gates ---------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class GruWeights:
    """A GRU cell's weights as NumPy arrays, in Keras' layout."""

    kernel: np.ndarray  # (input_dim, 3 * units): input to z, r, h
    recurrent_kernel: np.ndarray  # (units, 3 * units): previous state to z, r, h
    input_bias: np.ndarray  # (3 * units,): b_z, b_r, b_h
    recurrent_bias: np.ndarray | None  # (3 * units,) c_z, c_r, c_h; reset_after only
    reset_after: bool

    @property
    def units(self) -> int:
        return self.recurrent_kernel.shape[0]


def gru_weights(layer) -> GruWeights:
    """The weights of a Keras `GRU` layer (or `GRUCell`) as NumPy arrays.

    Raises ExplanationUnavailable for another cell, or for a GRU whose
    activations are not Keras' defaults (tanh and sigmoid).
    """
    cell = getattr(layer, "cell", layer)
    if not isinstance(cell, layers.GRUCell):
        raise ExplanationUnavailable(
            f"The gate view needs a GRU; this layer's cell is a "
            f"{type(cell).__name__}, whose gates are not z and r."
        )
    if (
        cell.activation is not keras.activations.tanh
        or cell.recurrent_activation is not keras.activations.sigmoid
    ):
        raise ExplanationUnavailable(
            "The gate view re-runs a GRU with tanh and sigmoid activations; "
            "this GRU uses others."
        )
    kernel = keras.ops.convert_to_numpy(cell.kernel)
    recurrent_kernel = keras.ops.convert_to_numpy(cell.recurrent_kernel)
    three_units = recurrent_kernel.shape[1]
    input_bias = np.zeros(three_units, dtype=kernel.dtype)
    recurrent_bias = np.zeros(three_units, dtype=kernel.dtype)
    if cell.use_bias:
        bias = keras.ops.convert_to_numpy(cell.bias)
        if bias.ndim == 2:  # reset_after: one row for the input, one for the state
            input_bias, recurrent_bias = bias[0], bias[1]
        else:
            input_bias = bias
    return GruWeights(
        kernel=kernel,
        recurrent_kernel=recurrent_kernel,
        input_bias=input_bias,
        recurrent_bias=recurrent_bias if cell.reset_after else None,
        reset_after=bool(cell.reset_after),
    )


@dataclasses.dataclass(frozen=True)
class GruTrace:
    """One GRU's reading of a batch, indexed by token position (not step order).

    For a backward GRU, position t holds what happened when it read token t
    (having read the tokens after t already). Gates are NaN at masked
    positions, where the cell did not run; `states` there repeat the state
    carried over.
    """

    update_gate: np.ndarray  # (batch, steps, units): z at each position
    reset_gate: np.ndarray  # (batch, steps, units): r
    candidate: np.ndarray  # (batch, steps, units): h_candidate
    states: np.ndarray  # (batch, steps, units): h after reading each position
    final_state: np.ndarray  # (batch, units): h after the last step read
    go_backwards: bool


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def run_gru(
    inputs: np.ndarray,
    weights: GruWeights,
    mask: np.ndarray | None = None,
    go_backwards: bool = False,
) -> GruTrace:
    """Run a GRU over `inputs` as Keras does, keeping every gate (float64).

    Args:
        inputs: (batch, steps, input_dim) or (steps, input_dim) word vectors.
        weights: the cell's weights, e.g. `gru_weights(layer)`.
        mask: (batch, steps) or (steps,) booleans, False where the step is
            padding. Default: every step is read.
        go_backwards: read from the last step to the first, as the backward
            layer of a Bidirectional does.
    """
    inputs = np.asarray(inputs, dtype=np.float64)
    if inputs.ndim == 2:
        inputs = inputs[None]
        mask = None if mask is None else np.asarray(mask)[None]
    if inputs.ndim != 3 or inputs.shape[2] != weights.kernel.shape[0]:
        raise ValueError(
            f"`inputs` must have shape (batch, steps, {weights.kernel.shape[0]}), "
            f"got {inputs.shape}."
        )
    batch, steps, _ = inputs.shape
    mask = np.ones((batch, steps), bool) if mask is None else np.asarray(mask, bool)
    if mask.shape != (batch, steps):
        raise ValueError(f"`mask` must have shape {(batch, steps)}, got {mask.shape}.")
    units = weights.units
    kernel_h = weights.recurrent_kernel[:, 2 * units :].astype(np.float64)
    kernel_zr = weights.recurrent_kernel[:, : 2 * units].astype(np.float64)
    recurrent_bias = weights.recurrent_bias
    if recurrent_bias is None:
        recurrent_bias = np.zeros(3 * units)

    # the input's share of every gate, for all steps at once
    projected = inputs @ weights.kernel.astype(np.float64) + weights.input_bias
    x_z, x_r, x_h = np.split(projected, 3, axis=-1)

    update_gate = np.full((batch, steps, units), np.nan)
    reset_gate = np.full((batch, steps, units), np.nan)
    candidate = np.full((batch, steps, units), np.nan)
    states = np.zeros((batch, steps, units))
    h_tm1 = np.zeros((batch, units))
    order = range(steps - 1, -1, -1) if go_backwards else range(steps)
    for t in order:
        zr = h_tm1 @ kernel_zr + recurrent_bias[: 2 * units]
        z = _sigmoid(x_z[:, t] + zr[:, :units])
        r = _sigmoid(x_r[:, t] + zr[:, units:])
        if weights.reset_after:
            recurrent_h = r * (h_tm1 @ kernel_h + recurrent_bias[2 * units :])
        else:
            recurrent_h = (r * h_tm1) @ kernel_h
        h_candidate = np.tanh(x_h[:, t] + recurrent_h)
        # previous and candidate state mixed by the update gate
        h = z * h_tm1 + (1.0 - z) * h_candidate

        read = mask[:, t, None]
        h_tm1 = np.where(read, h, h_tm1)
        states[:, t] = h_tm1
        update_gate[:, t] = np.where(read, z, np.nan)
        reset_gate[:, t] = np.where(read, r, np.nan)
        candidate[:, t] = np.where(read, h_candidate, np.nan)

    return GruTrace(update_gate, reset_gate, candidate, states, h_tm1, go_backwards)


# The decision --------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class DecisionSplit:
    """The final logit as a sum: forward + backward + bias.

    P(positive) = sigmoid(logit). `backward` is 0 for a one-way model.
    """

    forward: float  # what the forward reading's final state adds
    backward: float  # what the backward reading's final state adds
    bias: float  # the Dense layer's bias

    @property
    def logit(self) -> float:
        return self.forward + self.backward + self.bias

    @property
    def probability(self) -> float:
        return float(_sigmoid(self.logit))


@dataclasses.dataclass(frozen=True)
class Reading:
    """What the recurrent layer did with one review (its first `length` tokens).

    `forward_so_far[t]` is the forward reading's verdict after word t on the
    probability scale: sigmoid(forward term of h_forward(t) + bias share),
    where the bias share is half the Dense bias for a two-way model and all of
    it for a one-way model. At the last word it is what the forward reading
    alone says; for a one-way model it is exactly the model's P(positive) for
    the review cut after word t. `backward_so_far[t]` is the same for the
    backward reading after it has read from the end back to word t.
    """

    token_ids: np.ndarray  # (length,) the ids read
    forward: GruTrace  # batch of one
    backward: GruTrace | None
    split: DecisionSplit
    forward_so_far: np.ndarray  # (length,)
    backward_so_far: np.ndarray | None  # (length,)

    @property
    def length(self) -> int:
        return len(self.token_ids)


class Explainer:
    """The gate view and the decision split of one end-to-end model.

    Reads the embedding, the recurrent layer and the Dense layer's weights
    once; `read` then needs only NumPy. Raises ExplanationUnavailable when the
    recurrent layer is not a GRU (or a Bidirectional GRU merged by concat, sum
    or ave): a product of the two readings cannot be split into a sum.
    """

    def __init__(self, model: keras.Model):
        recurrent = model.get_layer(model_module.RECURRENT)
        self.bidirectional = isinstance(recurrent, layers.Bidirectional)
        if self.bidirectional:
            self.merge_mode = recurrent.merge_mode
            if self.merge_mode not in ("concat", "sum", "ave"):
                raise ExplanationUnavailable(
                    f"The two readings are merged by {self.merge_mode!r}; only "
                    "concat, sum and ave split into a forward and a backward part."
                )
            self.forward_weights = gru_weights(recurrent.forward_layer)
            self.backward_weights = gru_weights(recurrent.backward_layer)
        else:
            self.merge_mode = None
            self.forward_weights = gru_weights(recurrent)
            self.backward_weights = None
            if recurrent.go_backwards:
                raise ExplanationUnavailable(
                    "This one-way GRU reads backwards; the view expects forwards."
                )

        embedding = model.get_layer(model_module.EMBEDDING)
        self.embeddings = keras.ops.convert_to_numpy(embedding.embeddings)
        self.mask_padding = bool(embedding.mask_zero)

        dense = model.get_layer(model_module.OUTPUT)
        kernel = keras.ops.convert_to_numpy(dense.kernel)[:, 0].astype(np.float64)
        self.bias = float(keras.ops.convert_to_numpy(dense.bias)[0])
        units = self.forward_weights.units
        # the Dense weights that multiply each reading's final state
        if self.merge_mode == "concat":
            self.forward_dense, self.backward_dense = kernel[:units], kernel[units:]
        elif self.merge_mode == "sum":
            self.forward_dense, self.backward_dense = kernel, kernel
        elif self.merge_mode == "ave":
            self.forward_dense, self.backward_dense = kernel / 2, kernel / 2
        else:
            self.forward_dense, self.backward_dense = kernel, None
        self.bias_share = self.bias / 2 if self.bidirectional else self.bias

    def read(self, token_ids: np.ndarray) -> Reading:
        """Gates, states and the decision split for one review's token ids.

        `token_ids` are the model's input for one review (1-D, post-padded or
        already trimmed). The padding after the last word is cut off first, as
        `Predictor.predict_ids` does (one slot is kept for an empty review), so
        a model that does not mask its padding is read as it predicts.
        """
        token_ids = np.asarray(token_ids, dtype=np.int64)
        if token_ids.ndim != 1:
            raise ValueError(f"`token_ids` must be 1-D, got shape {token_ids.shape}.")
        width = max(int(text.sequence_lengths(token_ids[None])[0]), 1)
        token_ids = token_ids[:width]
        inputs = self.embeddings[token_ids]
        mask = token_ids != text.PADDING_ID if self.mask_padding else None

        forward = run_gru(inputs, self.forward_weights, mask)
        forward_term = forward.states[0] @ self.forward_dense
        forward_final = float(forward.final_state[0] @ self.forward_dense)
        backward, backward_so_far, backward_final = None, None, 0.0
        if self.backward_weights is not None:
            backward = run_gru(inputs, self.backward_weights, mask, go_backwards=True)
            backward_term = backward.states[0] @ self.backward_dense
            backward_final = float(backward.final_state[0] @ self.backward_dense)
            backward_so_far = _sigmoid(backward_term + self.bias_share)

        return Reading(
            token_ids=token_ids,
            forward=forward,
            backward=backward,
            split=DecisionSplit(forward_final, backward_final, self.bias),
            forward_so_far=_sigmoid(forward_term + self.bias_share),
            backward_so_far=backward_so_far,
        )


# Word influence ------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Influence:
    """P(positive) with every word, and with each word read taken out.

    `change[i] = probability - without[i]`: positive when word i pushed the
    review towards positive, negative when it pushed towards negative.
    """

    probability: float
    without: np.ndarray  # (words read,)

    @property
    def change(self) -> np.ndarray:
        return self.probability - self.without


def without_each_word(ids: np.ndarray, sequence_length: int) -> np.ndarray:
    """One row per word read: the review's ids with that word deleted.

    `ids` are all of a review's ids, beyond `sequence_length` too: when a word
    is deleted from a long review, the first word that was cut slides in, as
    it would if the student deleted the word from the text.
    """
    ids = np.asarray(ids, dtype=np.int32)
    read = min(len(ids), sequence_length)
    positions = np.arange(read)
    # row i skips word i: slots before i keep their word, later ones shift left
    source = positions[None, :] + (positions[None, :] >= positions[:, None])
    # the word after the last one read (padding if there is none) fills the gap
    padded = np.concatenate([ids[: read + 1], [text.PADDING_ID]]).astype(np.int32)
    return padded[source]


def word_influence(predictor, ids: np.ndarray) -> Influence:
    """Removal influence of every word read, in one batch of `predict_ids`.

    `predictor` is a `core.inference.Predictor`; `ids` are all the review's
    ids (`Tokenized.ids`). The full review is the batch's first row, so the
    baseline comes from the same call as the rest.
    """
    sequence_length = predictor.sequence_length
    ids = np.asarray(ids, dtype=np.int32)
    full = np.zeros(sequence_length, dtype=np.int32)
    full[: min(len(ids), sequence_length)] = ids[:sequence_length]
    rows = without_each_word(ids, sequence_length)
    batch = np.zeros((len(rows) + 1, sequence_length), dtype=np.int32)
    batch[0] = full
    batch[1:, : rows.shape[1]] = rows
    probabilities = predictor.predict_ids(batch)
    return Influence(float(probabilities[0]), probabilities[1:].astype(np.float64))
