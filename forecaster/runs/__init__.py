"""Runs: the commands and what they leave behind. `pipeline` (the one pipeline every command
runs), `fit`, `compare`, `backtest`, `predict`, the run folder (`folder`), the model card
(`card`), typed results (`results`) and the index of past runs (`index`)."""
