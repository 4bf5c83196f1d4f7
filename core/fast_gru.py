"""A faster way to train the GRU: the same weights and the same arithmetic as
Keras' layer, with less work per time step.

Keras' GRU runs its whole cell inside the time loop, the input product
`x_t . W` included, and lets TensorFlow derive the backward pass op by op.
On a small CPU each step's ops are tiny and the cost per op dominates. Here:

- the input products `x_t . W + b` are computed before the loop, once per
  distinct word of the batch, and looked up for every step (the backward
  direction reads its reviews reversed, so the lookup positions are
  reversed, not the vectors);
- the loop keeps only what depends on the previous state: `h . U`, the gates
  and the new state;
- the backward pass is written out by hand (backpropagation through time):
  one loop that carries the state's gradient, while the weight gradients are
  again large matrix products after it;
- padding is skipped without a mask op per step: each direction reads its
  real tokens first, and the final state is taken at each review's last real
  token;
- `FusedAdam` applies Adam, and its weight average, with one TensorFlow
  kernel per variable.

`FastRecurrentEncoder` wraps a model's own Embedding and recurrent layers: it
computes `recurrent(embedding(token_ids))` with their variables, so training
through it trains the model itself, and the saved model is plain Keras.
Only the GRU with Keras' defaults (`reset_after=True`, tanh and sigmoid, no
recurrent dropout) has a fast path; `supports` says whether a layer has one.
"""

import keras
import tensorflow as tf
from keras import layers

_MERGES = {
    "concat": lambda a, b: tf.concat([a, b], axis=-1),
    "sum": lambda a, b: a + b,
    "mul": lambda a, b: a * b,
    "ave": lambda a, b: (a + b) / 2,
}


def _plain_gru(layer, backwards: bool = False) -> bool:
    if not isinstance(layer, layers.GRU):
        return False
    config = layer.get_config()
    return (
        config["reset_after"]
        and config["activation"] == "tanh"
        and config["recurrent_activation"] == "sigmoid"
        and config["use_bias"]
        and not config["dropout"]
        and not config["recurrent_dropout"]
        and not config["return_sequences"]
        and not config["return_state"]
        and config["go_backwards"] == backwards
        and not config["stateful"]
    )


def supports(recurrent) -> bool:
    """Whether `recurrent` (a GRU or a Bidirectional GRU) has the fast path."""
    if isinstance(recurrent, layers.Bidirectional):
        return (
            recurrent.merge_mode in _MERGES
            and _plain_gru(recurrent.forward_layer)
            and _plain_gru(recurrent.backward_layer, backwards=True)
        )
    return _plain_gru(recurrent)


def used_for(hp) -> bool:
    """Whether training with `hp` (core.config.Hyperparameters) takes this path:
    the setting is on and the cell is Keras' default GRU."""
    return hp.fast_gru and hp.cell == "gru" and hp.reset_after


def final_state(inputs, recurrent_kernel, recurrent_bias, last):
    """The final state of a GRU over precomputed input products.

    inputs: (steps, batch, 3u), time-major `x_t . W + input_bias` with the
    gates in Keras' order (z, r, h); recurrent_kernel: (u, 3u);
    recurrent_bias: (3u,); last: (steps, batch, 1), 1.0 at each review's
    final step and 0.0 elsewhere (a row of zeros gives a zero state).
    Returns (batch, u). Differentiable in the first three arguments.

    Keras' GRU (reset_after=True), per step:
        z, r = sigmoid(x_zr + h_prev . U_zr + b_zr)
        n = tanh(x_n + r * (h_prev . U_n + b_n))
        h = n + z * (h_prev - n)      (= z * h_prev + (1 - z) * n)
    """
    units = recurrent_kernel.shape[0]

    @tf.custom_gradient
    def run(inputs, kernel, bias):
        steps = tf.shape(inputs)[0]
        dtype = inputs.dtype
        bias_zr, bias_n = tf.split(bias, [2 * units, units])
        # b_zr is added to x_zr once for all steps, out of the loop.
        x_zr, x_n = tf.split(inputs, [2 * units, units], axis=-1)
        x_zr = x_zr + bias_zr
        x_zr_ta = tf.TensorArray(dtype, size=steps).unstack(x_zr)
        x_n_ta = tf.TensorArray(dtype, size=steps).unstack(x_n)
        states = tf.TensorArray(dtype, size=steps)

        def step(t, h, states):
            h_zr, h_n = tf.split(tf.matmul(h, kernel), [2 * units, units], axis=1)
            z, r = tf.split(tf.sigmoid(x_zr_ta.read(t) + h_zr), 2, axis=1)
            n = tf.tanh(x_n_ta.read(t) + r * (h_n + bias_n))
            h = n + z * (h - n)
            return t + 1, h, states.write(t, h)

        initial = tf.zeros((tf.shape(inputs)[1], units), dtype)
        _, _, states = tf.while_loop(
            lambda t, *_: t < steps,
            step,
            (0, initial, states),
            maximum_iterations=steps,
        )
        all_states = states.stack()
        result = tf.reduce_sum(all_states * last, axis=0)

        def gradient(upstream):
            # Everything that does not depend on the incoming gradient is
            # computed for all steps at once, out of the loop: the factors
            # that turn dL/dh_t into the gate gradients.
            previous = tf.concat([initial[tf.newaxis], all_states[:-1]], axis=0)
            flat_previous = tf.reshape(previous, (-1, units))
            h_zr, h_n = tf.split(
                tf.reshape(tf.matmul(flat_previous, kernel), tf.shape(inputs)),
                [2 * units, units],
                axis=-1,
            )
            h_n = h_n + bias_n
            z, r = tf.split(tf.sigmoid(x_zr + h_zr), 2, axis=-1)
            n = tf.tanh(x_n + r * h_n)
            # With dh = dL/dh_t:  da_n = dh * p,  da_z = dh * q,  da_r = dh * s,
            # and dL/d(h_prev . U + b) = dh * [q, s, p * r].
            p = (1.0 - z) * (1.0 - n * n)
            q = (previous - n) * z * (1.0 - z)
            s = p * h_n * r * (1.0 - r)
            factors = tf.concat([q, s, p * r], axis=-1)

            injected = tf.TensorArray(dtype, size=steps).unstack(last * upstream)
            factors_ta = tf.TensorArray(dtype, size=steps).unstack(factors)
            z_ta = tf.TensorArray(dtype, size=steps).unstack(z)
            state_grads = tf.TensorArray(dtype, size=steps)
            kernel_t = tf.transpose(kernel)

            def back(t, dh, state_grads):
                dh = dh + injected.read(t)
                d_recurrent = tf.tile(dh, [1, 3]) * factors_ta.read(t)
                return (
                    t - 1,
                    dh * z_ta.read(t) + tf.matmul(d_recurrent, kernel_t),
                    state_grads.write(t, dh),
                )

            _, _, state_grads = tf.while_loop(
                lambda t, *_: t >= 0,
                back,
                (steps - 1, tf.zeros_like(upstream), state_grads),
                maximum_iterations=steps,
            )
            dh = state_grads.stack()
            d_recurrent = tf.tile(dh, [1, 1, 3]) * factors
            d_inputs = tf.concat([d_recurrent[..., : 2 * units], dh * p], axis=-1)
            d_recurrent = tf.reshape(d_recurrent, (-1, 3 * units))
            return (
                d_inputs,
                tf.matmul(flat_previous, d_recurrent, transpose_a=True),
                tf.reduce_sum(d_recurrent, axis=0),
            )

        return result, gradient

    return run(inputs, recurrent_kernel, recurrent_bias)


class FastRecurrentEncoder(keras.layers.Layer):
    """`recurrent(embedding(token_ids))` through the fast GRU path.

    Token ids are post-padded with 0. With the embedding's `mask_zero`, each
    direction skips the padding as Keras' masked layer does; without it, the
    padding is read like any token, as Keras does then too.
    """

    def __init__(self, embedding: layers.Embedding, recurrent, **kwargs):
        super().__init__(**kwargs)
        if not supports(recurrent):
            raise ValueError(
                f"{recurrent.name!r} has no fast path: only a GRU with Keras' "
                "default options (reset_after=True, no dropout) has one."
            )
        self.embedding = embedding
        self.recurrent = recurrent
        if isinstance(recurrent, layers.Bidirectional):
            self.directions = [recurrent.forward_layer, recurrent.backward_layer]
            self.merge = _MERGES[recurrent.merge_mode]
        else:
            self.directions = [recurrent]
            self.merge = None

    def build(self, input_shape):
        if not self.embedding.built:
            self.embedding.build(input_shape)
        if not self.recurrent.built:
            self.recurrent.build((*input_shape, self.embedding.output_dim))
        super().build(input_shape)

    def call(self, token_ids):
        token_ids = tf.convert_to_tensor(token_ids, dtype="int32")
        steps = tf.shape(token_ids)[1]
        if self.embedding.mask_zero:
            lengths = tf.reduce_sum(tf.cast(token_ids != 0, "int32"), axis=1)
        else:
            lengths = tf.fill(tf.shape(token_ids)[:1], steps)
        last = tf.transpose(tf.one_hot(lengths - 1, steps, dtype=self.compute_dtype))
        last = last[:, :, tf.newaxis]
        # A batch holds a few thousand distinct words among its ~12,000
        # tokens: the input products are computed once per distinct word and
        # then looked up, for the values and for the gradients alike.
        words, positions = tf.unique(tf.reshape(tf.transpose(token_ids), [-1]))
        positions = tf.reshape(positions, (steps, -1))  # time-major
        vectors = tf.gather(tf.convert_to_tensor(self.embedding.embeddings), words)
        states = []
        for index, direction in enumerate(self.directions):
            if index == 1:
                positions = tf.reverse_sequence(
                    positions, lengths, seq_axis=0, batch_axis=1
                )
            states.append(self._direction(direction.cell, vectors, positions, last))
        if self.merge is None:
            return states[0]
        return self.merge(*states)

    def _direction(self, cell, vectors, positions, last):
        kernel = tf.convert_to_tensor(cell.kernel)
        bias = tf.convert_to_tensor(cell.bias)  # (2, 3u): input, recurrent
        products = tf.nn.bias_add(tf.matmul(vectors, kernel), bias[0])
        inputs = tf.gather(products, positions)  # (steps, batch, 3u)
        recurrent_kernel = tf.convert_to_tensor(cell.recurrent_kernel)
        return final_state(inputs, recurrent_kernel, bias[1], last)

    def compute_output_shape(self, input_shape):
        return self.recurrent.compute_output_shape(
            (*input_shape, self.embedding.output_dim)
        )


class FusedAdam(keras.optimizers.Adam):
    """Keras' Adam with each variable's update done by one fused kernel.

    Keras' Adam updates a variable with about ten separate tensor ops, and its
    weight average with four more, each a pass over all 1.28 M embedding
    weights. TensorFlow's ResourceApplyAdam computes the same update (same
    bias correction, same epsilon placement) in one pass, and the average
    takes two. A small gain (bench/train_speed.py --levers: 1.02x alone,
    1.05x on top of the fast loop). On another backend, or for AMSGrad,
    Keras' own code runs.
    """

    def _fused(self) -> bool:
        return not self.amsgrad and keras.backend.backend() == "tensorflow"

    def update_step(self, gradient, variable, learning_rate):
        if not self._fused():
            return super().update_step(gradient, variable, learning_rate)
        dtype = variable.dtype
        step = tf.cast(self.iterations + 1, dtype)
        index = self._get_variable_index(variable)
        tf.raw_ops.ResourceApplyAdam(
            var=_handle(variable),
            m=_handle(self._momentums[index]),
            v=_handle(self._velocities[index]),
            beta1_power=tf.pow(tf.cast(self.beta_1, dtype), step),
            beta2_power=tf.pow(tf.cast(self.beta_2, dtype), step),
            lr=tf.cast(learning_rate, dtype),
            beta1=tf.cast(self.beta_1, dtype),
            beta2=tf.cast(self.beta_2, dtype),
            epsilon=tf.cast(self.epsilon, dtype),
            grad=tf.convert_to_tensor(gradient, dtype),
        )

    def _update_model_variables_moving_average(self, trainable_variables):
        if not (self.use_ema and self._fused()):
            return super()._update_model_variables_moving_average(trainable_variables)
        for variable, average in zip(
            trainable_variables, self._model_variables_moving_average
        ):
            if average is None:
                continue
            # average <- m * average + (1 - m) * variable, with m = 0 on the
            # first step as in Keras: average -= (1 - m) * (average - variable).
            keep = tf.cast(tf.not_equal(self.iterations, 0), variable.dtype)
            tf.raw_ops.ResourceApplyGradientDescent(
                var=_handle(average),
                alpha=1.0 - keep * tf.cast(self.ema_momentum, variable.dtype),
                delta=tf.convert_to_tensor(average) - tf.convert_to_tensor(variable),
            )


def _handle(variable):
    """The resource handle of a Keras variable or of a plain tf.Variable."""
    if isinstance(variable, tf.Variable):
        return variable.handle
    return variable.value.handle
