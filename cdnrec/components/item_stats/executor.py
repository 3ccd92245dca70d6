"""Executor of ItemStatsGen: one Beam pipeline over the train split."""

import dataclasses
import glob
import json
import os
from typing import Any, Dict, List

import apache_beam as beam
from tfx import types
from tfx.dsl.components.base import base_beam_executor
from tfx.types import artifact_utils

from cdnrec.core import artifacts
from cdnrec.core import example_io
from cdnrec.core import item_stats as stats
from cdnrec.core import uris

HEAD_FRACTION = "head_fraction"
SEED = "seed"


def _read_examples(pipeline, pattern: str, label: str):
  if not glob.glob(pattern):
    raise FileNotFoundError(f"{label}: no files match {pattern}")
  return pipeline | f"Read[{label}]" >> beam.io.ReadFromTFRecord(
      pattern, coder=beam.coders.BytesCoder())


def _rows_tsv(rows: List[stats.ItemRow]) -> str:
  lines = ["item_id\titem_index\tfrequency\tis_head"]
  lines += [f"{r.item_id}\t{r.item_index}\t{r.frequency}\t{int(r.is_head)}"
            for r in sorted(rows, key=lambda r: r.item_index)]
  return "\n".join(lines)


class Executor(base_beam_executor.BaseBeamExecutor):
  """Computes item frequencies, head/tail, the imbalance factor and Ω_r."""

  def Do(self, input_dict: Dict[str, List[types.Artifact]],
         output_dict: Dict[str, List[types.Artifact]],
         exec_properties: Dict[str, Any]) -> None:
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

    with self._make_beam_pipeline() as p:
      train = (_read_examples(
          p, example_io.split_pattern(examples.uri, "train"), "train")
               | "ParseTrain" >> beam.Map(
                   lambda b: (example_io.read_id_and_index(b), b)))
      frequency = (train
                   | "ItemOfExample" >> beam.Map(lambda x: (x[0][0], 1))
                   | "CountPerItem" >> beam.CombinePerKey(sum))
      index = (_read_examples(p, catalog_path, "catalog")
               | "ParseCatalog" >> beam.Map(example_io.read_id_and_index)
               | "ItemIndex" >> beam.Map(lambda x: (x[0], x[1])))

      def join(kv):
        item, grouped = kv
        if not grouped["index"]:
          raise ValueError(f"item {item!r} is in the train split of "
                           f"{examples.uri} but not in {catalog_path}")
        return item, grouped["index"][0], sum(grouped["frequency"])

      rows = ({"frequency": frequency, "index": index}
              | "JoinCatalog" >> beam.CoGroupByKey()
              | "ItemFrequency" >> beam.Map(join)
              | "AllItems" >> beam.combiners.ToList()
              | "HeadTail" >> beam.Map(stats.head_tail, head_fraction))

      def keep_for_omega_r(kv, rows):
        """All of a tail item's interactions; a head item's down-sampled,
        seeded, to the most popular tail item's count."""
        item, group = kv
        heads = stats.head_set(rows)
        if not heads[item]:
          return [b for _, b in group]
        cap = stats.rebalance_cap(rows)
        keyed = sorted((stats.sample_key(seed, ids[2], item), b)
                       for ids, b in group)
        return [b for _, b in keyed[:cap]]

      omega_r = (train
                 | "KeyByItem" >> beam.Map(lambda x: (x[0][0], x))
                 | "GroupByItem" >> beam.GroupByKey()
                 | "Rebalance" >> beam.FlatMap(
                     keep_for_omega_r, beam.pvalue.AsSingleton(rows)))
      _ = omega_r | "WriteOmegaR" >> beam.io.WriteToTFRecord(
          os.path.join(example_io.split_dir(rebalanced.uri, "train"),
                       example_io.FILE_PREFIX),
          file_name_suffix=".gz")
      omega_r_size = omega_r | "CountOmegaR" >> beam.combiners.Count.Globally()

      users = (train
               | "UserOfExample" >> beam.Map(lambda x: x[0][2])
               | "DistinctUsers" >> beam.Distinct()
               | "CountUsers" >> beam.combiners.Count.Globally())
      held_out = []
      for split in ("eval", "test"):
        pattern = example_io.split_pattern(examples.uri, split)
        held_out.append(
            (p | f"Read[{split}]" >> beam.io.ReadFromTFRecord(
                pattern, coder=beam.coders.BytesCoder())
             | f"ItemOf[{split}]" >> beam.Map(
                 lambda b: example_io.read_id_and_index(b)[0])
             | f"ListItems[{split}]" >> beam.combiners.ToList())
            if glob.glob(example_io.split_pattern(
                uris.local_path(examples.uri), split)) else
            p | f"Empty[{split}]" >> beam.Create([[]]))
      train_size = train | "CountTrain" >> beam.combiners.Count.Globally()

      def summarize(rows, size, n_users, n_train, eval_items, test_items):
        return json.dumps(dataclasses.asdict(stats.summarize(
            rows, head_fraction, size, n_users,
            n_train + len(eval_items) + len(test_items), test_items)),
                          indent=2)

      summary = rows | "Summarize" >> beam.Map(
          summarize, beam.pvalue.AsSingleton(omega_r_size),
          beam.pvalue.AsSingleton(users), beam.pvalue.AsSingleton(train_size),
          beam.pvalue.AsSingleton(held_out[0]),
          beam.pvalue.AsSingleton(held_out[1]))
      _ = summary | "WriteSummary" >> beam.io.WriteToText(
          os.path.join(item_stats.uri, stats.SUMMARY_FILE),
          num_shards=1, shard_name_template="")
      _ = (rows
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

