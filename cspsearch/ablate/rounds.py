"""``cspsearch ablate --seeds auto``: seeds in rounds, each row of a base's table stopping when
the sequential rule (cspsearch/sequential.py) has decided it.

Round 1 trains every variant and the reference with ``min_seeds`` seeds. After each round the
per-base tables are read back and replayed look by look; a row the rule has decided (or judged
at ``max_seeds``) gets no more seeds, an undecided one gets the seeds of the next look, and the
reference gets as many as its base's most-seeded row, so that every row stays paired. A re-run
replays the same looks on the stored trials (the rule is deterministic), so it resumes.
"""

from __future__ import annotations

from collections.abc import Callable

from cspsearch.ablate.grid import Cell
from cspsearch.ablate.read import AblationData
from cspsearch.ablate.tables import Rule
from cspsearch.sequential import needs_seeds
from cspsearch.sequential import sequential_table

Key = tuple[str, str]  # (base, variant)


def run_rounds(
    wanted: list[Cell],
    *,
    rule: Rule,
    first_seed: int,
    read: Callable[[], AblationData],
    run_cells: Callable[[list[Cell], str], list[int]],
) -> list[int]:
    """Run ``wanted`` (every cell up to ``max_seeds``) round by round; the workers' codes."""
    assert rule.min_seeds is not None and rule.max_seeds is not None
    need: dict[Key, int] = {(c.base, c.variant): rule.min_seeds for c in wanted}
    codes: list[int] = []
    done, growing = -1, len(need)
    for round_ in range(1, rule.max_seeds + 1):
        now = [c for c in wanted if c.seed - first_seed < need[c.base, c.variant]]
        more_seeds = f"{growing} row(s) given more seeds"
        first = f"every row {rule.min_seeds} seeds"
        codes += run_cells(now, f"round {round_}, {first if round_ == 1 else more_seeds}")
        data = read()
        pairs = sum(len(v.diffs) for t in data.tables for v in t.rows)
        more = next_needs(data, rule)
        grown = {k: n for k, n in more.items() if n > need.get(k, 0)}
        if not grown or pairs == done:  # every row decided, or a round added nothing (failures)
            break
        need.update(grown)
        done, growing = pairs, len(grown)
    return codes


def next_needs(data: AblationData, rule: Rule) -> dict[Key, int]:
    """The seeds each (base, variant) should have before the next look; the reference takes
    its base's largest. The looks use the measured score step (``data.rule.resolution``), as
    the printed tables do, so the seeds given match the verdicts shown."""
    assert rule.min_seeds is not None and rule.max_seeds is not None
    out: dict[Key, int] = {}
    for t in data.tables:
        rows = [v for v in t.rows if v.change is not None]
        found = sequential_table(
            [list(v.diffs) for v in rows], min_seeds=rule.min_seeds, max_seeds=rule.max_seeds,
            margin=rule.margin, alpha=rule.alpha, resolution=data.rule.resolution,
        )  # fmt: skip
        for v, row in zip(rows, found):
            out[t.base, v.variant] = needs_seeds(row, rule.min_seeds, rule.max_seeds)
        out[t.base, data.reference] = max((out[t.base, v.variant] for v in rows), default=0)
    return out
