"""What an architecture costs before training: MACs, FLOPs, parameters and activations by
fvcore (macs.py) and latency on the trial's device (latency.py); gradient duplication of a
trained network (gradients.py); the CSPNet paper's PeleeNet ablation in compute
(paper_compute.py, ``cspsearch model ablation``)."""
