"""Running trials: one trial (objective.py, results.py), a study of them (study.py), a whole
search with its rules (run.py, rules.py), worker processes and crash recovery (workers.py,
recovery.py), early stopping (early_stop.py), per-trial artifacts and progress lines."""
