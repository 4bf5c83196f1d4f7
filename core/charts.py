"""Plotly figures for the Train page: learning curves and the confusion matrix.

The curves are redrawn every second while a model trains, so the layout is
built to hold still: both panels share one epoch axis fixed to the planned
number of epochs, the y ranges move only in coarse steps, every trace exists
(empty at first) from the first draw, and `uirevision` keeps a reader's zoom.
"""

import dataclasses
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

# The course lab's own result, drawn as a reference on the accuracy panel.
LAB_TEST_ACCURACY = 0.838

TRAIN_COLOUR = "#2f6fdf"
VALIDATION_COLOUR = "#e8710a"
BEST_COLOUR = "#f2b705"
STOP_COLOUR = "#c0392b"
REFERENCE_COLOUR = "#4f8f3a"
OVERLAY_COLOURS = ("#8d99a6", "#b39ddb", "#80cbc4", "#bcaaa4", "#90a4ae", "#f48fb1")

_HEIGHT = 400
_MAX_BATCH_POINTS = 1_000  # per training curve; longer runs are thinned evenly
_LOSS, _ACCURACY = 1, 2  # subplot columns


@dataclasses.dataclass(frozen=True)
class Overlay:
    """An earlier run drawn behind the current one: its per-epoch history.

    epochs: a table with columns epoch (1-based), loss, accuracy, val_loss,
    val_accuracy - a model card's history.
    """

    name: str
    epochs: pd.DataFrame


def overlay_from_card(card: dict) -> Overlay:
    """The curves of a saved run, from its model card."""
    columns = ["epoch", "loss", "accuracy", "val_loss", "val_accuracy"]
    history = pd.DataFrame(card.get("history") or [])
    return Overlay(card.get("name", "run"), history.reindex(columns=columns))


def _upper_loss(values: Sequence[float]) -> float:
    """Top of the loss axis: at least 0.8, else the largest value rounded up to
    a quarter, so the axis moves rarely and in steps."""
    finite = [value for value in values if math.isfinite(value)]
    top = max(finite, default=0.0)
    return max(0.8, math.ceil(top * 1.05 * 4) / 4)


def _lower_accuracy(values: Sequence[float]) -> float:
    finite = [value for value in values if math.isfinite(value)]
    low = min(finite, default=1.0)
    return min(0.45, math.floor(low * 20) / 20)


def _column(frame: pd.DataFrame | None, name: str) -> np.ndarray:
    """A column as float32: plotly sends it as compact binary at every redraw."""
    if frame is None or name not in frame:
        return np.zeros(0)
    return frame[name].to_numpy(dtype=np.float32)


# A trace with no points drops out of the legend; one invisible point keeps
# the legend the same from the first redraw to the last.
_PLACEHOLDER = np.array([np.nan], dtype=np.float32)


def _thinned(count: int, limit: int = _MAX_BATCH_POINTS) -> np.ndarray:
    """Row indices keeping at most about `limit` evenly spaced points, the last
    one included: a smoothed curve loses nothing visible, and every redraw
    sends and draws less."""
    if count <= limit:
        return np.arange(count)
    step = math.ceil(count / limit)
    rows = np.arange(0, count, step)
    return rows if rows[-1] == count - 1 else np.append(rows, count - 1)


def _or_placeholder(values: np.ndarray) -> np.ndarray:
    return values if len(values) else _PLACEHOLDER


def curves_figure(
    batches: pd.DataFrame | None,
    epochs: pd.DataFrame | None,
    *,
    total_epochs: int,
    best_epoch: int | None = None,
    stop_epoch: int | None = None,
    stop_reason: str | None = None,
    overlays: Sequence[Overlay] = (),
    title: str | None = None,
) -> go.Figure:
    """Loss and accuracy side by side on a shared epoch axis.

    Args:
        batches: per-batch points: x (epochs done, fractional), loss and
            accuracy smoothed (`core.jobs.progress_frames`).
        epochs: per-epoch points: x, val_loss, val_accuracy.
        total_epochs: the planned epochs; fixes the x axis.
        best_epoch: 0-based row of `epochs` whose weights are kept (starred).
        stop_epoch: 0-based row where training ended early (a dashed line).
        stop_reason: "early_stopping" or "stopped_by_user" (the line's label).
        overlays: earlier runs, drawn muted and dashed (validation only).
    """
    figure = make_subplots(
        rows=1,
        cols=2,
        shared_xaxes="all",
        horizontal_spacing=0.08,
        subplot_titles=("Loss (binary cross-entropy)", "Accuracy"),
    )
    loss_values: list[float] = []
    accuracy_values: list[float] = []
    longest = total_epochs

    # Earlier runs first, so the current run is drawn on top of them.
    for index, overlay in enumerate(overlays):
        colour = OVERLAY_COLOURS[index % len(OVERLAY_COLOURS)]
        x = _column(overlay.epochs, "epoch")
        longest = max(longest, int(np.nanmax(x, initial=0)))
        for column, key in ((_LOSS, "val_loss"), (_ACCURACY, "val_accuracy")):
            values = _column(overlay.epochs, key)
            (loss_values if column == _LOSS else accuracy_values).extend(values)
            figure.add_trace(
                go.Scatter(
                    x=x,
                    y=values,
                    name=f"{overlay.name} (validation)",
                    legendgroup=f"overlay-{overlay.name}",
                    showlegend=column == _LOSS,
                    mode="lines+markers",
                    line={"color": colour, "width": 1.5, "dash": "dash"},
                    marker={"size": 5},
                    opacity=0.8,
                    hovertemplate=f"{overlay.name}<br>epoch %{{x}}: %{{y:.3f}}"
                    "<extra></extra>",
                ),
                row=1,
                col=column,
            )

    # The current run: smoothed training values per batch, validation per epoch.
    keep = _thinned(len(_column(batches, "x")))
    batch_x = _column(batches, "x")[keep]
    epoch_x = _column(epochs, "x")
    for column, key, label in ((_LOSS, "loss", "loss"), (_ACCURACY, "accuracy", "acc")):
        train_values = _column(batches, key)[keep]
        validation_values = _column(epochs, f"val_{key}")
        target = loss_values if column == _LOSS else accuracy_values
        target.extend(train_values)
        target.extend(validation_values)
        figure.add_trace(
            go.Scatter(
                x=_or_placeholder(batch_x),
                y=_or_placeholder(train_values),
                name="training (per batch, smoothed)",
                legendgroup="train",
                showlegend=column == _LOSS,
                mode="lines",
                line={"color": TRAIN_COLOUR, "width": 2},
                hovertemplate=f"epoch %{{x:.2f}}<br>training {label} %{{y:.3f}}"
                "<extra></extra>",
            ),
            row=1,
            col=column,
        )
        figure.add_trace(
            go.Scatter(
                x=_or_placeholder(epoch_x),
                y=_or_placeholder(validation_values),
                name="validation (per epoch)",
                legendgroup="validation",
                showlegend=column == _LOSS,
                mode="lines+markers",
                line={"color": VALIDATION_COLOUR, "width": 2.5},
                marker={"size": 8},
                hovertemplate=f"epoch %{{x:.2f}}<br>validation {label} %{{y:.3f}}"
                "<extra></extra>",
            ),
            row=1,
            col=column,
        )
        best_x = best_y = _PLACEHOLDER
        if best_epoch is not None and 0 <= best_epoch < len(epoch_x):
            best_x = epoch_x[best_epoch : best_epoch + 1]
            best_y = validation_values[best_epoch : best_epoch + 1]
        figure.add_trace(
            go.Scatter(
                x=best_x,
                y=best_y,
                name="best epoch (weights kept)",
                legendgroup="best",
                showlegend=column == _LOSS,
                mode="markers",
                marker={
                    "symbol": "star",
                    "size": 18,
                    "color": BEST_COLOUR,
                    "line": {"color": "#5b4500", "width": 1},
                },
                hovertemplate=f"best epoch<br>validation {label} %{{y:.3f}}"
                "<extra></extra>",
            ),
            row=1,
            col=column,
        )

    # The lab's own test accuracy, as a yardstick.
    figure.add_hline(
        y=LAB_TEST_ACCURACY,
        row=1,
        col=_ACCURACY,
        line={"color": REFERENCE_COLOUR, "width": 1, "dash": "dot"},
        annotation_text=f"lab: {LAB_TEST_ACCURACY:.3f} test accuracy",
        annotation_position="bottom right",
        annotation_font={"color": REFERENCE_COLOUR, "size": 11},
    )
    accuracy_values.append(LAB_TEST_ACCURACY)

    if stop_epoch is not None and 0 <= stop_epoch < len(epoch_x):
        label = "stopped by you" if stop_reason == "stopped_by_user" else "early stop"
        for column in (_LOSS, _ACCURACY):
            figure.add_vline(
                x=epoch_x[stop_epoch],
                row=1,
                col=column,
                line={"color": STOP_COLOUR, "width": 1.5, "dash": "dash"},
                annotation_text=label,
                annotation_position="top left",
                annotation_font={"color": STOP_COLOUR, "size": 11},
            )

    tick_step = 1 if longest <= 20 else math.ceil(longest / 10)
    figure.update_xaxes(
        title_text="epoch",
        range=[0, longest + 0.15],
        dtick=tick_step,
        tick0=0,
        showgrid=True,
        zeroline=False,
    )
    figure.update_yaxes(range=[0, _upper_loss(loss_values)], row=1, col=_LOSS)
    figure.update_yaxes(
        range=[_lower_accuracy(accuracy_values), 1.01],
        tickformat=".0%",
        row=1,
        col=_ACCURACY,
    )
    figure.update_layout(
        height=_HEIGHT,
        margin={"l": 10, "r": 10, "t": 70 if title else 50, "b": 10},
        legend={"orientation": "h", "x": 0, "y": -0.18, "yanchor": "top"},
        title={"text": title} if title else None,
        uirevision="curves",
        hovermode="closest",
        transition={"duration": 0},
    )
    return figure


def series_names(figure: go.Figure) -> list[str]:
    """The names of a figure's traces, in drawing order (for tests and checks)."""
    return [trace.name for trace in figure.data]


def confusion_figure(confusion: Sequence[Sequence[int]]) -> go.Figure:
    """The 2x2 confusion matrix [[TN, FP], [FN, TP]] with counts and shares."""
    (tn, fp), (fn, tp) = confusion
    total = max(1, tn + fp + fn + tp)
    names = [
        ["true negatives", "false positives"],
        ["false negatives", "true positives"],
    ]
    counts = [[tn, fp], [fn, tp]]
    text = [
        [
            f"{count:,}<br>{count / total:.1%}<br>{name}"
            for count, name in zip(row, labels)
        ]
        for row, labels in zip(counts, names)
    ]
    figure = go.Figure(
        go.Heatmap(
            z=counts,
            x=["predicted negative", "predicted positive"],
            y=["actually negative", "actually positive"],
            text=text,
            texttemplate="%{text}",
            textfont={"size": 14},
            colorscale="Blues",
            showscale=False,
            hovertemplate="%{y}, %{x}: %{z:,}<extra></extra>",
            xgap=3,
            ygap=3,
        )
    )
    figure.update_yaxes(autorange="reversed")
    figure.update_layout(
        height=300,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        uirevision="confusion",
    )
    return figure
