"""Artifact types this pipeline adds to TFX's standard ones.

Type names are "<namespace>.<Name>": the form Kubeflow V2 / Vertex AI
pipeline specs require of custom artifact types.
"""

from tfx.types import artifact

# Files inside each artifact's URI.
CATALOG_FILE = "catalog.tfrecord.gz"
FEATURES_FILE = "features.json"


class ItemCatalog(artifact.Artifact):
  """Every item with its content features, and the dataset's FeatureConfig.

  Files: `catalog.tfrecord.gz` (one tf.Example per item: item_id,
  item_index and the item features) and `features.json`.
  """
  TYPE_NAME = "cdnrec.ItemCatalog"


class ItemStats(artifact.Artifact):
  """Per-item train frequencies, the head/tail split and the imbalance factor.

  Files: `item_stats.tsv` (item_id, item_index, frequency, is_head; one row
  per catalog item) and `summary.json`.
  """
  TYPE_NAME = "cdnrec.ItemStats"


METRICS_FILE = "metrics.json"


class RetrievalMetrics(artifact.Artifact):
  """HR@K and NDCG@K on the overall, head and tail test slices.

  File: `metrics.json`.
  """
  TYPE_NAME = "cdnrec.RetrievalMetrics"
