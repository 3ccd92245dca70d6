"""tf.data input pipelines and vocabularies for the retrieval towers."""

import dataclasses
from typing import Dict, Iterable, List, Sequence, Tuple

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


# Records a reader passes on at a time, and files read at once.
_READ_BLOCK = 1024
_PARALLEL_FILES = 2


def _records(files: List[str]) -> tf.data.Dataset:
  """The files' serialized records, two files un-gzipped at a time, in an
  order fixed by the file list. The records cross between reader threads
  in blocks: TFRecordDataset's own num_parallel_reads passes them one by
  one, which cost several times the un-gzipping (docs/benchmarks.md)."""
  at_once = min(_PARALLEL_FILES, max(1, len(files)))
  return tf.data.Dataset.from_tensor_slices(files).interleave(
      lambda f: tf.data.TFRecordDataset(f, compression_type="GZIP").batch(
          _READ_BLOCK),
      cycle_length=at_once, num_parallel_calls=at_once,
      deterministic=True).unbatch()


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
  ds = _records(_files(patterns))
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


def _distinct(values: tf.Tensor) -> List[bytes]:
  # De-duplicated in C++ first: a batch repeats most of its tokens, and
  # adding every value to a Python set was most of this pass's time.
  return tf.unique(values).y.numpy().tolist()


@dataclasses.dataclass
class _Moments:
  """Count, mean and sum of squared deviations of a numeric feature's
  values, merged batch by batch (Chan et al.'s pairwise update), so the
  pass holds three numbers per feature whatever the data's size."""
  count: int = 0
  mean: float = 0.0
  m2: float = 0.0

  def add(self, values: np.ndarray) -> None:
    values = values[~np.isnan(values)].astype(np.float64)
    if not len(values):
      return
    n, mean = len(values), float(values.mean())
    m2 = float(((values - mean) ** 2).sum())
    total = self.count + n
    delta = mean - self.mean
    self.m2 += m2 + delta * delta * self.count * n / total
    self.mean += delta * n / total
    self.count = total

  def mean_std(self) -> Tuple[float, float]:
    if not self.count:
      return 0.0, 1.0
    return self.mean, (self.m2 / self.count) ** 0.5 or 1.0


def _update(tokens: Dict[str, set], numeric: Dict[str, _Moments], batch,
            features: Sequence[F.Feature], id_names: Sequence[str]) -> None:
  for name in id_names:
    tokens.setdefault(name, set()).update(_distinct(batch[name]))
  for f in features:
    value = batch[f.name]
    if f.kind == F.Kind.NUMERIC:
      numeric.setdefault(f.name, _Moments()).add(
          np.asarray(value.numpy(), dtype=np.float64).ravel())
    elif f.kind == F.Kind.CATEGORICAL_LIST:
      tokens.setdefault(f.name, set()).update(_distinct(value.flat_values))
    else:
      tokens.setdefault(f.name, set()).update(_distinct(value))


# Examples parsed per step of the vocabulary pass.
_VOCABULARY_BATCH = 1 << 16


def learn_vocabularies(train_patterns: Iterable[str],
                       catalog_patterns: Iterable[str],
                       config: F.FeatureConfig) -> Vocabularies:
  """One pass over train (user side) and the catalog (item side)."""
  tokens: Dict[str, set] = {}
  numeric: Dict[str, _Moments] = {}
  user_spec = parse_spec(config.user_features, with_ids=[F.USER_ID],
                         missing_number=float("nan"))
  for batch in examples_dataset(train_patterns, user_spec, _VOCABULARY_BATCH):
    _update(tokens, numeric, batch, config.user_features, [F.USER_ID])
  item_spec = parse_spec(config.item_features, with_ids=[F.ITEM_ID],
                         missing_number=float("nan"))
  for batch in examples_dataset(catalog_patterns, item_spec,
                                _VOCABULARY_BATCH):
    _update(tokens, numeric, batch, config.item_features, [F.ITEM_ID])
  vocab = {name: sorted(v.decode() for v in values if v)
           for name, values in tokens.items()}
  stats = {name: moments.mean_std() for name, moments in numeric.items()}
  return Vocabularies(vocab, stats)
