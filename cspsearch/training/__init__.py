"""Training, for every task: the one loop (loop.py), its step eager or as
one CUDA graph (graphs.py), numeric precision (precision.py), the
device (device.py), the probe behind --trials-per-device auto (probe.py)
and the Task interface with its registry (task.py)."""
