"""Evaluation in original units: metrics and baselines (`metrics`), prediction intervals
(`intervals`), and the comparisons with naive that every report and printout renders
(`tables`). numpy and pandas only: no torch, so the report layer can use it."""
