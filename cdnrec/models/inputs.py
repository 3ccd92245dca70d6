"""tf.data input pipelines and vocabularies for the retrieval towers."""

import dataclasses
from typing import Dict, Iterable, List, Sequence

import numpy as np
import tensorflow as tf

from cdnrec import _environment
from cdnrec.core import features as F

# Every model module imports this one, so the rule is in place before any
# model is traced.
_environment.keep_autograph_off_tf_keras()


@dataclasses.dataclass(frozen=True)
class Vocabularies:
  """Token vocabularies of categorical features, and mean/std of numeric
  ones, learned from train data (user side) and the catalog (item side)."""
  tokens: Dict[str, List[str]]
  numeric: Dict[str, tuple]


def parse_spec(features: Sequence[F.Feature], numeric_means=None,
               with_ids: Sequence[str] = (),
               missing_number: float = 0.0) -> Dict[str, object]:
  """tf.io.parse_example spec for the given features (+ id columns)."""
  numeric_means = numeric_means or {}
  spec = {name: tf.io.FixedLenFeature([], tf.string, default_value="")
          for name in with_ids}
  for f in features:
    if f.kind == F.Kind.CATEGORICAL:
      spec[f.name] = tf.io.FixedLenFeature([], tf.string, default_value="")
    elif f.kind == F.Kind.CATEGORICAL_LIST:
      spec[f.name] = tf.io.RaggedFeature(tf.string)
    else:
      # A missing number becomes the mean, i.e. 0 after standardizing.
      spec[f.name] = tf.io.FixedLenFeature(
          [], tf.float32, default_value=float(numeric_means.get(f.name, missing_number)))
  return spec


def _files(patterns: Iterable[str]) -> List[str]:
  files = sorted(f for p in patterns for f in tf.io.gfile.glob(p))
  if not files:
    raise FileNotFoundError(f"no input files match {list(patterns)}")
  return files


# Serialized examples are cached in memory only below this size: above it
# they are streamed from the files every epoch.
CACHE_MAX_BYTES = 2 << 30
# Bytes of serialized examples per byte of gzipped TFRecord, a generous
# guess (ExampleGen's files compress about 4:1).
_GZIP_RATIO = 6


def fits_in_memory(patterns: Iterable[str]) -> bool:
  """Whether the examples the patterns match are small enough to cache."""
  size = sum(tf.io.gfile.stat(f).length for f in _files(patterns))
  return size * _GZIP_RATIO <= CACHE_MAX_BYTES


def examples_dataset(patterns: Iterable[str], spec: Dict[str, object],
                     batch_size: int, shuffle: bool = False, seed: int = 0,
                     repeat: bool = False,
                     cache: bool = False) -> tf.data.Dataset:
  """Batches of parsed examples from gzipped TFRecord files.

  cache=True holds the serialized records in memory after the first pass:
  reading and un-gzipping the files costs several times more than parsing
  (docs/benchmarks.md), and it would otherwise dominate every epoch. Above
  CACHE_MAX_BYTES (fits_in_memory) the files are streamed instead: read in
  parallel, shuffled in a bounded buffer, parsed in parallel, prefetched.
  """
  ds = tf.data.TFRecordDataset(_files(patterns), compression_type="GZIP",
                               num_parallel_reads=tf.data.AUTOTUNE)
  if cache:
    ds = ds.cache()
  if shuffle:
    ds = ds.shuffle(100_000, seed=seed, reshuffle_each_iteration=True)
  if repeat:
    ds = ds.repeat()
  return (ds.batch(batch_size, drop_remainder=shuffle)
          .map(lambda x: tf.io.parse_example(x, spec),
               num_parallel_calls=tf.data.AUTOTUNE)
          .prefetch(tf.data.AUTOTUNE))


def _update(tokens: Dict[str, set], numeric: Dict[str, list], batch,
            features: Sequence[F.Feature], id_names: Sequence[str]) -> None:
  for name in id_names:
    tokens.setdefault(name, set()).update(batch[name].numpy().tolist())
  for f in features:
    value = batch[f.name]
    if f.kind == F.Kind.NUMERIC:
      numeric.setdefault(f.name, []).append(value.numpy())
    elif f.kind == F.Kind.CATEGORICAL_LIST:
      tokens.setdefault(f.name, set()).update(value.flat_values.numpy().tolist())
    else:
      tokens.setdefault(f.name, set()).update(value.numpy().tolist())


def learn_vocabularies(train_patterns: Iterable[str],
                       catalog_patterns: Iterable[str],
                       config: F.FeatureConfig) -> Vocabularies:
  """One pass over train (user side) and the catalog (item side)."""
  tokens: Dict[str, set] = {}
  numeric: Dict[str, list] = {}
  user_spec = parse_spec(config.user_features, with_ids=[F.USER_ID],
                         missing_number=float("nan"))
  for batch in examples_dataset(train_patterns, user_spec, 8192):
    _update(tokens, numeric, batch, config.user_features, [F.USER_ID])
  item_spec = parse_spec(config.item_features, with_ids=[F.ITEM_ID],
                         missing_number=float("nan"))
  for batch in examples_dataset(catalog_patterns, item_spec, 8192):
    _update(tokens, numeric, batch, config.item_features, [F.ITEM_ID])
  vocab = {name: sorted(v.decode() for v in values if v)
           for name, values in tokens.items()}
  stats = {}
  for name, chunks in numeric.items():
    values = np.concatenate(chunks)
    values = values[~np.isnan(values)]
    mean = float(values.mean()) if len(values) else 0.0
    std = float(values.std()) if len(values) else 1.0
    stats[name] = (mean, std or 1.0)
  return Vocabularies(vocab, stats)
