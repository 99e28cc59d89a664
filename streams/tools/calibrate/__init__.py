"""Calibration from history (docs/contract.md s6): fit activity points to last period's outcomes.

- `history`: a synthetic history export with a planted, known answer (for demos and tests).
- `reader`: read a real or synthetic export (CSV or JSONL), refusing bad values by row and column.
- `method`: control rate, rate per activity, and the points and caps that follow.
- `evaluate`: how well a model ranks held-out leads (ROC AUC, top-decile conversion).
- `report`: the report as a table and as JSON; `cli`: the commands.
"""
