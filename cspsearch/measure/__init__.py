"""What an architecture costs before training: MACs, FLOPs, parameters and activations by
fvcore (macs.py) and latency on the trial's device (latency.py)."""
