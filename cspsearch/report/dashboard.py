"""optuna-dashboard for cspsearch studies: the study figures a run saves, and the server.

Each run saves the annotated Pareto front, the hypervolume history (and MACs against
``latency_ort`` when measured) to the study, where the
dashboard shows them beside its own plots and the per-trial artifacts
(cspsearch/trials/artifacts.py).
"""

from __future__ import annotations

from pathlib import Path

import optuna

from cspsearch import compat
from cspsearch.compat import study_storage
from cspsearch.trials.artifacts import artifact_store

# optuna-dashboard's own storage format for a study's figures (its save_plotly_graph_object):
# the figure's JSON in chunks of at most 2045 characters, study system attributes
# "dashboard:plot_data:<id>:<i>".
PLOT_DATA = "dashboard:plot_data:"
CHUNK = 2045


def publish_figures(study: optuna.Study, storage: optuna.storages.BaseStorage) -> None:
    """Save the annotated Pareto front and the hypervolume history to the study (and MACs
    against latency_ort when the trials measured it)."""
    from cspsearch.report import collect
    from cspsearch.report.deploy import measured
    from cspsearch.report.deploy import mislead_figure
    from cspsearch.report.figures import hypervolume_figure
    from cspsearch.report.figures import pareto_figure

    data = collect(storage, study.study_name, importances=False)  # not drawn here
    if not any(r.evaluated for r in data.rows):
        return
    save_figure(study, "pareto", pareto_figure([data], "macs").to_json())
    save_figure(study, "hypervolume", hypervolume_figure([data]).to_json())
    if len(rows := measured(data)) >= 2:
        save_figure(study, "macs_vs_latency_ort", mislead_figure(rows).to_json())


def save_figure(study: optuna.Study, graph_id: str, figure_json: str) -> None:
    """What optuna_dashboard.save_plotly_graph_object stores, written without importing
    optuna_dashboard. NOTE: its package imports optuna.importance and with it scikit-learn
    (1.4 s measured at the end of every run); tests/report/test_dashboard.py checks that the
    dashboard serves both figures."""
    storage, study_id = study_storage(study), compat.study_id(study)
    key = f"{PLOT_DATA}{graph_id}:"
    chunks = [figure_json[i : i + CHUNK] for i in range(0, len(figure_json), CHUNK)]
    for i, chunk in enumerate(chunks):
        storage.set_study_system_attr(study_id, f"{key}{i}", chunk)
    stored = storage.get_study_system_attrs(study_id)
    for i in range(len(chunks), sum(k.startswith(key) for k in stored)):  # a longer old figure
        storage.set_study_system_attr(study_id, f"{key}{i}", "")


def serve(
    storage: optuna.storages.BaseStorage, host: str, port: int, artifacts: str | Path | None = None
) -> None:
    """Run optuna-dashboard on ``storage`` until interrupted."""
    from optuna_dashboard import run_server

    run_server(storage, host=host, port=port, artifact_store=artifact_store(artifacts))
