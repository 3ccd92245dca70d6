"""Executor: reads atomic files with Beam, splits leave-one-out, writes
tf.Examples per split and the item catalog.

Beam does all the work on Arrow tables, so no step holds the whole log and
none touches one row at a time in Python:
  1. the interaction file is cut into byte ranges that workers parse
     (atomic_columns); bad rows are set aside with their line numbers;
  2. rows are sent to user buckets by a hash of the user id; each bucket
     drops duplicate (user, item) pairs, keeping the latest, and reports
     each item's first line;
  3. item indexes (first appearance in the log, then the item file's order)
     are one small side input;
  4. each bucket sorts its users' histories, splits them leave-one-out and
     writes its own TFRecord shard per split, encoded in C++.
The side files (items, users) are read whole: they grow with the catalog
and the user base, not with the log.
"""

import dataclasses
import json
import logging
import os
from typing import Any, Dict, List, Optional

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from tfx import types
from tfx.dsl.components.base import base_beam_executor
from tfx.types import artifact_utils

from cdnrec.core import artifacts
from cdnrec.core import atomic
from cdnrec.core import example_batches
from cdnrec.core import example_bytes
from cdnrec.core import example_io
from cdnrec.core import features as F
from cdnrec.core import fingerprints
from cdnrec.core import split as loo
from cdnrec.core import uris
from cdnrec.data import atomic_columns
from cdnrec.data import readers

_log = logging.getLogger("cdnrec.example_gen")

DATA_DIR = "data_dir"
SEED = "seed"
DATA_FORMAT = "data_format"
MAX_BAD_ROWS = "max_bad_rows"
READER_CONFIG = "reader_config"
FEATURES = "features"
STATISTICS_EXAMPLES = "statistics_examples"
STATISTICS_SAMPLE_SIZE = "statistics_sample_size"

BAD_ROWS_FILE = "bad_rows.json"
SPLIT_SIZES_FILE = "split_sizes.json"
# StatisticsGen reads every example up to about this many, a seeded sample
# of users holding about this many above it: TFDV decodes every example it
# is given, even when it samples, and a million examples estimate the
# value distributions that validation needs.
DEFAULT_STATISTICS_SAMPLE_SIZE = 1_000_000
READ_REPORT_FILE = "read_report.json"
# Interaction-file bytes per user bucket: a bucket's rows are held in
# memory while it is split and written.
_BUCKET_BYTES = 48 << 20
_MAX_BUCKETS = 1024
_BAD = "bad"
# Seeds the user hash that picks the statistics sample, apart from the one
# that picks a user's bucket (seed 0), so that the sample is spread over
# every bucket.
_SAMPLE_HASH_SEED = 0x57A7
_FIRST_SEEN = "first_seen"
_SAMPLE_PREFIX = "statistics/"


@dataclasses.dataclass
class SideTable:
  """The rows of an item or user file: ids in file order and, per row, its
  features as serialized tf.Features entries (example_bytes)."""
  ids: pa.Array
  entries: List[bytes]

  def positions(self, keys: pa.Array) -> np.ndarray:
    return pc.index_in(keys, value_set=self.ids).to_numpy(
        zero_copy_only=False).astype(np.int64)


@dataclasses.dataclass
class ItemIndex:
  """Item ids in index order and each item's catalog entries (id, index,
  features): the payload of its catalog example and of the item half of
  every interaction example."""
  ids: pa.Array
  entries: List[bytes]


def _read_side(path: str, fields, key: str, features: List[F.Feature],
               kind: str):
  """A side file as a SideTable; duplicate ids are bad rows."""
  table, bad = atomic_columns.read_file(path, fields)
  ids = table.column(key).combine_chunks()
  lines = table.column(atomic_columns.LINE).to_numpy()
  _, first = np.unique(_codes(ids), return_index=True)
  if len(first) != len(ids):
    again = np.setdiff1d(np.arange(len(ids)), first)
    for row in again:
      bad.append(atomic_columns.BadRow(
          path, int(lines[row]), f"field {key!r}: {ids[int(row)].as_py()!r} "
          f"appears again; expected one row per id"))
    keep = np.sort(first)
    table = table.take(pa.array(keep))
    ids = table.column(key).combine_chunks()
  for b in bad:
    yield beam.pvalue.TaggedOutput(_BAD, b)
  columns = example_batches.feature_columns(table, features)
  yield SideTable(ids, example_bytes.feature_entries(columns).to_list()
                  if columns else [b""] * len(ids))
  _log.info("read %d %s rows from %s", len(ids), kind, path)


class _ReadRange(beam.DoFn):
  """A byte range of the interaction file -> (bucket, rows) per bucket."""

  def __init__(self, fields, n_buckets: int, has_timestamp: bool):
    self._fields = fields
    self._n_buckets = n_buckets
    self._has_ts = has_timestamp

  def process(self, r, newlines, items: Optional[SideTable],
              users: Optional[SideTable]):
    before = sum(count for start, count in newlines if start < r.start)
    table, bad = atomic_columns.read_range(r, self._fields, before)
    for b in bad:
      yield beam.pvalue.TaggedOutput(_BAD, b)
    user = table.column("user_id").combine_chunks()
    item = table.column("item_id").combine_chunks()
    line = table.column(atomic_columns.LINE).to_numpy()
    keep = np.ones(len(line), dtype=bool)
    if self._has_ts:
      ts = table.column("timestamp").combine_chunks()
      missing = np.asarray(ts.is_null().to_numpy(zero_copy_only=False))
      for row in np.flatnonzero(missing):
        yield beam.pvalue.TaggedOutput(_BAD, atomic_columns.BadRow(
            r.path, int(line[row]), "field 'timestamp': empty; expected a "
            "number"))
      keep &= ~missing
      ts = ts.fill_null(0.0).to_numpy(zero_copy_only=False)
    else:
      ts = np.zeros(len(line))
    for side, column, key, what in ((items, item, "item_id", "item"),
                                    (users, user, "user_id", "user")):
      if side is None:
        continue
      known = np.asarray(pc.is_in(column, value_set=side.ids).to_numpy(
          zero_copy_only=False), dtype=bool)
      for row in np.flatnonzero(keep & ~known):
        yield beam.pvalue.TaggedOutput(_BAD, atomic_columns.BadRow(
            r.path, int(line[row]), f"field {key!r}: {what} "
            f"{column[int(row)].as_py()!r} is not in the {what} file"))
      keep &= known
    rows = pa.table({"user_id": user, "item_id": item, "timestamp": ts,
                     "line": line}).filter(pa.array(keep))
    bucket = (fingerprints.hash64(rows.column("user_id")) %
              np.uint64(self._n_buckets)).astype(np.int64)
    order = np.argsort(bucket, kind="stable")
    sorted_buckets = bucket[order]
    bounds = np.flatnonzero(np.diff(sorted_buckets)) + 1
    for part in np.split(order, bounds):
      if len(part):
        yield int(bucket[part[0]]), rows.take(pa.array(part))


def _codes(strings: pa.Array) -> np.ndarray:
  """Equal codes for equal strings (hashed in C++, in first-seen order)."""
  return pc.dictionary_encode(strings).indices.to_numpy().astype(np.int64)


def _deduplicate(kv, path: str):
  """A bucket's rows, one per (user, item): the latest (timestamp, then
  line) is kept, the others are bad rows. Also each item's first line."""
  bucket, tables = kv
  rows = pa.concat_tables(list(tables)).combine_chunks()
  user = rows.column("user_id").chunk(0)
  item = rows.column("item_id").chunk(0)
  ts = rows.column("timestamp").to_numpy()
  line = rows.column("line").to_numpy()
  item_code = _codes(item)
  pair = _codes(user) * (int(item_code.max(initial=0)) + 1) + item_code
  order = np.lexsort((line, ts, pair))
  sorted_pairs = pair[order]
  starts = np.flatnonzero(np.diff(sorted_pairs, prepend=-1))
  ends = np.append(starts[1:], len(order))
  for start, end in zip(starts[ends - starts > 1], ends[ends - starts > 1]):
    # Reported at each later line of the pair, as reading top to bottom.
    rows_of_pair = order[start:end]
    lines = np.sort(line[rows_of_pair])
    first = rows_of_pair[0]
    for later in lines[1:]:
      yield beam.pvalue.TaggedOutput(_BAD, atomic_columns.BadRow(
          path, int(later), f"duplicate interaction "
          f"({user[int(first)].as_py()!r}, {item[int(first)].as_py()!r}), "
          f"first at line {lines[0]}; the latest is kept"))
  kept = np.sort(order[ends - 1])
  rows = rows.take(pa.array(kept))
  yield beam.pvalue.TaggedOutput(_FIRST_SEEN, rows.select(
      ["item_id", "line"]).group_by("item_id").aggregate([("line", "min")]))
  yield bucket, rows


class _FirstLines(beam.CombineFn):
  """item -> the first line it appears on, over all buckets."""

  def create_accumulator(self):
    return None

  def add_input(self, acc, table):
    return self.merge_accumulators([acc, table])

  def merge_accumulators(self, accs):
    tables = [a for a in accs if a is not None]
    if not tables:
      return None
    merged = pa.concat_tables(tables)
    return merged.group_by("item_id").aggregate(
        [("line_min", "min")]).rename_columns(["line_min", "item_id"])

  def extract_output(self, acc):
    return acc


def _item_index(first_lines: Optional[pa.Table],
                items: Optional[SideTable]) -> ItemIndex:
  """Items indexed by first line in the log, then the item file's items the
  log never mentions, in file order (docs/protocol.md re-indexing)."""
  if first_lines is None:
    seen = pa.array([], pa.string())
  else:
    order = np.argsort(first_lines.column("line_min").to_numpy(),
                       kind="stable")
    seen = first_lines.column("item_id").combine_chunks().take(
        pa.array(order)).cast(pa.string())
  if items is None:
    ids = seen
    features = [b""] * len(ids)
  else:
    unseen = items.ids.filter(pc.invert(pc.is_in(items.ids, value_set=seen)))
    ids = pa.concat_arrays([seen, unseen.cast(pa.string())])
    features = [items.entries[k] for k in items.positions(ids).tolist()]
  heads = zip(example_bytes.bytes_entry(
      F.ITEM_ID, ids.cast(pa.binary()).to_pylist()),
              example_bytes.int64_entry(F.ITEM_INDEX,
                                        np.arange(len(ids))).to_list())
  return ItemIndex(ids, [a + b + c for (a, b), c in zip(heads, features)])


def _shard_path(directory: str, bucket: int, n_buckets: int) -> str:
  return os.path.join(directory, f"{example_io.FILE_PREFIX}-{bucket:05d}-of-"
                      f"{n_buckets:05d}.gz")


class _WriteSplits(beam.DoFn):
  """A bucket's rows -> leave-one-out splits, each written as one shard."""

  def __init__(self, examples_uri: str, sample_uri: str, n_buckets: int,
               has_timestamp: bool, seed: int, sample_examples: int):
    self._uri = examples_uri
    self._sample_uri = sample_uri
    self._n_buckets = n_buckets
    self._has_ts = has_timestamp
    self._seed = seed
    self._sample_examples = sample_examples

  def process(self, kv, index: ItemIndex, users: Optional[SideTable],
              n_lines: int):
    import tensorflow as tf
    bucket, rows = kv
    user = rows.column("user_id").combine_chunks()
    item = rows.column("item_id").combine_chunks()
    item_index = pc.index_in(item, value_set=index.ids).to_numpy(
        zero_copy_only=False).astype(np.int64)
    ts = rows.column("timestamp").to_numpy() if self._has_ts else None
    # Codes of the users; each user's entries (id, then features) are
    # encoded once.
    encoded = pc.dictionary_encode(user)
    user_code = encoded.indices.to_numpy().astype(np.int64)
    codes = loo.split_codes(
        user_code, ts, item_index,
        user.to_pylist() if ts is None else (),
        item.to_pylist() if ts is None else (), self._seed)
    distinct = encoded.dictionary
    user_entries = example_bytes.bytes_entry(
        F.USER_ID, distinct.cast(pa.binary()).to_pylist())
    if users is not None:
      user_entries = [a + users.entries[k] for a, k in zip(
          user_entries, users.positions(distinct).tolist())]
    sampled = statistics_sample(distinct, n_lines,
                                self._sample_examples)[user_code]
    for code, name in enumerate(loo.SPLIT_NAMES):
      at = np.flatnonzero(codes == code)
      parts = [[user_entries[k] for k in user_code[at].tolist()],
               [index.entries[k] for k in item_index[at].tolist()]]
      if ts is not None:
        parts.append(example_bytes.int64_entry(
            F.TIMESTAMP, np.rint(ts[at]).astype(np.int64)).to_list())
      paths = []
      for uri in (self._uri, self._sample_uri):
        directory = example_io.split_dir(uri, name)
        tf.io.gfile.makedirs(directory)
        paths.append(_shard_path(directory, bucket, self._n_buckets))
      yield name, example_bytes.write_examples(paths[0], parts)
      keep = sampled[at]
      if keep.all():
        tf.io.gfile.copy(paths[0], paths[1], overwrite=True)
        yield _SAMPLE_PREFIX + name, len(at)
      else:
        kept = np.flatnonzero(keep).tolist()
        yield _SAMPLE_PREFIX + name, example_bytes.write_examples(
            paths[1], [[column[k] for k in kept] for column in parts])


def statistics_sample(users: pa.Array, n_lines: int,
                      sample_examples: int) -> np.ndarray:
  """[len(users)] bool: the users whose examples StatisticsGen reads.

  A user is in when a seeded hash of its id falls below
  sample_examples / n_lines of the hash range, so the same users are in
  whichever bucket and worker sees them, and the sample holds about
  sample_examples examples (n_lines, the log's lines, counts its header,
  bad rows and duplicates too: the sample is a little smaller); every user
  when the log has no more lines.
  Whole users, not single rows, keep each user's leave-one-out splits
  together in the sample.
  """
  if n_lines <= sample_examples:
    return np.ones(len(users), dtype=bool)
  threshold = np.uint64(int(sample_examples / n_lines * 2.0**64))
  return fingerprints.hash64(users, _SAMPLE_HASH_SEED) < threshold


def _write_catalog(index: ItemIndex, path: str) -> int:
  return example_bytes.write_examples(path, [index.entries])


def _bad_rows_json(bad_rows: List[atomic_columns.BadRow]) -> str:
  ordered = sorted(bad_rows, key=lambda b: (b.path, b.line))
  return json.dumps({"count": len(ordered),
                     "first": [str(b) for b in ordered[:readers.base.SHOWN_BAD_ROWS]],
                     "duplicates": sum("duplicate interaction" in b.reason
                                       for b in ordered)})


class Executor(base_beam_executor.BaseBeamExecutor):
  """Leave-one-out ExampleGen; see component.py for the contract."""

  def Do(self, input_dict: Dict[str, List[types.Artifact]],
         output_dict: Dict[str, List[types.Artifact]],
         exec_properties: Dict[str, Any]) -> None:
    seed = int(exec_properties.get(SEED) or 0)
    max_bad_rows = int(exec_properties.get(MAX_BAD_ROWS) or 0)
    data_format = exec_properties.get(DATA_FORMAT) or "recbole"
    examples = artifact_utils.get_single_instance(output_dict["examples"])
    sample = artifact_utils.get_single_instance(
        output_dict[STATISTICS_EXAMPLES])
    sample_examples = int(exec_properties.get(STATISTICS_SAMPLE_SIZE) or
                          DEFAULT_STATISTICS_SAMPLE_SIZE)
    catalog = artifact_utils.get_single_instance(output_dict["item_catalog"])
    catalog_path = uris.local_path(catalog.uri)
    if data_format == "recbole":
      # Atomic files are read where they are, by Beam's workers.
      dataset = atomic.locate(exec_properties[DATA_DIR])
    else:
      # Other layouts are first rewritten as atomic files inside the catalog
      # artifact, which is published only when the whole component succeeds.
      dataset, report = readers.convert(
          data_format, exec_properties[DATA_DIR],
          os.path.join(catalog_path, "source"),
          readers.ReadOptions(max_bad_rows),
          json.loads(exec_properties.get(READER_CONFIG) or "{}"))
      with open(os.path.join(catalog_path, READ_REPORT_FILE), "w") as f:
        f.write(readers.report_json(report))
      for note in report.notes:
        _log.info("%s", note)
    selection = json.loads(exec_properties.get(FEATURES) or "{}")
    feature_config = F.from_dataset(dataset, selection.get("user"),
                                    selection.get("item"))
    ranges = atomic_columns.byte_ranges(dataset.inter_path)
    size = ranges[-1].end
    n_buckets = int(min(_MAX_BUCKETS, max(1, -(-size // _BUCKET_BYTES))))
    has_ts = dataset.has_timestamp

    with self._make_beam_pipeline() as p:
      bad_parts = []

      def side(path, fields, key, features, what):
        if not path:
          return p | f"No{what}File" >> beam.Create([None])
        read = (p | f"List{what}s" >> beam.Create([path])
                | f"Read{what}s" >> beam.FlatMap(
                    _read_side, fields, key, features, what.lower())
                .with_outputs(_BAD, main="table"))
        bad_parts.append(read[_BAD])
        return read["table"]

      items = side(dataset.item_path, dataset.item_fields, "item_id",
                   feature_config.item_features, "Item")
      users = side(dataset.user_path, dataset.user_fields, "user_id",
                   feature_config.user_features, "User")
      range_list = p | "ByteRanges" >> beam.Create(ranges)
      newlines = (range_list
                  | "CountNewlines" >> beam.Map(atomic_columns.count_newlines)
                  | "AllNewlines" >> beam.combiners.ToList())
      parsed = (range_list
                | "Reshuffle" >> beam.Reshuffle()
                | "ReadInteractions" >> beam.ParDo(
                    _ReadRange(dataset.inter_fields, n_buckets, has_ts),
                    beam.pvalue.AsSingleton(newlines),
                    beam.pvalue.AsSingleton(items),
                    beam.pvalue.AsSingleton(users)).with_outputs(
                        _BAD, main="rows"))
      bad_parts.append(parsed[_BAD])
      deduplicated = (parsed["rows"]
                      | "GroupByUserBucket" >> beam.GroupByKey()
                      | "Deduplicate" >> beam.FlatMap(
                          _deduplicate, dataset.inter_path).with_outputs(
                              _BAD, _FIRST_SEEN, main="rows"))
      bad_parts.append(deduplicated[_BAD])
      first_lines = (deduplicated[_FIRST_SEEN]
                     | "FirstLines" >> beam.CombineGlobally(_FirstLines()))
      index = first_lines | "IndexItems" >> beam.Map(
          _item_index, beam.pvalue.AsSingleton(items))
      counts = (deduplicated["rows"]
                | "SplitAndWrite" >> beam.ParDo(
                    _WriteSplits(examples.uri, sample.uri, n_buckets, has_ts,
                                 seed, sample_examples),
                    beam.pvalue.AsSingleton(index),
                    beam.pvalue.AsSingleton(users),
                    beam.pvalue.AsSingleton(
                        newlines | "CountLines" >> beam.Map(
                            lambda pairs: sum(n for _, n in pairs))))
                | "CountPerSplit" >> beam.CombinePerKey(sum))
      _ = index | "WriteCatalog" >> beam.Map(
          _write_catalog, os.path.join(catalog.uri, artifacts.CATALOG_FILE))
      _ = (bad_parts
           | "AllBadRows" >> beam.Flatten()
           | "ListBadRows" >> beam.combiners.ToList()
           | "BadRowsJson" >> beam.Map(_bad_rows_json)
           | "WriteBadRows" >> beam.io.WriteToText(
               os.path.join(catalog.uri, BAD_ROWS_FILE), num_shards=1,
               shard_name_template=""))
      _ = (counts
           | "ListCounts" >> beam.combiners.ToDict()
           | "CountsJson" >> beam.Map(json.dumps)
           | "WriteCounts" >> beam.io.WriteToText(
               os.path.join(catalog.uri, SPLIT_SIZES_FILE), num_shards=1,
               shard_name_template=""))

    with open(os.path.join(catalog_path, BAD_ROWS_FILE)) as f:
      bad = json.load(f)
    if bad["count"] > max_bad_rows:
      shown = "\n  ".join(bad["first"])
      raise atomic.DataFormatError(
          f"{bad['count']} bad row(s), more than --max-bad-rows="
          f"{max_bad_rows}; first ones:\n  {shown}")
    if bad["count"]:
      _log.warning("skipped %d bad rows (--max-bad-rows); first: %s",
                   bad["count"], "; ".join(bad["first"]))
    example_io.mark_examples(examples, example_io.SPLITS)
    example_io.mark_examples(sample, example_io.SPLITS)
    with open(os.path.join(catalog_path, SPLIT_SIZES_FILE)) as f:
      sizes = json.load(f)
    sampled = sum(sizes.get(_SAMPLE_PREFIX + name, 0)
                  for name in loo.SPLIT_NAMES)
    total = sum(sizes.get(name, 0) for name in loo.SPLIT_NAMES)
    if total and not sampled:
      raise atomic.DataFormatError(
          f"the statistics sample is empty: the log's {total} examples "
          f"belong to too few users for a sample of about {sample_examples}; "
          f"raise statistics_sample_size")
    sample.set_int_custom_property("sampled_examples", sampled)
    sample.set_int_custom_property("examples", total)
    _log.info("statistics sample: %d of %d examples", sampled, total)
    with open(os.path.join(catalog_path, artifacts.FEATURES_FILE), "w") as f:
      f.write(feature_config.to_json())
    with open(os.path.join(catalog_path, "source.json"), "w") as f:
      json.dump({"data_dir": exec_properties[DATA_DIR],
                 "data_format": data_format, "dataset": dataset.name}, f)
