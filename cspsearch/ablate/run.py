"""``cspsearch ablate``: which grid ablates a source's bases (sources.py), and running it.

Each base is trained as every variant of a grid (grid.py: csp_grid.py's fusion × γ,
detector_grid.py's Table 2, block_grid.py's blocks), with S seeds, everything else equal. The
trials go to the study ``SOURCE-ablation`` in the same storage; a re-run resumes it: a (base,
variant, seed) already complete is not trained again, nor queued twice. Trials run on the path
every run shares (trials/execute.py: data → storage → workers → trials; progress, artifacts,
``--trials-per-device``, ``n_trials`` recorded). Workers run only the queued cells, and a
``cspsearch worker`` that joins from anywhere follows the ablation round by round until it is
done (trials/queued.py: the study attribute ``queue`` says which round, and that it runs).
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Sequence

import optuna

from cspsearch.ablate.block_grid import BlockGrid
from cspsearch.ablate.csp_grid import CspGrid
from cspsearch.ablate.detector_grid import DetectorGrid
from cspsearch.ablate.grid import Base
from cspsearch.ablate.grid import Cell
from cspsearch.ablate.grid import Grid
from cspsearch.ablate.read import read_ablation
from cspsearch.ablate.rounds import run_rounds
from cspsearch.ablate.sources import Source
from cspsearch.ablate.tables import Rule
from cspsearch.errors import SpaceError
from cspsearch.errors import StudyError
from cspsearch.space.loader import override_train
from cspsearch.trials import progress as out
from cspsearch.trials.execute import RunOptions
from cspsearch.trials.execute import choose_workers
from cspsearch.trials.execute import execute
from cspsearch.trials.execute import open_run
from cspsearch.trials.per_device import resolve as resolve_trials_per_device
from cspsearch.trials.queued import Owner
from cspsearch.trials.queued import settle
from cspsearch.trials.run import Outcome
from cspsearch.trials.samplers import make_sampler
from cspsearch.trials.workers import check_storage


def check_options(
    *,
    fusions: Sequence[str] | None,
    ratios: Sequence[float] | None,
    blocks: Sequence[str] | None,
    seeds: int,
) -> None:
    """SpaceError for a bad grid option, before any study is read (the values themselves are
    wrong whatever the source; whether the source's grid takes them is choose_grid's)."""
    CspGrid.make(fusions, ratios, seeds)
    if blocks is not None:
        BlockGrid.make(blocks, seeds)
        if fusions is not None or ratios is not None:
            raise SpaceError(
                "--block: varies the block alone; give it without --fusion/--split-ratio"
            )


def choose_grid(
    source: Source,
    *,
    fusions: Sequence[str] | None,
    ratios: Sequence[float] | None,
    blocks: Sequence[str] | None = None,
    seeds: int,
) -> Grid:
    """The grid that ablates ``source``: the listed blocks (``--block``), else the detector
    settings for a detection space, else fusion × γ (``None``: the grid's defaults).
    SpaceError for options the grid does not take."""
    if blocks is not None:
        return BlockGrid.make(blocks, seeds, detection=source.space.is_detection)
    if source.space.is_detection:
        if fusions is not None or ratios is not None:
            raise SpaceError(
                f"--fusion/--split-ratio: {source.name} is a detection study; its ablation "
                "varies the neck (fpn, gfm, efm and EFM's options) on the fixed backbone"
            )
        return DetectorGrid.make(seeds)
    return CspGrid.make(fusions, ratios, seeds)


def ablate(
    source: Source,
    grid: Grid,
    *,
    storage: str | None,
    study_name: str | None = None,
    epochs: int | None = None,
    n_workers: int | None = None,
    options: RunOptions = RunOptions(),
    rule: Rule = Rule(),
    progress: bool = True,
) -> Outcome:
    """Queue the ablation's missing trials in ``SOURCE-ablation`` and run them: every seed of
    ``grid``, or with ``rule.min_seeds`` set (``--seeds auto``) in rounds (rounds.py)."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    space = source.space if epochs is None else override_train(source.space, epochs=epochs)
    if space.is_detection != grid.detection:
        kind = "a detection space" if space.is_detection else "a classification space"
        raise StudyError(f"{source.name}: {kind} does not take this grid")
    bases = source.bases(grid)
    space = grid.make_space(space, source.stages)
    wanted = grid.cells(space, bases)
    name = study_name or f"{source.name}-ablation"
    if n_workers is not None:
        check_storage(storage, n_workers)
    choose_workers(n_workers, options, 1)  # conflicting worker options: before anything
    options, per_device = resolve_trials_per_device(options, space, n_workers)
    sampler = make_sampler("random", None, space)
    study, opened = open_run(space, storage=storage, name=name, sampler=sampler, options=options)
    earlier = study.user_attrs.get("ablation", {}).get("bases", {})  # e.g. a smaller --top
    study.set_user_attr("ablation", _description(source, bases, grid, earlier, rule))
    if progress:
        out.console.print(per_device, highlight=False)

    def run_cells(cells: list[Cell], note: str) -> list[int]:
        owner.next_round()

        def run_waiting(queued: int) -> list[int]:
            if progress:
                out.console.print(
                    f"study {name}: {queued} trial(s) to run ({len(cells)} wanted: {note}) · "
                    f"space {space.source}",
                    highlight=False,
                )
            return execute(
                study, space, storage=storage, target=len(wanted), todo=queued, exact=True,
                n_workers=n_workers, seed=None, options=options, progress=progress,
            )  # fmt: skip

        return run_once(study, cells, run_waiting)

    # Joined workers (`cspsearch worker`) follow this record: round by round, until done.
    with Owner(study, gradients=options.gradients) as owner:
        if rule.min_seeds is None:
            shape = f"{len(bases)} base(s) × {len(grid.labels())} variants × {grid.seeds} seeds"
            codes = run_cells(wanted, shape)
        else:
            codes = run_rounds(
                wanted, rule=rule, first_seed=min(c.seed for c in wanted),
                read=lambda: read_ablation(opened, name), run_cells=run_cells,
            )  # fmt: skip
    return Outcome(study, opened, codes)


def run_once(
    study: optuna.Study, cells: list[Cell], run_waiting: Callable[[int], list[int]]
) -> list[int]:
    """Queue ``cells`` and have each missing one run once; the workers' exit codes.
    ``run_waiting(n)`` runs the n waiting cells here or in local workers; then this waits for
    the cells that joined workers run, and runs here the lost ones that wait again."""
    queued, codes = queue(study, cells), []
    while True:
        codes += run_waiting(queued)
        queued = settle(study)
        if not queued:
            return codes


def queue(study: optuna.Study, wanted: list[Cell]) -> int:
    """Enqueue the cells that are neither complete, running nor waiting; how many wait now."""
    have: dict[tuple, set[str]] = {}
    for t in study.get_trials(deepcopy=False):
        a = t.user_attrs
        cell = (a.get("ablation_base"), a.get("ablation_variant"), a.get("ablation_seed"))
        have.setdefault(cell, set()).add(t.state.name)
    waiting = 0
    for cell in wanted:
        states = have.get((cell.base, cell.variant, cell.seed), set())
        if "COMPLETE" in states or "RUNNING" in states:  # done, or a worker runs it
            continue
        if "WAITING" not in states:
            study.enqueue_trial(cell.params, user_attrs=cell.attrs())
        waiting += 1
    return waiting


def _description(source: Source, bases: list[Base], grid: Grid, earlier: dict, rule: Rule) -> dict:
    """The study attribute ``ablation``: what a report needs to lay the study out (the bases
    of earlier runs stay: their trials are in the study)."""
    return {
        "source": source.name,
        "bases": {**earlier, **{b.name: b.params for b in bases}},
        "variants": grid.labels(),
        "reference": grid.reference,
        "seeds": grid.seeds,
        "csp_stages": list(source.stages) if source.stages is not None else "all",
        "rule": rule._asdict(),
    }
