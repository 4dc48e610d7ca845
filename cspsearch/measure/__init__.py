"""What an architecture costs before training: MACs, FLOPs, parameters and activations by
fvcore (macs.py), latency on the trial's device (latency.py) and in ONNX Runtime, with the
export and its check (onnx.py) and the reference network it is timed against (ort_latency.py);
gradient duplication of a trained network (gradients.py); the CSPNet paper's PeleeNet ablation
in compute (paper_compute.py, ``cspsearch model ablation``)."""
