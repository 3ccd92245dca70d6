"""Executor: reads an interaction log with Beam, splits leave-one-out,
writes tf.Examples per split and the item catalog.

Beam does all the work on Arrow tables, so no step holds the whole log and
none touches one row at a time in Python:
  1. the log (every reader's layout: interaction_logs) is cut into units,
     byte ranges of text files or row groups of Parquet files, that
     workers parse; bad rows are set aside with file and line;
  2. rows are sent to user buckets by a hash of the user id; each bucket
     drops duplicate (user, item) pairs, keeping the latest, and reports
     each item's first line;
  3. item indexes (first appearance in the log, then the item file's order)
     are one small side input;
  4. each bucket sorts its users' histories, splits them leave-one-out and
     writes its own TFRecord shard per split, encoded in C++.
The side files (items, users) are read whole: they grow with the catalog
and the user base, not with the log. A reader's side files in another
layout than RecBole's are converted here first, into the catalog artifact
(published only when the whole component succeeds); only the tfds reader
converts its whole source in this process.
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
from cdnrec.data import interaction_logs
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
_DROPPED = "dropped"
_INLINE_ITEMS = "inline_items"
_INLINE_USERS = "inline_users"
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


class _ReadUnit(beam.DoFn):
  """A unit of the interaction log -> (bucket, rows) per bucket."""

  def __init__(self, log: interaction_logs.InteractionLog, n_buckets: int):
    self._log = log
    self._n_buckets = n_buckets

  def process(self, unit, counts, items: Optional[SideTable],
              users: Optional[SideTable]):
    got = interaction_logs.read_unit(
        self._log, unit, interaction_logs.rows_before(unit, counts))
    for b in got.bad:
      yield beam.pvalue.TaggedOutput(_BAD, b)
    if got.dropped:
      yield beam.pvalue.TaggedOutput(_DROPPED, (_DROPPED, got.dropped))
    if got.items is not None:
      yield beam.pvalue.TaggedOutput(_INLINE_ITEMS, got.items)
    if got.users is not None:
      yield beam.pvalue.TaggedOutput(_INLINE_USERS, got.users)
    rows = got.rows
    user = rows.column("user_id").combine_chunks()
    item = rows.column("item_id").combine_chunks()
    line = rows.column(interaction_logs.POSITION).to_numpy()
    keep = np.ones(len(line), dtype=bool)
    for side, column, key, what in ((items, item, "item_id", "item"),
                                    (users, user, "user_id", "user")):
      if side is None:
        continue
      known = np.asarray(pc.is_in(column, value_set=side.ids).to_numpy(
          zero_copy_only=False), dtype=bool)
      for row in np.flatnonzero(keep & ~known):
        yield beam.pvalue.TaggedOutput(_BAD, atomic_columns.BadRow(
            *self._log.describe_position(int(line[row])), f"field {key!r}: "
            f"{what} {column[int(row)].as_py()!r} is not in the {what} file"))
      keep &= known
    ts = (rows.column("timestamp").to_numpy() if self._log.has_timestamp
          else np.zeros(len(line)))
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


class _FirstRows(beam.CombineFn):
  """Units' inline feature rows -> the first row of each id in the log."""

  def create_accumulator(self):
    return None

  def add_input(self, acc, table):
    return interaction_logs.first_per_id([acc, table])

  def merge_accumulators(self, accs):
    return interaction_logs.first_per_id(list(accs))

  def extract_output(self, acc):
    return acc


def _inline_side(first: Optional[pa.Table],
                 features: List[F.Feature]) -> SideTable:
  """A SideTable from the first rows of the log's ids (inline features)."""
  if first is None:
    return SideTable(pa.array([], pa.string()), [])
  columns = example_batches.feature_columns(first, features)
  return SideTable(first.column("id").combine_chunks(),
                   example_bytes.feature_entries(columns).to_list()
                   if columns else [b""] * first.num_rows)


def _codes(strings: pa.Array) -> np.ndarray:
  """Equal codes for equal strings (hashed in C++, in first-seen order)."""
  return pc.dictionary_encode(strings).indices.to_numpy().astype(np.int64)


def _deduplicate(kv, log: interaction_logs.InteractionLog):
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
    first_path, first_line = log.describe_position(int(lines[0]))
    for later in lines[1:]:
      path, later_line = log.describe_position(int(later))
      where = (f"line {first_line}" if path == first_path
               else f"{first_path}, line {first_line}")
      yield beam.pvalue.TaggedOutput(_BAD, atomic_columns.BadRow(
          path, later_line, f"duplicate interaction "
          f"({user[int(first)].as_py()!r}, {item[int(first)].as_py()!r}), "
          f"first at {where}; the latest is kept"))
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


class _BadRowSummary(beam.CombineFn):
  """Bad rows -> their count, how many are duplicates, and the first
  readers.base.SHOWN_BAD_ROWS in file order: memory bounded by what the
  error shows however many rows are bad (a combiner, so workers summarize
  their own rows before anything is shuffled)."""

  def create_accumulator(self):
    return 0, 0, []

  def add_input(self, acc, bad: atomic_columns.BadRow):
    return self.merge_accumulators([acc, (
        1, int("duplicate interaction" in bad.reason), [bad])])

  def merge_accumulators(self, accs):
    count = duplicates = 0
    first: List[atomic_columns.BadRow] = []
    for n, d, rows in accs:
      count, duplicates = count + n, duplicates + d
      first = sorted(first + list(rows), key=lambda b: (b.path, b.line))[
          :readers.base.SHOWN_BAD_ROWS]
    return count, duplicates, first

  def extract_output(self, acc) -> str:
    count, duplicates, first = acc
    return json.dumps({"count": count, "first": [str(b) for b in first],
                       "duplicates": duplicates})


def _side_files(reader, log: interaction_logs.InteractionLog, data_dir: str,
                data_format: str, out_dir: str, bad) -> atomic.AtomicDataset:
  """Where the item and user rows are and what columns they hold: RecBole's
  files where they are; another layout's side files converted into out_dir;
  inline features (no side file) as fields without a file."""
  if data_format == "recbole":
    return atomic.locate(data_dir)
  sides = reader.read_sides(data_dir, bad)
  item_path, user_path = readers.base.write(sides, out_dir,
                                            interactions=False)
  key = lambda name: (atomic.Field(name, atomic.FieldType.TOKEN),)
  fields = lambda name, path, side: (
      key(name) + tuple(getattr(sides, f"{side}_fields"))
      if path or getattr(log, f"{side}_features") else ())
  return atomic.AtomicDataset(
      log.name, log.paths[0], item_path, user_path, log.inter_fields(),
      fields("item_id", item_path, "item"),
      fields("user_id", user_path, "user"))


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
    data_dir = exec_properties[DATA_DIR]
    reader = readers.make(data_format, json.loads(
        exec_properties.get(READER_CONFIG) or "{}"))
    side_bad = readers.base.BadRows(readers.ReadOptions(max_bad_rows))
    notes: List[str] = []
    if isinstance(reader, readers.base.LogReader):
      log = reader.interaction_log(data_dir)
      dataset = _side_files(reader, log, data_dir, data_format,
                            os.path.join(catalog_path, "source"), side_bad)
      notes += reader.notes
    else:
      # The whole source is rewritten as atomic files inside the catalog
      # artifact, which is published only when the whole component succeeds.
      dataset, report = readers.convert(
          data_format, data_dir, os.path.join(catalog_path, "source"),
          readers.ReadOptions(max_bad_rows), json.loads(
              exec_properties.get(READER_CONFIG) or "{}"))
      log = readers.RecBole().interaction_log(os.path.dirname(
          dataset.inter_path))
      notes += report.notes
      side_bad.count = report.bad_rows
      side_bad.examples = list(report.bad_examples)
    selection = json.loads(exec_properties.get(FEATURES) or "{}")
    feature_config = F.from_dataset(dataset, selection.get("user"),
                                    selection.get("item"))
    units = interaction_logs.units(log)
    size = sum(unit.size for unit in units)
    n_buckets = int(min(_MAX_BUCKETS, max(1, -(-size // _BUCKET_BYTES))))
    has_ts = log.has_timestamp

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
      unit_list = p | "LogUnits" >> beam.Create(units)
      newlines = (unit_list
                  | "CountRows" >> beam.Map(interaction_logs.count_rows, log)
                  | "AllRowCounts" >> beam.combiners.ToList())
      parsed = (unit_list
                | "Reshuffle" >> beam.Reshuffle()
                | "ReadInteractions" >> beam.ParDo(
                    _ReadUnit(log, n_buckets),
                    beam.pvalue.AsSingleton(newlines),
                    beam.pvalue.AsSingleton(items),
                    beam.pvalue.AsSingleton(users)).with_outputs(
                        _BAD, _DROPPED, _INLINE_ITEMS, _INLINE_USERS,
                        main="rows"))
      bad_parts.append(parsed[_BAD])
      # Inline features: the log's first row of each id is its side row;
      # every id of the log then has one, so none is checked against it.
      if log.item_features:
        items = (parsed[_INLINE_ITEMS]
                 | "FirstItemRows" >> beam.CombineGlobally(_FirstRows())
                 | "InlineItems" >> beam.Map(
                     _inline_side, feature_config.item_features))
      if log.user_features:
        users = (parsed[_INLINE_USERS]
                 | "FirstUserRows" >> beam.CombineGlobally(_FirstRows())
                 | "InlineUsers" >> beam.Map(
                     _inline_side, feature_config.user_features))
      deduplicated = (parsed["rows"]
                      | "GroupByUserBucket" >> beam.GroupByKey()
                      | "Deduplicate" >> beam.FlatMap(
                          _deduplicate, log).with_outputs(
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
                )
      counts = ((counts, parsed[_DROPPED])
                | "CountsAndDropped" >> beam.Flatten()
                | "CountPerSplit" >> beam.CombinePerKey(sum))
      _ = index | "WriteCatalog" >> beam.Map(
          _write_catalog, os.path.join(catalog.uri, artifacts.CATALOG_FILE))
      _ = (bad_parts
           | "AllBadRows" >> beam.Flatten()
           | "SummarizeBadRows" >> beam.CombineGlobally(_BadRowSummary())
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
    # Side-file rows read before Beam count against the same allowance.
    bad["count"] += side_bad.count
    bad["first"] = (side_bad.examples + bad["first"])[
        :readers.base.SHOWN_BAD_ROWS]
    if bad["count"] > max_bad_rows:
      shown = "\n  ".join(bad["first"])
      raise atomic.DataFormatError(
          f"{bad['count']} bad row(s), more than --max-bad-rows="
          f"{max_bad_rows}; first ones:\n  {shown}")
    if bad["count"]:
      _log.warning("skipped %d bad rows (--max-bad-rows); first: %s",
                   bad["count"], "; ".join(bad["first"]))
    with open(os.path.join(catalog_path, SPLIT_SIZES_FILE)) as f:
      sizes = json.load(f)
    if isinstance(reader, readers.base.LogReader) and reader.dropped_note:
      notes.append(reader.dropped_note.format(n=sizes.get(_DROPPED, 0)))
    for note in notes:
      _log.info("%s", note)
    with open(os.path.join(catalog_path, READ_REPORT_FILE), "w") as f:
      json.dump({"bad_rows": bad["count"], "bad_examples": bad["first"],
                 "duplicates": bad["duplicates"], "notes": notes}, f,
                indent=2)
    if not sum(sizes.get(name, 0) for name in loo.SPLIT_NAMES):
      raise atomic.DataFormatError(
          f"{log.name}: no interactions left after filtering "
          f"({bad['count']} bad rows); expected at least one valid rating")
    example_io.mark_examples(examples, example_io.SPLITS)
    example_io.mark_examples(sample, example_io.SPLITS)
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
