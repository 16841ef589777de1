"""Reports: self-contained HTML pages and the plotly figures in them. No torch, no Lightning:
every page is drawn from a run's metrics (the metrics.json blocks) and its forecasts frame.

`page` (skeleton, look, escaping, downsampling), `figures` (figures every kind shares), and one
module per run kind: `fit`, `panel`, `compare`, `backtest`, `forecast` (predict's page) and
`index` (the runs index).
"""
