"""Loads a pushed retrieval SavedModel and answers queries with it."""

import os
from typing import Dict, List, Optional, Sequence, Tuple

import tensorflow as tf


def _register_scann_ops() -> None:
  try:
    from scann.scann_ops.py import scann_ops  # noqa: F401  (registers ops)
  except ImportError as e:
    raise ImportError("Loading a ScaNN index needs the ScaNN ops: "
                      "pip install scann==1.3.2") from e


def versions(model_dir: str) -> List[int]:
  """The numeric version folders under model_dir, ascending."""
  if not tf.io.gfile.isdir(model_dir):
    return []
  return sorted(int(d.rstrip("/")) for d in tf.io.gfile.listdir(model_dir)
                if d.rstrip("/").isdigit())


def newest_version(model_dir: str) -> Optional[int]:
  """The highest numeric version folder under model_dir, if any."""
  found = versions(model_dir)
  return found[-1] if found else None


def latest_version_dir(model_dir: str) -> str:
  """model_dir itself if it is a SavedModel, else its highest numeric
  version subfolder (TF Serving's layout)."""
  if tf.io.gfile.exists(os.path.join(model_dir, "saved_model.pb")):
    return model_dir
  if not tf.io.gfile.isdir(model_dir):
    raise FileNotFoundError(f"{model_dir}: no such model directory")
  version = newest_version(model_dir)
  if version is None:
    raise FileNotFoundError(
        f"{model_dir}: no SavedModel and no numeric version folders")
  return os.path.join(model_dir, str(version))


class RetrievalModel:
  """A loaded retrieval SavedModel (ScaNN or brute-force variant)."""

  def __init__(self, model_dir: str):
    _register_scann_ops()
    self.path = latest_version_dir(model_dir)
    base = os.path.basename(os.path.normpath(self.path))
    self.version = int(base) if base.isdigit() else 0
    self._loaded = tf.saved_model.load(self.path)
    self.signatures = dict(self._loaded.signatures)
    self._by_features = self.signatures["serve_features"]
    self._by_examples = self.signatures["serving_default"]
    self.k = int(self._loaded.top_k.numpy())  # items each query returns

  def input_specs(self, signature_name: str) -> Dict[str, tf.TensorSpec]:
    return dict(self.signatures[signature_name].structured_input_signature[1])

  @property
  def feature_specs(self) -> Dict[str, tf.TensorSpec]:
    return dict(self._by_features.structured_input_signature[1])

  def query(self, features: Dict[str, Sequence]) -> List[List[Tuple[str, float]]]:
    """Top items per user. features: name -> one value per user; missing
    features are sent empty (their OOV bucket) or NaN (the training mean)."""
    specs = self.feature_specs
    unknown = sorted(set(features) - set(specs))
    if unknown:
      raise ValueError(f"unknown features {unknown}; the model takes "
                       f"{sorted(specs)}")
    n = len(next(iter(features.values())))
    tensors = {}
    for name, spec in specs.items():
      default = float("nan") if spec.dtype == tf.float32 else ""
      tensors[name] = tf.constant(features.get(name, [default] * n),
                                  dtype=spec.dtype)
    return self._decode(self._by_features(**tensors))

  def query_examples(self, serialized: Sequence[bytes]):
    return self._decode(self._by_examples(
        examples=tf.constant(list(serialized), tf.string)))

  @staticmethod
  def _decode(outputs) -> List[List[Tuple[str, float]]]:
    ids = outputs["item_ids"].numpy()
    scores = outputs["scores"].numpy()
    return [[(i.decode(), float(s)) for i, s in zip(row_ids, row_scores)]
            for row_ids, row_scores in zip(ids, scores)]
