"""Label formats ML tools read and write: export of the content at a point as COCO, YOLO,
Pascal VOC, CSV or Parquet (export.py, formats/, output.py), and import of existing COCO, YOLO
and VOC labels (importing.py). The label kinds themselves are domain/label_kinds.py."""
