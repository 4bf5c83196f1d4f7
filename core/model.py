"""The lab's classifier: text -> TextVectorization -> Embedding -> RNN -> Dense.

One set of layers serves two models:

- the *end-to-end* model takes raw review strings (its first layer is the
  vectorizer) and is what gets saved, loaded and shown;
- the *token* model takes token ids of any length and is what trains and
  predicts fast: reviews are vectorized once, and each batch is cut to its
  longest review instead of always running 300 steps.
"""

import keras
from keras import layers

from core import fast_gru
from core.config import Hyperparameters

# Layer names the rest of the code looks layers up by.
VECTORIZER = "text_vectorization"
EMBEDDING = "embedding"
RECURRENT = "recurrent"
DROPOUT = "dropout"
OUTPUT = "dense"

_CELL_CLASSES = {
    "gru": layers.GRU,
    "lstm": layers.LSTM,
    "simple_rnn": layers.SimpleRNN,
}


def build_recurrent_layer(hp: Hyperparameters, name: str = RECURRENT):
    """The recurrent layer the hyperparameters ask for (maybe Bidirectional)."""
    cell_class = _CELL_CLASSES[hp.cell]
    options = {"units": hp.units}
    if hp.cell == "gru":
        options["reset_after"] = hp.reset_after
    if not hp.bidirectional:
        return cell_class(name=name, **options)
    return layers.Bidirectional(
        cell_class(name=hp.cell, **options), merge_mode=hp.merge_mode, name=name
    )


def build_model(
    hp: Hyperparameters,
    vectorizer: layers.TextVectorization,
    *,
    seed_everything: bool = True,
) -> keras.Model:
    """The end-to-end model: a batch of strings in, P(positive) out.

    `vectorizer` must already be adapted; its vocabulary is saved with the model.
    With `seed_everything` (for training), Keras' global random generators are
    seeded with `hp.seed` first; callers that only inspect the model's shapes
    pass False so that they never disturb a training running beside them.
    """
    if seed_everything:
        keras.utils.set_random_seed(hp.seed)
    embedding = layers.Embedding(
        hp.vocab_size, hp.embedding_dim, mask_zero=hp.mask_padding, name=EMBEDDING
    )
    recurrent = build_recurrent_layer(hp)
    dropout = layers.Dropout(hp.dropout_rate, name=DROPOUT)
    dense = layers.Dense(1, activation="sigmoid", name=OUTPUT)

    text = keras.Input(shape=(), dtype="string", name="review")
    token_ids = vectorizer(text)
    probability = dense(dropout(recurrent(embedding(token_ids))))
    return keras.Model(text, probability, name="gru_lab_classifier")


def token_model(model: keras.Model) -> keras.Model:
    """A model over token ids of any length that shares `model`'s layers."""
    token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    x = model.get_layer(EMBEDDING)(token_ids)
    x = model.get_layer(RECURRENT)(x)
    x = model.get_layer(DROPOUT)(x)
    probability = model.get_layer(OUTPUT)(x)
    return keras.Model(token_ids, probability, name="gru_lab_token_classifier")


def training_model(model: keras.Model, fast: bool = True) -> keras.Model:
    """The token model that training fits; it shares `model`'s layers.

    With `fast` and a GRU that core.fast_gru supports, the embedding and the
    recurrent layer run through `fast_gru.FastRecurrentEncoder`: the same
    weights and outputs, fewer ops per time step. Otherwise Keras' layers.
    """
    recurrent = model.get_layer(RECURRENT)
    if not (fast and fast_gru.supports(recurrent)):
        return token_model(model)
    token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    x = fast_gru.FastRecurrentEncoder(
        model.get_layer(EMBEDDING), recurrent, name="fast_recurrent"
    )(token_ids)
    x = model.get_layer(DROPOUT)(x)
    probability = model.get_layer(OUTPUT)(x)
    return keras.Model(token_ids, probability, name="gru_lab_training_classifier")


# How much of the weights' moving average each step keeps (about the last
# hundred steps count), when weight averaging is on.
EMA_MOMENTUM = 0.99


def compile_for_training(
    model: keras.Model, learning_rate: float, weight_averaging: bool = False
) -> None:
    """Adam and binary cross-entropy, as in the lab.

    With `weight_averaging`, Adam also keeps an exponential moving average of
    the weights (Polyak averaging); `core.training` validates and keeps that
    average instead of the last step's weights. The update is Keras' Adam,
    computed by fused kernels (`fast_gru.FusedAdam`).
    """
    model.compile(
        optimizer=fast_gru.FusedAdam(
            learning_rate=learning_rate,
            use_ema=weight_averaging,
            ema_momentum=EMA_MOMENTUM,
        ),
        loss="binary_crossentropy",
        metrics=["accuracy"],
    )


def vectorizer_of(model: keras.Model) -> layers.TextVectorization:
    return model.get_layer(VECTORIZER)


def hyperparameters_of_layers(model: keras.Model) -> dict:
    """The architecture read back from a model's layers (for checks)."""
    vectorizer = vectorizer_of(model)
    embedding = model.get_layer(EMBEDDING)
    recurrent = model.get_layer(RECURRENT)
    bidirectional = isinstance(recurrent, layers.Bidirectional)
    inner = recurrent.forward_layer if bidirectional else recurrent
    cell = {layers.GRU: "gru", layers.LSTM: "lstm", layers.SimpleRNN: "simple_rnn"}[
        type(inner)
    ]
    found = {
        "vocab_size": vectorizer.vocabulary_size(),
        "sequence_length": vectorizer.get_config()["output_sequence_length"],
        "embedding_dim": embedding.output_dim,
        "mask_padding": embedding.mask_zero,
        "units": inner.units,
        "cell": cell,
        "bidirectional": bidirectional,
    }
    if bidirectional:
        found["merge_mode"] = recurrent.merge_mode
    if cell == "gru":
        found["reset_after"] = inner.reset_after
    return found
