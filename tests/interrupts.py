"""A Ctrl-C at a chosen step of training, for the tests of interrupting and resuming."""

from lightning.pytorch.callbacks import Callback


class InterruptAt(Callback):
    """Raise KeyboardInterrupt (what Ctrl-C does) at a given epoch and batch."""

    def __init__(self, epoch: int, batch: int) -> None:
        self.epoch, self.batch = epoch, batch

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.current_epoch == self.epoch and batch_idx == self.batch:
            raise KeyboardInterrupt
