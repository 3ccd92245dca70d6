"""Runs the pipeline's data components once per dataset for experiments.

The same executors as the TFX pipeline (LeaveOneOutExampleGen, ItemStatsGen)
write their artifacts under `<out>/artifacts/` (components/local.py); a
marker written last says they are complete, so an interrupted preparation is
redone, never reused.
"""

import dataclasses
import json
import os
import shutil
from typing import Dict, Optional

from cdnrec.components import local
from cdnrec.components.example_gen import component as example_gen_component
from cdnrec.core import example_io
from cdnrec.models import training

_MARKER = "COMPLETE.json"


@dataclasses.dataclass(frozen=True)
class PreparedData(local.DataArtifacts):
  """The data components' outputs, as training reads them."""

  @property
  def examples_uri(self) -> str:
    return self.uri("examples")

  @property
  def item_stats_uri(self) -> str:
    return self.uri("item_stats")

  def data_key(self) -> str:
    """What the artifacts were prepared from (the data's fingerprint and
    the reading settings), as written by prepare."""
    with open(os.path.join(self.root, _MARKER)) as f:
      return f.read()

  def training_inputs(self) -> training.TrainingInputs:
    return training.TrainingInputs(
        train_files=[example_io.split_pattern(self.examples_uri, "train")],
        eval_files=[example_io.split_pattern(self.examples_uri, "eval")],
        item_catalog_uri=self.uri("item_catalog"),
        item_stats_uri=self.item_stats_uri,
        rebalanced_uri=self.uri("rebalanced_examples"),
        examples_uri=self.examples_uri)


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
  local.run_data_components(root, data_dir, head_fraction, seed=seed,
                            data_format=data_format,
                            max_bad_rows=max_bad_rows,
                            reader_config=reader_config)
  with open(marker, "w") as f:
    json.dump(key, f)
  return PreparedData(root)
