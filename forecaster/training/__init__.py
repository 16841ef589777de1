"""Training: the one LightningModule (`module`), the Trainer and its callbacks (`trainer`),
batched forecasts of a split (`inference`) and what the gradients do (`diagnostics`).
Imports data and nets, never evaluation, report or runs."""
