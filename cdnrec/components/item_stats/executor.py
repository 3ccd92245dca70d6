"""Executor of ItemStatsGen: Beam over the files of the train split.

Every step works on a batch of examples at a time (read and parsed in C++
by tf.data and tf.io.parse_example), and no step holds more than one file's
batch, the per-item arrays, or cap examples per head item:
  1. per file: item frequencies (a bincount) and the distinct users, summed
     and merged by combiners;
  2. head/tail, the imbalance factor and the cap on the item arrays;
  3. per file again: Ω_r keeps every example of a tail item (and of a head
     item with no more than cap), written straight to this file's shard;
     of the other head items' examples it keeps the cap with the smallest
     seeded keys: each file sends its cap smallest per item, and a
     combiner, lifted before the shuffle, merges them per item bucket
     keeping cap per item. Memory is O(cap) per head item, never O(item
     popularity).
"""

import dataclasses
import json
import os
from typing import Any, Dict, Iterator, List, Optional, Tuple

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from tfx import types
from tfx.dsl.components.base import base_beam_executor
from tfx.types import artifact_utils

from cdnrec.core import artifacts
from cdnrec.core import example_bytes
from cdnrec.core import example_io
from cdnrec.core import features as F
from cdnrec.core import item_stats as stats
from cdnrec.core import uris

HEAD_FRACTION = "head_fraction"
SEED = "seed"

# Examples parsed per step.
_BATCH = 1 << 16
# Head items are spread over this many buckets for the top-cap combiner.
_HEAD_BUCKETS = 64
_CANDIDATES = "candidates"
_MIN_REDUCED = 2 * _BATCH


def _batches(path: str, names: Tuple[str, ...]
             ) -> Iterator[Tuple[np.ndarray, Dict[str, np.ndarray]]]:
  """(serialized examples, {name: values}) per batch of a TFRecord file;
  every example must hold one value of each named feature."""
  import tensorflow as tf
  spec = {name: tf.io.FixedLenFeature(
      [], tf.int64 if name == F.ITEM_INDEX else tf.string) for name in names}
  dataset = tf.data.TFRecordDataset(path, compression_type="GZIP").batch(
      _BATCH).prefetch(1)
  for serialized in dataset:
    try:
      parsed = tf.io.parse_example(serialized, spec)
    except tf.errors.InvalidArgumentError as e:
      raise ValueError(f"{path}: every example needs one value of each of "
                       f"{list(names)} ({e.message.splitlines()[0]})") from None
    yield serialized, {k: v.numpy() for k, v in parsed.items()}


@dataclasses.dataclass
class _Counts:
  """Train frequencies by item index, distinct users, example count."""
  frequency: np.ndarray
  users: pa.Array
  examples: int


def _distinct(arrays: List[pa.Array]) -> pa.Array:
  return pc.unique(pa.concat_arrays(arrays)) if arrays else pa.array(
      [], pa.binary())


def _count_file(path: str) -> _Counts:
  frequency = np.zeros(0, dtype=np.int64)
  users, examples = [], 0
  for _, batch in _batches(path, (F.ITEM_INDEX, F.USER_ID)):
    frequency = _add(frequency, np.bincount(batch[F.ITEM_INDEX]))
    users.append(pc.unique(pa.array(batch[F.USER_ID], pa.binary())))
    examples += len(batch[F.ITEM_INDEX])
  return _Counts(frequency, _distinct(users), examples)


def _add(a: np.ndarray, b: np.ndarray) -> np.ndarray:
  if len(a) < len(b):
    a, b = b, a
  a = a.copy()
  a[:len(b)] += b
  return a


class _SumCounts(beam.CombineFn):

  def create_accumulator(self):
    return _Counts(np.zeros(0, dtype=np.int64), _distinct([]), 0)

  def add_input(self, acc, counts):
    return self.merge_accumulators([acc, counts])

  def merge_accumulators(self, accs):
    accs = list(accs)
    frequency = np.zeros(0, dtype=np.int64)
    for a in accs:
      frequency = _add(frequency, a.frequency)
    return _Counts(frequency, _distinct([a.users for a in accs]),
                   sum(a.examples for a in accs))

  def extract_output(self, acc):
    return acc


@dataclasses.dataclass
class ItemTable:
  """Per item, in item-index order: id, train frequency, head or not."""
  ids: np.ndarray
  frequency: np.ndarray
  is_head: np.ndarray
  cap: int

  @property
  def capped(self) -> np.ndarray:
    """Items whose Ω_r share is a sample: head items above the cap."""
    return self.is_head & (self.frequency > self.cap)

  def rows(self) -> List[stats.ItemRow]:
    return [stats.ItemRow(i, k, f, h) for k, (i, f, h) in enumerate(zip(
        self.ids.tolist(), self.frequency.tolist(), self.is_head.tolist()))]


def _read_catalog(path: str) -> np.ndarray:
  """Item ids by item index."""
  ids, index = [], []
  for _, batch in _batches(path, (F.ITEM_ID, F.ITEM_INDEX)):
    ids.append(batch[F.ITEM_ID])
    index.append(batch[F.ITEM_INDEX])
  ids = np.concatenate(ids) if ids else np.zeros(0, dtype=object)
  index = np.concatenate(index) if index else np.zeros(0, dtype=np.int64)
  if len(index) and not np.array_equal(np.sort(index), np.arange(len(index))):
    raise ValueError(f"{path}: item indexes are not 0..{len(index) - 1}")
  out = np.empty(len(ids), dtype=object)
  out[index] = [i.decode() for i in ids.tolist()]
  return out


def _item_table(counts: _Counts, catalog_ids: np.ndarray, head_fraction: float,
                train_pattern: str, catalog_path: str) -> ItemTable:
  if len(counts.frequency) > len(catalog_ids):
    unknown = int(np.flatnonzero(counts.frequency[len(catalog_ids):])[0]
                  + len(catalog_ids))
    raise ValueError(f"item index {unknown} is in the train split "
                     f"{train_pattern} but not in {catalog_path}")
  frequency = np.zeros(len(catalog_ids), dtype=np.int64)
  frequency[:len(counts.frequency)] = counts.frequency
  is_head = stats.head_mask(frequency, np.arange(len(frequency)),
                            head_fraction)
  return ItemTable(catalog_ids, frequency, is_head,
                   stats.cap_of(frequency, is_head))


def _shard(directory: str, name: str) -> str:
  return os.path.join(directory, f"{example_io.FILE_PREFIX}-{name}.gz")


@dataclasses.dataclass
class _Candidates:
  """Head examples competing for their item's cap places in Ω_r."""
  item: np.ndarray
  keys: np.ndarray        # (n, 4) uint64, compared row-wise
  records: np.ndarray     # serialized examples, dtype object
  cap: int

  def __len__(self) -> int:
    return len(self.item)

  def take(self, at: np.ndarray) -> "_Candidates":
    return _Candidates(self.item[at], self.keys[at], self.records[at],
                       self.cap)


def _concat(parts: List[_Candidates]) -> _Candidates:
  return _Candidates(np.concatenate([c.item for c in parts]),
                     np.concatenate([c.keys for c in parts]),
                     np.concatenate([c.records for c in parts]),
                     parts[0].cap)


def _smallest_per_item(c: _Candidates) -> _Candidates:
  # By item, then by the key's first 64 bits; the other 192 bits are sorted
  # on only when two first words tie within an item (all but never).
  order = np.lexsort((c.keys[:, 0], c.item))
  item_sorted, first = c.item[order], c.keys[order, 0]
  if np.any((np.diff(item_sorted) == 0) & (np.diff(first) == 0)):
    order = np.lexsort(tuple(c.keys[:, k] for k in range(3, -1, -1)) +
                       (c.item,))
  item = c.item[order]
  starts = np.flatnonzero(np.diff(item, prepend=-1))
  rank = np.arange(len(item)) - np.repeat(starts, np.diff(
      np.append(starts, len(item))))
  return c.take(order[rank < c.cap])


class _KeepSmallestKeys(beam.CombineFn):
  """Per head item, the cap candidates with the smallest keys."""

  def create_accumulator(self):
    return None

  def add_input(self, acc, candidates):
    return self.merge_accumulators([acc, candidates])

  def merge_accumulators(self, accs):
    accs = [a for a in accs if a is not None]
    if not accs:
      return None
    return _smallest_per_item(_concat(accs)) if len(accs) > 1 else accs[0]

  def extract_output(self, acc):
    return acc


class _Rebalance(beam.DoFn):
  """One train file -> its Ω_r shard (uncapped items) and the candidates of
  the capped head items, by bucket."""

  def __init__(self, out_dir: str, seed: int):
    self._out_dir = out_dir
    self._seed = seed

  def process(self, indexed_path, table: ItemTable):
    import tensorflow as tf
    number, path = indexed_path
    capped = table.capped
    kept: List[np.ndarray] = []
    # Candidates are reduced to cap per item when twice as many are pending
    # as the last reduction left (at least _MIN_REDUCED): few, large
    # selections, and memory bounded by the capped items' cap places,
    # whatever the file's size.
    pending: List[_Candidates] = []
    pending_size, reduced_size = 0, _MIN_REDUCED
    for serialized, batch in _batches(path, (F.ITEM_INDEX, F.USER_ID,
                                             F.ITEM_ID)):
      records = serialized.numpy()
      item = batch[F.ITEM_INDEX]
      sampled = capped[item]
      kept.append(records[~sampled])
      at = np.flatnonzero(sampled)
      if len(at):
        pending.append(_Candidates(
            item[at], stats.sample_keys(self._seed,
                                        batch[F.USER_ID][at].tolist(),
                                        batch[F.ITEM_ID][at].tolist()),
            records[at], table.cap))
        pending_size += len(at)
      if pending_size > 2 * reduced_size:
        pending = [_smallest_per_item(_concat(pending))]
        pending_size = len(pending[0])
        reduced_size = max(reduced_size, pending_size)
    tf.io.gfile.makedirs(self._out_dir)
    written = example_bytes.write_tfrecords(
        _shard(self._out_dir, f"{number:05d}"),
        np.concatenate(kept).tolist() if kept else [])
    yield written
    if pending:
      merged = _smallest_per_item(_concat(pending))
      bucket = merged.item % _HEAD_BUCKETS
      for b in np.unique(bucket).tolist():
        yield beam.pvalue.TaggedOutput(
            _CANDIDATES, (b, merged.take(np.flatnonzero(bucket == b))))


def _write_selected(kv, out_dir: str) -> int:
  import tensorflow as tf
  bucket, selected = kv
  tf.io.gfile.makedirs(out_dir)
  return example_bytes.write_tfrecords(_shard(out_dir, f"head-{bucket:03d}"),
                                       selected.records.tolist())


def _held_out_items(path: str) -> np.ndarray:
  return np.concatenate([b[F.ITEM_INDEX] for _, b in
                         _batches(path, (F.ITEM_INDEX,))] or
                        [np.zeros(0, dtype=np.int64)])


def _rows_tsv(table: ItemTable) -> str:
  lines = ["item_id\titem_index\tfrequency\tis_head"]
  lines += [f"{i}\t{k}\t{f}\t{int(h)}" for k, (i, f, h) in enumerate(zip(
      table.ids.tolist(), table.frequency.tolist(), table.is_head.tolist()))]
  return "\n".join(lines)


def _summary_json(table: ItemTable, counts: _Counts, omega_r_size: int,
                  held_out: List[np.ndarray], head_fraction: float) -> str:
  test_items = held_out[1]
  return json.dumps(dataclasses.asdict(stats.summarize_arrays(
      table.frequency, table.is_head, head_fraction, omega_r_size,
      n_users=len(counts.users),
      n_interactions=counts.examples + sum(len(h) for h in held_out),
      test_is_head=table.is_head[test_items])), indent=2)


class Executor(base_beam_executor.BaseBeamExecutor):
  """Computes item frequencies, head/tail, the imbalance factor and Ω_r."""

  def Do(self, input_dict: Dict[str, List[types.Artifact]],
         output_dict: Dict[str, List[types.Artifact]],
         exec_properties: Dict[str, Any]) -> None:
    import tensorflow as tf
    examples = artifact_utils.get_single_instance(input_dict["examples"])
    catalog = artifact_utils.get_single_instance(input_dict["item_catalog"])
    item_stats = artifact_utils.get_single_instance(output_dict["item_stats"])
    rebalanced = artifact_utils.get_single_instance(
        output_dict["rebalanced_examples"])
    # Beam reads and writes the URIs (a distributed runner's workers see
    # gs:// but not this machine's mounts); plain file I/O uses local paths.
    item_stats_path = uris.local_path(item_stats.uri)
    head_fraction = float(exec_properties[HEAD_FRACTION])
    seed = int(exec_properties.get(SEED) or 0)
    catalog_path = os.path.join(catalog.uri, artifacts.CATALOG_FILE)
    train_pattern = example_io.split_pattern(examples.uri, "train")
    train_files = sorted(tf.io.gfile.glob(train_pattern))
    if not train_files:
      raise FileNotFoundError(f"train: no files match {train_pattern}")
    omega_r_dir = example_io.split_dir(rebalanced.uri, "train")

    with self._make_beam_pipeline() as p:
      files = (p
               | "TrainFiles" >> beam.Create(list(enumerate(train_files)))
               | "Reshuffle" >> beam.Reshuffle())
      counts = (files
                | "CountFile" >> beam.Map(lambda f: _count_file(f[1]))
                | "SumCounts" >> beam.CombineGlobally(_SumCounts()))
      catalog_ids = (p
                     | "CatalogFile" >> beam.Create([catalog_path])
                     | "ReadCatalog" >> beam.Map(_read_catalog))
      table = counts | "HeadTail" >> beam.Map(
          _item_table, beam.pvalue.AsSingleton(catalog_ids), head_fraction,
          train_pattern, catalog_path)
      rebalanced_parts = files | "Rebalance" >> beam.ParDo(
          _Rebalance(omega_r_dir, seed),
          beam.pvalue.AsSingleton(table)).with_outputs(
              _CANDIDATES, main="written")
      selected = (rebalanced_parts[_CANDIDATES]
                  | "KeepCapPerHeadItem" >> beam.CombinePerKey(
                      _KeepSmallestKeys())
                  | "WriteSelected" >> beam.Map(_write_selected, omega_r_dir))
      omega_r_size = ((rebalanced_parts["written"], selected)
                      | "AllWritten" >> beam.Flatten()
                      | "OmegaRSize" >> beam.CombineGlobally(sum))
      held_out = []
      for split in ("eval", "test"):
        split_files = tf.io.gfile.glob(
            example_io.split_pattern(examples.uri, split))
        held_out.append(
            p
            | f"Files[{split}]" >> beam.Create(split_files)
            | f"ItemsOf[{split}]" >> beam.Map(_held_out_items)
            | f"AllItems[{split}]" >> beam.CombineGlobally(
                lambda parts: np.concatenate(
                    list(parts) or [np.zeros(0, dtype=np.int64)])))
      summary = table | "Summarize" >> beam.Map(
          lambda t, c, n, e, s: _summary_json(t, c, n, [e, s], head_fraction),
          beam.pvalue.AsSingleton(counts),
          beam.pvalue.AsSingleton(omega_r_size),
          beam.pvalue.AsSingleton(held_out[0]),
          beam.pvalue.AsSingleton(held_out[1]))
      _ = summary | "WriteSummary" >> beam.io.WriteToText(
          os.path.join(item_stats.uri, stats.SUMMARY_FILE),
          num_shards=1, shard_name_template="")
      _ = (table
           | "ToTsv" >> beam.Map(_rows_tsv)
           | "WriteItemStats" >> beam.io.WriteToText(
               os.path.join(item_stats.uri, stats.ITEM_STATS_FILE),
               num_shards=1, shard_name_template=""))

    example_io.mark_examples(rebalanced, ["train"])
    summary = stats.load_summary(item_stats_path)
    for key in ("imbalance_factor", "head_fraction"):
      item_stats.set_float_custom_property(key, getattr(summary, key))
    for key in ("n_items", "n_head", "n_tail", "rebalance_cap",
                "rebalanced_size", "n_train_interactions", "n_users",
                "n_interactions", "test_head", "test_tail"):
      item_stats.set_int_custom_property(key, getattr(summary, key))
