"""Model cards: the JSON record that travels with every saved model."""

import datetime

from core import runtime
from core.training import Evaluation, TrainingResult


def make_card(
    result: TrainingResult,
    test: Evaluation | None,
    *,
    test_sampled: bool = False,
    note: str = "",
) -> dict:
    """Everything needed to understand and reproduce a trained model."""
    hp = result.hyperparameters
    best = result.best
    epoch_seconds = [row["seconds"] for row in result.history if "seconds" in row]
    reviews_per_second = (
        result.fit_size / (sum(epoch_seconds) / len(epoch_seconds))
        if epoch_seconds
        else None
    )
    return {
        "created": datetime.datetime.now().isoformat(timespec="seconds"),
        "hyperparameters": hp.to_dict(),
        "parameters": int(result.model.count_params()),
        "data": {
            "source": result.source,
            "fit_size": result.fit_size,
            "validation_size": result.validation_size,
            "test_size": test.size if test else 0,
            "test_sampled": test_sampled,
        },
        "training": {
            "epochs_run": result.epochs_run,
            "best_epoch": None if result.best_epoch is None else result.best_epoch + 1,
            "stop_reason": result.stop_reason,
            "seconds": round(result.seconds, 1),
            "seconds_per_epoch": [round(s, 1) for s in epoch_seconds],
            "reviews_per_second": (
                round(reviews_per_second, 1) if reviews_per_second else None
            ),
        },
        "history": result.history,
        "validation": {
            "loss": best.get("val_loss"),
            "accuracy": best.get("val_accuracy"),
        },
        "test": test.to_dict() if test else None,
        "versions": runtime.versions(),
        "note": note,
    }
