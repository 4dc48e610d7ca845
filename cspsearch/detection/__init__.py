"""Object detection: a synthetic shapes dataset (shapes.py), a COCO reader (coco.py), tensors
on the device (data.py), boxes and IoU losses (boxes.py, loss.py), anchors (anchors.py), COCO AP
with pycocotools (evaluate.py), the same AP on the device per epoch (device_ap.py) and the Task
(task.py)."""
