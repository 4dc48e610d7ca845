"""Running trials: one trial (objective.py, results.py), a study of them (study.py), a whole
search with its rules (run.py, rules.py), worker processes and crash recovery (workers.py,
recovery.py), studies whose owner queues the trials (queued.py), early stopping
(early_stop.py), where trials run (execute.py), trials per device (per_device.py),
the sampler
(samplers.py), batched attribute writes (attrs.py), per-trial artifacts (artifacts.py),
progress lines (progress.py), a study's architectures as checked ONNX files (deploy.py) and
the study's scale for latency_ort (reference.py)."""
