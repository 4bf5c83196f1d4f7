"""Home: what GRU Lab is for, the three tools, and the model in use."""

import streamlit as st

from core import registry
from pages import common

st.title("GRU Lab")
st.markdown(
    "Learn how a recurrent network reads text. GRU Lab is built around a "
    "classic course lab: telling positive from negative IMDB movie reviews "
    "with a **bidirectional GRU** in Keras."
)

playground, architecture, train = st.columns(3)
with playground, st.container(border=True):
    st.subheader(":material/edit_note: Playground")
    st.markdown(
        "Type a review and see the words and ids the model reads, the 300 "
        "slots it fills, its verdict - and which words and gates decided it."
    )
    st.page_link("pages/playground.py", label="Open the Playground")
with architecture, st.container(border=True):
    st.subheader(":material/account_tree: Architecture")
    st.markdown(
        "Where each of the lab model's 1,354,625 parameters lives: per "
        "layer, direction, gate and matrix, with the formulas and Keras' "
        "own counts."
    )
    st.page_link("pages/architecture.py", label="Open the Architecture page")
with train, st.container(border=True):
    st.subheader(":material/model_training: Train")
    st.markdown(
        "Set the hyperparameters, press Train and watch the loss and "
        "accuracy curves grow; stop any time, score and compare runs."
    )
    st.page_link("pages/train.py", label="Open the Train page")

st.subheader("The model in use")
card = common.active_card()
if card is None:
    st.info(
        "No trained model is available yet. Train one on the Train page, or "
        "from a terminal: `python -m core.train --preset classroom`."
    )
else:
    hp = card["hyperparameters"]
    test = card.get("test") or {}
    training = card.get("training") or {}
    shipped = (
        " (shipped with GRU Lab)" if card["name"] == registry.SHIPPED_MODEL else ""
    )
    st.markdown(f"**{card['name']}**{shipped} - change it in the sidebar.")
    accuracy, parameters, epochs, reviews = st.columns(4)
    if test.get("accuracy") is not None:
        accuracy.metric(
            "Test accuracy",
            f"{test['accuracy']:.3f}",
            f"{test['accuracy'] - 0.838:+.3f} vs the lab's 0.838",
            help=f"Measured on {test.get('size', 0):,} test reviews.",
        )
    parameters.metric("Parameters", f"{card.get('parameters', 0):,}")
    epochs.metric(
        "Epochs",
        f"{training.get('epochs_run', '?')}",
        help=f"Best epoch: {training.get('best_epoch')}; "
        f"ended by {training.get('stop_reason', '?').replace('_', ' ')}.",
    )
    data = card.get("data") or {}
    reviews.metric("Training reviews", f"{data.get('fit_size', 0):,}")
    cell = {"gru": "GRU", "lstm": "LSTM", "simple_rnn": "SimpleRNN"}[hp["cell"]]
    st.caption(
        f"{'Bidirectional ' if hp['bidirectional'] else ''}{cell} with "
        f"{hp['units']} units over {hp['embedding_dim']}-wide embeddings of a "
        f"{hp['vocab_size']:,}-word vocabulary; reviews cut or padded to "
        f"{hp['sequence_length']} tokens."
    )
