"""Runs the pipeline's data components once per dataset for experiments.

The same executors as the TFX pipeline (LeaveOneOutExampleGen, ItemStatsGen)
write their artifacts under `<out>/artifacts/`; a marker written last says
they are complete, so an interrupted preparation is redone, never reused.
"""

import dataclasses
import json
import os
import shutil
from typing import Dict, Optional

from tfx.types import standard_artifacts

from components import artifacts
from components import example_io
from components.example_gen import component as example_gen_component
from components.example_gen import executor as example_gen
from components.item_stats import executor as item_stats
from models import training

_MARKER = "COMPLETE.json"
_BEAM_ARGS = ["--direct_running_mode=in_memory", "--direct_num_workers=1"]


@dataclasses.dataclass(frozen=True)
class PreparedData:
  root: str

  def uri(self, name: str) -> str:
    return os.path.join(self.root, name)

  @property
  def examples_uri(self) -> str:
    return self.uri("examples")

  @property
  def item_stats_uri(self) -> str:
    return self.uri("item_stats")

  def training_inputs(self) -> training.TrainingInputs:
    return training.TrainingInputs(
        train_files=[example_io.split_pattern(self.examples_uri, "train")],
        eval_files=[example_io.split_pattern(self.examples_uri, "eval")],
        item_catalog_uri=self.uri("item_catalog"),
        item_stats_uri=self.item_stats_uri,
        rebalanced_uri=self.uri("rebalanced_examples"))


def _artifact(cls, uri):
  a = cls()
  a.uri = uri
  os.makedirs(uri, exist_ok=True)
  return a


def prepare(data_dir: str, out_dir: str, head_fraction: float,
            seed: int = 0, data_format: str = "recbole",
            max_bad_rows: int = 0,
            reader_config: Optional[Dict] = None) -> PreparedData:
  """Leave-one-out examples, item catalog, item stats and Ω_r of data_dir."""
  root = os.path.join(out_dir, "artifacts")
  key = {"data_dir": os.path.abspath(data_dir),
         "fingerprint": example_gen_component.fingerprint(data_dir),
         "head_fraction": head_fraction, "seed": seed,
         "data_format": data_format, "max_bad_rows": max_bad_rows,
         "reader_config": reader_config or {}}
  marker = os.path.join(root, _MARKER)
  if os.path.exists(marker):
    with open(marker) as f:
      if json.load(f) == key:
        return PreparedData(root)
  shutil.rmtree(root, ignore_errors=True)
  prepared = PreparedData(root)
  examples = _artifact(standard_artifacts.Examples, prepared.examples_uri)
  catalog = _artifact(artifacts.ItemCatalog, prepared.uri("item_catalog"))
  stats = _artifact(artifacts.ItemStats, prepared.item_stats_uri)
  rebalanced = _artifact(standard_artifacts.Examples,
                         prepared.uri("rebalanced_examples"))
  context = example_gen.Executor.Context(beam_pipeline_args=_BEAM_ARGS)
  example_gen.Executor(context).Do(
      {}, {"examples": [examples], "item_catalog": [catalog]},
      {example_gen.DATA_DIR: data_dir, example_gen.SEED: seed,
       example_gen.DATA_FORMAT: data_format,
       example_gen.MAX_BAD_ROWS: max_bad_rows,
       example_gen.READER_CONFIG: json.dumps(reader_config or {})})
  item_stats.Executor(context).Do(
      {"examples": [examples], "item_catalog": [catalog]},
      {"item_stats": [stats], "rebalanced_examples": [rebalanced]},
      {item_stats.HEAD_FRACTION: head_fraction, item_stats.SEED: seed})
  with open(marker, "w") as f:
    json.dump(key, f)
  return prepared
