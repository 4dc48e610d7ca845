"""The classification task: dataset readers (readers.py), tensors on the device (data.py) and
the Task (task.py)."""
