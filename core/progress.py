"""A terminal listener for training events (the command line's progress)."""

import sys

from core.training import TrainingEvent


class TerminalProgress:
    """Prints one updating line per epoch and a summary line at its end."""

    def __init__(self, stream=None, every_seconds: float = 1.0):
        self.stream = stream or sys.stderr
        self.every_seconds = every_seconds
        self._last = -1.0

    def __call__(self, event: TrainingEvent) -> None:
        logs = event.logs
        if event.kind == "batch_end":
            if event.seconds - self._last < self.every_seconds:
                return
            self._last = event.seconds
            self.stream.write(
                f"\rEpoch {event.epoch + 1}/{event.epochs} "
                f"batch {event.step}/{event.steps_per_epoch} "
                f"loss {logs.get('loss', float('nan')):.4f} "
                f"acc {logs.get('accuracy', float('nan')):.4f} "
                f"[{event.seconds:.0f} s]"
            )
        elif event.kind == "epoch_end":
            self.stream.write(
                f"\rEpoch {event.epoch + 1}/{event.epochs} done: "
                f"loss {logs.get('loss', float('nan')):.4f} "
                f"acc {logs.get('accuracy', float('nan')):.4f} "
                f"val_loss {logs.get('val_loss', float('nan')):.4f} "
                f"val_acc {logs.get('val_accuracy', float('nan')):.4f} "
                f"[{event.seconds:.0f} s]\n"
            )
        elif event.kind == "train_end":
            best = "none" if event.best_epoch is None else event.best_epoch + 1
            self.stream.write(
                f"Training ended ({event.stop_reason}); best epoch {best}.\n"
            )
        self.stream.flush()
