"""The controlled ablation (``cspsearch ablate``): a few fixed base architectures, each trained
as every variant of a grid with paired seeds, everything else equal, and its report.

Modules, in the order data flows:
- ``grid.py``: Base, Cell and the Grid interface every ablation implements; the seed range.
- ``csp_grid.py``: fusion × γ (CSPNet's Table 1); ``detector_grid.py``: the necks and EFM's
  options on a fixed backbone (Table 2); ``block_grid.py``: which CSP block (C3, C2f, …) on a
  csp_yolo base (``--block``).
- ``sources.py``: where the bases come from (a study's Pareto front, trials, a space file or
  a preset); ``run.py``: which grid ablates them, queueing the cells and running them
  (trials/execute.py).
- ``read.py``: an ablation study read back from the storage.
- ``tables.py``: the per-base and pooled tables — where a verdict is decided (cspsearch.stats:
  ``decide_table``; with ``--seeds auto`` cspsearch.sequential); ``rounds.py``: the seeds of
  ``--seeds auto``, round by round.
- ``text.py``, ``figures.py``, ``page.py``: the printed table, the plotly figures, the page;
  ``rows.py``: the tables as JSON rows (``--json``).

It comes after ``report`` in the layering (it uses the search report's pieces, never the
reverse); ``cli/ablate.py`` is the thin command.
"""
