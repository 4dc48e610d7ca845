"""Object detection: a synthetic shapes dataset, a COCO reader, COCO AP, anchors and training."""
