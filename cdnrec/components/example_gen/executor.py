"""Executor: reads atomic files with Beam, splits leave-one-out, writes
tf.Examples per split and the item catalog."""

import json
import logging
import os
from typing import Any, Dict, List

import apache_beam as beam
from tfx import types
from tfx.dsl.components.base import base_beam_executor
from tfx.types import artifact_utils

from cdnrec.core import artifacts
from cdnrec.core import atomic
from cdnrec.core import example_io
from cdnrec.core import features as F
from cdnrec.core import split as loo
from cdnrec.core import uris
from cdnrec.data import readers

_log = logging.getLogger("cdnrec.example_gen")

DATA_DIR = "data_dir"
SEED = "seed"
DATA_FORMAT = "data_format"
MAX_BAD_ROWS = "max_bad_rows"
READER_CONFIG = "reader_config"
FEATURES = "features"


def _numbered_rows(path: str, fields):
  for number, line in atomic.read_numbered_lines(path):
    yield number, atomic.parse_row(line, fields, path, number)


def _keyed_table(pipeline, path, fields, key, label):
  """(id, (line number, row)) for each row; duplicate ids are an error."""

  def check_unique(kv):
    ident, rows = kv
    rows = sorted(rows, key=lambda r: r[0])
    if len(rows) > 1:
      raise atomic.DataFormatError(
          f"{path}, lines {[r[0] for r in rows[:5]]}: {key} {ident!r} appears "
          f"{len(rows)} times; expected one row per {key}")
    return ident, rows[0]

  return (pipeline
          | f"List{label}" >> beam.Create([path])
          | f"Read{label}" >> beam.FlatMap(_numbered_rows, fields)
          | f"Key{label}" >> beam.Map(lambda nr: (nr[1][key], nr))
          | f"Group{label}" >> beam.GroupByKey()
          | f"Unique{label}" >> beam.Map(check_unique))


def _item_indexes(first_seen: List, catalog_order: List[str]) -> Dict[str, int]:
  """Items indexed by first appearance in the log, then items the log never
  mentions in the item file's order (docs/protocol.md re-indexing)."""
  index = {item: i for i, (item, _) in
           enumerate(sorted(first_seen, key=lambda x: x[1]))}
  for item in catalog_order:
    if item not in index:
      index[item] = len(index)
  return index


class Executor(base_beam_executor.BaseBeamExecutor):
  """Leave-one-out ExampleGen; see component.py for the contract."""

  def Do(self, input_dict: Dict[str, List[types.Artifact]],
         output_dict: Dict[str, List[types.Artifact]],
         exec_properties: Dict[str, Any]) -> None:
    seed = int(exec_properties.get(SEED) or 0)
    examples = artifact_utils.get_single_instance(output_dict["examples"])
    catalog = artifact_utils.get_single_instance(output_dict["item_catalog"])
    catalog_path = uris.local_path(catalog.uri)
    # Every source is first read, checked and rewritten as canonical atomic
    # files inside the catalog artifact, which is published only when the
    # whole component succeeds.
    dataset, report = readers.convert(
        exec_properties.get(DATA_FORMAT) or "recbole",
        exec_properties[DATA_DIR], os.path.join(catalog_path, "source"),
        readers.ReadOptions(int(exec_properties.get(MAX_BAD_ROWS) or 0)),
        json.loads(exec_properties.get(READER_CONFIG) or "{}"))
    with open(os.path.join(catalog_path, "read_report.json"), "w") as f:
      f.write(readers.report_json(report))
    if report.bad_rows:
      _log.warning("skipped %d bad rows (--max-bad-rows); first: %s",
                   report.bad_rows, "; ".join(report.bad_examples))
    for note in report.notes:
      _log.info("%s", note)
    selection = json.loads(exec_properties.get(FEATURES) or "{}")
    feature_config = F.from_dataset(dataset, selection.get("user"),
                                    selection.get("item"))
    inter_path = dataset.inter_path
    has_ts = dataset.has_timestamp

    with self._make_beam_pipeline() as p:
      numbered = (p
                  | "ListInteractions" >> beam.Create([inter_path])
                  | "ReadInteractions" >> beam.FlatMap(
                      _numbered_rows, dataset.inter_fields))
      # (user, item) -> (line, timestamp): duplicates keep the latest.
      latest = (numbered
                | "KeyByPair" >> beam.Map(lambda nr: (
                    (nr[1]["user_id"], nr[1]["item_id"]),
                    (nr[1].get("timestamp") or 0.0, nr[0])))
                | "LatestPerPair" >> beam.CombinePerKey(max))
      first_seen = (numbered
                    | "KeyByItem" >> beam.Map(
                        lambda nr: (nr[1]["item_id"], nr[0]))
                    | "FirstLine" >> beam.CombinePerKey(min)
                    | "AllFirstLines" >> beam.combiners.ToList())

      if dataset.item_path:
        items = _keyed_table(p, dataset.item_path, dataset.item_fields,
                             "item_id", "Items")
        catalog_order = (items
                         | "ItemLines" >> beam.Map(lambda kv: (kv[1][0], kv[0]))
                         | "AllItems" >> beam.combiners.ToList()
                         | "SortItems" >> beam.Map(
                             lambda xs: [i for _, i in sorted(xs)]))
        item_rows = items | "ItemRow" >> beam.Map(lambda kv: (kv[0], kv[1][1]))
      else:
        catalog_order = p | "NoItemFile" >> beam.Create([[]])
        item_rows = (first_seen
                     | "ItemsFromLog" >> beam.FlatMap(
                         lambda xs: [(i, {"item_id": i}) for i, _ in xs]))
      index = (first_seen
               | "IndexItems" >> beam.Map(
                   _item_indexes, beam.pvalue.AsSingleton(catalog_order)))

      if dataset.user_path:
        users = _keyed_table(p, dataset.user_path, dataset.user_fields,
                             "user_id", "Users")
        user_rows = users | "UserRow" >> beam.Map(lambda kv: (kv[0], kv[1][1]))
      else:
        user_rows = p | "NoUserFile" >> beam.Create([])

      item_feats = item_rows | "EncodeItems" >> beam.Map(
          lambda kv: (kv[0], example_io.encode_features(
              kv[1], feature_config.item_features)))
      user_feats = user_rows | "EncodeUsers" >> beam.Map(
          lambda kv: (kv[0], example_io.encode_features(
              kv[1], feature_config.user_features)))

      def to_examples(kv, index, item_feats, user_feats):
        user, interactions = kv
        if dataset.user_path and user not in user_feats:
          line = min(i[4] for i in interactions)
          raise atomic.DataFormatError(
              f"{inter_path}, line {line}, field 'user_id': user {user!r} is "
              f"not in {dataset.user_path}")
        history = []
        for item, ts, _, _, line in interactions:
          if item not in item_feats:
            raise atomic.DataFormatError(
                f"{inter_path}, line {line}, field 'item_id': item {item!r} "
                f"is not in {dataset.item_path}")
          history.append((item, ts, index[item], user))
        for split, (item, ts, item_index, _) in loo.split_user_history(
            history, seed, has_ts):
          yield beam.pvalue.TaggedOutput(split, example_io.interaction_example(
              user, item, ts if has_ts else None, item_index,
              user_feats.get(user, {}), item_feats[item]))

      by_split = (latest
                  | "KeyByUser" >> beam.Map(lambda kv: (
                      kv[0][0], (kv[0][1], kv[1][0], None, kv[0][0], kv[1][1])))
                  | "GroupByUser" >> beam.GroupByKey()
                  | "SplitLeaveOneOut" >> beam.FlatMap(
                      to_examples,
                      beam.pvalue.AsSingleton(index),
                      beam.pvalue.AsDict(item_feats),
                      beam.pvalue.AsDict(user_feats)).with_outputs(
                          *example_io.SPLITS))
      for split in example_io.SPLITS:
        _ = (by_split[split]
             | f"Write[{split}]" >> beam.io.WriteToTFRecord(
                 os.path.join(example_io.split_dir(examples.uri, split),
                              example_io.FILE_PREFIX),
                 file_name_suffix=".gz"))

      def catalog_examples(item_feats, index):
        for item in sorted(item_feats, key=lambda i: index[i]):
          yield example_io.catalog_example(item, index[item], item_feats[item])

      _ = (p
           | "CatalogSeed" >> beam.Create([None])
           | "CatalogExamples" >> beam.FlatMap(
               lambda _, feats, index: catalog_examples(feats, index),
               beam.pvalue.AsDict(item_feats), beam.pvalue.AsSingleton(index))
           | "WriteCatalog" >> beam.io.WriteToTFRecord(
               os.path.join(catalog.uri, artifacts.CATALOG_FILE),
               num_shards=1, shard_name_template=""))

    example_io.mark_examples(examples, example_io.SPLITS)
    with open(os.path.join(catalog_path, artifacts.FEATURES_FILE), "w") as f:
      f.write(feature_config.to_json())
    with open(os.path.join(catalog_path, "source.json"), "w") as f:
      json.dump({"data_dir": exec_properties[DATA_DIR],
                 "data_format": exec_properties.get(DATA_FORMAT) or "recbole",
                 "dataset": dataset.name}, f)
