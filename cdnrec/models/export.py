"""Exports the serving SavedModel: the user tower plus a top-K item index.

Signatures (the first two return `item_ids` [batch, k] and `scores`
[batch, k]):
  serving_default: `examples`, serialized tf.Examples carrying user features.
  serve_features: one string/float tensor per user feature (token lists as
    space-separated strings), for JSON clients.
  embed_users: the same inputs as serve_features; returns the user
    embeddings, for exact re-ranking and debugging.
  embed_examples: `examples` as serving_default; returns the embeddings
    (the evaluator ranks the full corpus with them).

Two variants share these signatures: the ScaNN one (Format-Serving; needs
the ScaNN ops, e.g. the google/tf-serving-scann image) and a brute-force one
(Format-Serving-BruteForce; stock TF ops, any TF Serving). Both return the
model's top_k items; clients wanting fewer take a prefix (`cdnrec serve`
does, bounded by top_k). Unknown users and unseen feature values fall into
the towers' out-of-vocabulary buckets.

Beside the SavedModel, `model_layout.write_item_embeddings` keeps every item's embedding
(`item_ids.txt`, `item_embeddings.npy`) for exact full-corpus evaluation.
"""

import math
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf
import tensorflow_recommenders as tfrs

from cdnrec.core import features as F
from cdnrec.core import metrics
from cdnrec.models import inputs

# The ScaNN ops live in the "Scann" namespace, which SavedModel refuses to
# write unless allowed.
SCANN_SAVE_OPTIONS = tf.saved_model.SaveOptions(namespace_whitelist=["Scann"])


def scann_params(n_items: int, k: int, num_leaves: Optional[int] = None,
                 leaves_to_search: Optional[int] = None,
                 reordering: Optional[int] = None) -> Dict[str, int]:
  """Index settings that grow with the corpus.

  sqrt(n) leaves; enough of them searched to see at least 20k items (and at
  least a tenth of the leaves), so corpora up to 20k items are searched
  whole and the partitioning cannot cost recall there; exact re-scoring of
  max(20k, 500) candidates: asymmetric hashing alone ranks coarsely, and
  re-scoring 1,000 candidates costs a 1,000 x d product, little next to the
  search (`cdnrec bench retrieval` measures recall and latency against the
  number re-scored; docs/benchmarks.md).
  """
  leaves = num_leaves or max(2, min(int(math.sqrt(n_items)), 2000))
  leaves = min(leaves, n_items)
  search = leaves_to_search or max(math.ceil(leaves / 10),
                                   math.ceil(20_000 * leaves / n_items))
  reorder = reordering or max(20 * k, 500)
  return {"num_leaves": leaves, "num_leaves_to_search": min(search, leaves),
          "num_reordering_candidates": min(reorder, n_items)}


def build_scann_index(item_ids: np.ndarray, item_embeddings: np.ndarray,
                      k: int, **overrides) -> tfrs.layers.factorized_top_k.ScaNN:
  params = scann_params(len(item_ids), k, **overrides)
  index = tfrs.layers.factorized_top_k.ScaNN(k=k, **params)
  index.index(tf.constant(item_embeddings, tf.float32),
              tf.constant(item_ids, tf.string))
  return index


def build_brute_force_index(item_ids: np.ndarray, item_embeddings: np.ndarray,
                            k: int) -> tfrs.layers.factorized_top_k.BruteForce:
  """Exact top-k with stock TF ops only: loads in a stock TF Serving."""
  index = tfrs.layers.factorized_top_k.BruteForce(k=k)
  index.index(tf.constant(item_embeddings, tf.float32),
              tf.constant(item_ids, tf.string))
  return index


class AdjustedUserModel(tf.keras.Model):
  """A user tower whose embeddings get a last coordinate 1, to score items
  exported with core/logit_adjustment.adjusted_items."""

  def __init__(self, user_model: tf.keras.Model, **kwargs):
    super().__init__(**kwargs)
    self.user_model = user_model

  def call(self, features, training=False):
    users = self.user_model(features, training=training)
    return tf.concat([users, tf.ones_like(users[:, :1])], axis=1)


def _feature_signature(user_features: Sequence[F.Feature]):
  spec = {F.USER_ID: tf.TensorSpec([None], tf.string, name=F.USER_ID)}
  for f in user_features:
    dtype = tf.float32 if f.kind == F.Kind.NUMERIC else tf.string
    spec[f.name] = tf.TensorSpec([None], dtype, name=f.name)
  return spec


class RetrievalModule(tf.Module):
  """What the SavedModel holds: the user tower and the item index."""

  def __init__(self, user_model: tf.keras.Model, index: tf.keras.layers.Layer,
               user_features: Sequence[F.Feature],
               numeric_means: Dict[str, float], k: int):
    super().__init__()
    self.user_model = user_model
    self.index = index
    self._k = k
    # Saved with the model: servers bound client-asked k by it.
    self.top_k = tf.Variable(k, trainable=False, dtype=tf.int32,
                             name="top_k")
    self._user_features = list(user_features)
    self._numeric_means = dict(numeric_means)
    self._spec = inputs.parse_spec(user_features, numeric_means,
                                   with_ids=[F.USER_ID])
    self.serve_examples = tf.function(
        self._serve_examples,
        input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    self.serve_features = tf.function(
        self._serve_features,
        input_signature=[_feature_signature(self._user_features)])
    self.embed_examples = tf.function(
        self._embed_examples,
        input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    self.embed_users = tf.function(
        self._embed_users,
        input_signature=[_feature_signature(self._user_features)])

  def _top_k(self, features) -> Dict[str, tf.Tensor]:
    scores, ids = self.index(self.user_model(features), k=self._k)
    return {"item_ids": ids, "scores": scores}

  def _serve_examples(self, examples):
    return self._top_k(tf.io.parse_example(examples, self._spec))

  def _split_lists(self, features):
    """Keyed inputs as the towers read them: token lists split on spaces,
    and a NaN number (the JSON client's "unknown") made the training mean,
    as a missing number in a tf.Example is."""
    features = dict(features)
    for f in self._user_features:
      if f.kind == F.Kind.CATEGORICAL_LIST:
        features[f.name] = tf.strings.split(features[f.name])
      elif f.kind == F.Kind.NUMERIC:
        value = features[f.name]
        mean = self._numeric_means.get(f.name, 0.0)
        features[f.name] = tf.where(tf.math.is_nan(value), mean, value)
    return features

  def _serve_features(self, features):
    return self._top_k(self._split_lists(features))

  def _embed_examples(self, examples):
    return {"embeddings": self.user_model(
        tf.io.parse_example(examples, self._spec))}

  def _embed_users(self, features):
    return {"embeddings": self.user_model(self._split_lists(features))}


def index_recall(index, query_vectors: np.ndarray, item_ids: np.ndarray,
                 item_vectors: np.ndarray, k: int) -> float:
  """Share of the exact top-k items (brute force) the index also returns."""
  exact = item_ids[metrics.blocked_top_k(query_vectors, item_vectors, k)]
  _, found = index(tf.constant(query_vectors, tf.float32), k=k)
  found = found.numpy().astype(str)
  hits = sum(len(set(e) & set(f)) for e, f in zip(exact.astype(str), found))
  return hits / float(exact.size)


def save(module: RetrievalModule, export_dir: str) -> None:
  tf.saved_model.save(
      module, export_dir,
      signatures={"serving_default": module.serve_examples,
                  "serve_features": module.serve_features,
                  "embed_users": module.embed_users,
                  "embed_examples": module.embed_examples},
      options=SCANN_SAVE_OPTIONS)


class CatalogEmbedder:
  """(item ids, embeddings) of every catalog item, on each call: one traced
  graph for every batch and every call (early stopping embeds the catalog
  after each epoch; a graph per call would be traced again each time)."""

  def __init__(self, item_model: tf.keras.Model, catalog_patterns,
               feature_config: F.FeatureConfig, numeric_means):
    self._patterns = catalog_patterns
    self._spec = inputs.parse_spec(feature_config.item_features,
                                   numeric_means, with_ids=[F.ITEM_ID])
    # An eager call runs each layer's Python for every batch, which
    # dominates on a catalog of a million items.
    self._embed = tf.function(
        lambda batch: item_model(batch, training=False),
        reduce_retracing=True)

  def __call__(self) -> Tuple[np.ndarray, np.ndarray]:
    ids, vectors = [], []
    for batch in inputs.examples_dataset(self._patterns, self._spec, 16384):
      ids.append(batch[F.ITEM_ID].numpy())
      vectors.append(self._embed(batch).numpy())
    return np.concatenate(ids), np.concatenate(vectors)


def item_embeddings(item_model: tf.keras.Model, catalog_patterns,
                    feature_config: F.FeatureConfig, numeric_means):
  """(item ids, embeddings) of every catalog item, once."""
  return CatalogEmbedder(item_model, catalog_patterns, feature_config,
                         numeric_means)()
