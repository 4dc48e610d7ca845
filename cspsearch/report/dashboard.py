"""optuna-dashboard for cspsearch studies: the study figures a run saves, and the server.

Each run saves the annotated Pareto front and the hypervolume history to the study, where the
dashboard shows them beside its own plots and the per-trial artifacts
(cspsearch/trials/artifacts.py).
"""

from __future__ import annotations

from pathlib import Path

import optuna

from cspsearch.trials.artifacts import artifact_store


def publish_figures(study: optuna.Study, storage: optuna.storages.BaseStorage) -> None:
    """Save the annotated Pareto front and the hypervolume history to the study."""
    from optuna_dashboard import save_plotly_graph_object

    from cspsearch.report import collect
    from cspsearch.report.figures import hypervolume_figure
    from cspsearch.report.figures import pareto_figure

    data = collect(storage, study.study_name)
    if not any(r.evaluated for r in data.rows):
        return
    save_plotly_graph_object(study, pareto_figure([data], "macs"), graph_object_id="pareto")
    save_plotly_graph_object(study, hypervolume_figure([data]), graph_object_id="hypervolume")


def serve(
    storage: optuna.storages.BaseStorage, host: str, port: int, artifacts: str | Path | None = None
) -> None:
    """Run optuna-dashboard on ``storage`` until interrupted."""
    from optuna_dashboard import run_server

    run_server(storage, host=host, port=port, artifact_store=artifact_store(artifacts))
