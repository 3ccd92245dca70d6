"""Executor of ItemStatsGen: Beam over the files of the train split.

Every step works on a batch of examples at a time (read and parsed in C++
by tf.data and tf.io.parse_example) or on per-example arrays, and no step
holds more than one file's arrays, the per-item arrays, or cap candidates
per head item:
  1. per file, one read: each example's item index, the first 64 bits of
     its seeded sample key and its record's length; the file's item
     frequencies (a bincount) and distinct users, summed and merged by
     combiners;
  2. head/tail, the imbalance factor and the cap on the item arrays;
  3. Ω_r keeps every example of a tail item and of a head item with no
     more than cap; of the other head items' examples, the cap with the
     smallest keys: each file sends its cap smallest per item (key, file,
     position: no records), and a combiner, lifted before the shuffle,
     merges them per item bucket keeping cap per item. Memory is O(cap)
     per head item, never O(item popularity);
  4. per file, a second pass copies the kept records, frames unchanged,
     into the file's Ω_r shard (un-gzip, select, gzip: no parsing).
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
class _Digest:
  """What the first read of a train file keeps, per example in file order:
  its item index, the first 64 bits of its seeded sample key and its
  record's length; and the file's distinct users."""
  number: int
  path: str
  item: np.ndarray      # int64
  key: np.ndarray       # uint64
  length: np.ndarray    # int64
  users: pa.Array


def _distinct(arrays: List[pa.Array]) -> pa.Array:
  return pc.unique(pa.concat_arrays(arrays)) if arrays else pa.array(
      [], pa.binary())


def _digest_file(indexed_path: Tuple[int, str], seed: int) -> _Digest:
  import tensorflow as tf
  number, path = indexed_path
  items, keys, lengths, users = [], [], [], []
  for serialized, batch in _batches(path, (F.ITEM_INDEX, F.USER_ID,
                                           F.ITEM_ID)):
    items.append(batch[F.ITEM_INDEX])
    keys.append(stats.sample_keys(seed, batch[F.USER_ID].tolist(),
                                  batch[F.ITEM_ID].tolist())[:, 0])
    lengths.append(tf.strings.length(serialized).numpy().astype(np.int64))
    users.append(pc.unique(pa.array(batch[F.USER_ID], pa.binary())))

  def joined(arrays, dtype):
    return np.concatenate(arrays) if arrays else np.zeros(0, dtype=dtype)

  return _Digest(number, path, joined(items, np.int64),
                 joined(keys, np.uint64), joined(lengths, np.int64),
                 _distinct(users))


@dataclasses.dataclass
class _Counts:
  """Train frequencies by item index, distinct users, example count."""
  frequency: np.ndarray
  users: pa.Array
  examples: int


def _counts(digest: _Digest) -> _Counts:
  return _Counts(np.bincount(digest.item), digest.users, len(digest.item))


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
  """Examples of capped head items competing for their item's cap places in
  Ω_r, named by file number and position in the file."""
  item: np.ndarray
  key: np.ndarray         # uint64
  file: np.ndarray        # int64
  position: np.ndarray    # int64
  cap: int

  def __len__(self) -> int:
    return len(self.item)

  def take(self, at: np.ndarray) -> "_Candidates":
    return _Candidates(self.item[at], self.key[at], self.file[at],
                       self.position[at], self.cap)


def _concat(parts: List[_Candidates]) -> _Candidates:
  return _Candidates(*(np.concatenate([getattr(c, name) for c in parts])
                       for name in ("item", "key", "file", "position")),
                     parts[0].cap)


def _smallest_per_item(c: _Candidates) -> _Candidates:
  # By item, then key; file and position are sorted on only when two keys
  # of an item tie (all but never in 64 bits), so the choice never depends
  # on the order in which Beam delivers candidates.
  order = np.lexsort((c.key, c.item))
  item_sorted, key_sorted = c.item[order], c.key[order]
  if np.any((np.diff(item_sorted) == 0) & (np.diff(key_sorted) == 0)):
    order = np.lexsort((c.position, c.file, c.key, c.item))
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


@dataclasses.dataclass
class _Plan:
  """A train file's Ω_r shard before the sample: its record lengths and
  which records are kept whatever the sample (tail items, head items
  within the cap)."""
  path: str
  length: np.ndarray
  keep: np.ndarray


class _SplitAtCap(beam.DoFn):
  """A file's digest -> its plan, keyed by file number, and by head bucket
  the file's cap smallest-key examples of each capped item."""

  def process(self, digest: _Digest, table: ItemTable):
    capped = table.capped[digest.item]
    yield digest.number, _Plan(digest.path, digest.length, ~capped)
    at = np.flatnonzero(capped)
    if not len(at):
      return
    candidates = _smallest_per_item(_Candidates(
        digest.item[at], digest.key[at],
        np.full(len(at), digest.number, dtype=np.int64), at, table.cap))
    bucket = candidates.item % _HEAD_BUCKETS
    for b in np.unique(bucket).tolist():
      yield beam.pvalue.TaggedOutput(
          _CANDIDATES, (b, candidates.take(np.flatnonzero(bucket == b))))


def _selected_by_file(kv) -> Iterator[Tuple[int, np.ndarray]]:
  _, selected = kv
  for number in np.unique(selected.file).tolist():
    yield number, selected.position[selected.file == number]


def _write_shard(kv, out_dir: str) -> int:
  """One train file's Ω_r shard: its records that the plan keeps or the
  sample selected, copied as they are."""
  import tensorflow as tf
  number, grouped = kv
  plan, = grouped["plan"]
  keep = plan.keep.copy()
  for positions in grouped["selected"]:
    keep[positions] = True
  tf.io.gfile.makedirs(out_dir)
  return example_bytes.copy_records(plan.path, _shard(out_dir, f"{number:05d}"),
                                    plan.length, keep)


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
      digests = files | "DigestFile" >> beam.Map(_digest_file, seed)
      counts = (digests
                | "CountFile" >> beam.Map(_counts)
                | "SumCounts" >> beam.CombineGlobally(_SumCounts()))
      catalog_ids = (p
                     | "CatalogFile" >> beam.Create([catalog_path])
                     | "ReadCatalog" >> beam.Map(_read_catalog))
      table = counts | "HeadTail" >> beam.Map(
          _item_table, beam.pvalue.AsSingleton(catalog_ids), head_fraction,
          train_pattern, catalog_path)
      split = digests | "SplitAtCap" >> beam.ParDo(
          _SplitAtCap(), beam.pvalue.AsSingleton(table)).with_outputs(
              _CANDIDATES, main="plans")
      selected = (split[_CANDIDATES]
                  | "KeepCapPerHeadItem" >> beam.CombinePerKey(
                      _KeepSmallestKeys())
                  | "SelectedByFile" >> beam.FlatMap(_selected_by_file))
      omega_r_size = ({"plan": split["plans"], "selected": selected}
                      | "JoinByFile" >> beam.CoGroupByKey()
                      | "WriteShard" >> beam.Map(_write_shard, omega_r_dir)
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
