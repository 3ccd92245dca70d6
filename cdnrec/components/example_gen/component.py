"""LeaveOneOutExampleGen: a dataset -> train/eval/test tf.Examples.

The dataset is read by the reader `data_format` names (MovieLens, Book-
Crossing, RecBole atomic files, TFDS, any table) and checked; bad rows fail
the run unless `max_bad_rows` tolerates them.

Per user, the latest interaction is test, the second latest eval, the rest
train (ties broken by the item's first appearance in the log; users with
fewer than three interactions stay all in train). Each example carries the
user's and the item's features. A second output, the ItemCatalog, lists every
item with its content features: the Trainer indexes all of them, including
items no user touched in train. A third output, `statistics_examples`, holds
every example of a seeded sample of users, about `statistics_sample_size`
in all, for StatisticsGen (the whole data when it is no bigger).
"""

import hashlib
import json
import os
from typing import Dict, Optional

from tfx.dsl.components.base import base_beam_component
from tfx.dsl.components.base import executor_spec
from tfx.types import channel
from tfx.types import component_spec
from tfx.types import standard_artifacts

from cdnrec.components.example_gen import executor
from cdnrec.core import artifacts


def fingerprint(data_dir: str) -> str:
  """Changes whenever a file under data_dir does, so caching never serves a
  stale split of edited data. A remote folder (gs://...) compiled for a
  cluster is not listed here: its runs are fingerprinted by the
  orchestrator's own caching, empty here."""
  if "://" in data_dir:
    return ""
  if not os.path.isdir(data_dir):
    raise FileNotFoundError(f"{data_dir}: no such data directory")
  h = hashlib.sha256()
  for dirpath, dirnames, files in os.walk(data_dir):
    dirnames.sort()
    for name in sorted(files):
      path = os.path.join(dirpath, name)
      st = os.stat(path)
      rel = os.path.relpath(path, data_dir)
      h.update(f"{rel}|{st.st_size}|{st.st_mtime_ns}\n".encode())
  return h.hexdigest()


class LeaveOneOutExampleGenSpec(component_spec.ComponentSpec):
  PARAMETERS = {
      executor.DATA_DIR: component_spec.ExecutionParameter(type=str),
      executor.SEED: component_spec.ExecutionParameter(type=int),
      executor.DATA_FORMAT: component_spec.ExecutionParameter(type=str),
      executor.MAX_BAD_ROWS: component_spec.ExecutionParameter(type=int),
      executor.READER_CONFIG: component_spec.ExecutionParameter(type=str),
      executor.FEATURES: component_spec.ExecutionParameter(type=str),
      executor.STATISTICS_SAMPLE_SIZE: component_spec.ExecutionParameter(
          type=int),
      "input_fingerprint": component_spec.ExecutionParameter(type=str),
  }
  INPUTS = {}
  OUTPUTS = {
      "examples": component_spec.ChannelParameter(
          type=standard_artifacts.Examples),
      "item_catalog": component_spec.ChannelParameter(
          type=artifacts.ItemCatalog),
      executor.STATISTICS_EXAMPLES: component_spec.ChannelParameter(
          type=standard_artifacts.Examples),
  }


class LeaveOneOutExampleGen(base_beam_component.BaseBeamComponent):
  """See the module docstring."""

  SPEC_CLASS = LeaveOneOutExampleGenSpec
  EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)

  def __init__(self, data_dir: str, seed: int = 0,
               data_format: str = "recbole", max_bad_rows: int = 0,
               reader_config: Optional[Dict] = None,
               features: Optional[Dict] = None,
               input_fingerprint: Optional[str] = None,
               statistics_sample_size: int = (
                   executor.DEFAULT_STATISTICS_SAMPLE_SIZE)):
    """Args:
      data_dir: the dataset's folder, in the layout data_format names.
      seed: orders interactions of datasets without timestamps.
      data_format: a reader of cdnrec.data.readers (movielens-1m,
        bookcrossing, recbole, table, ...).
      max_bad_rows: malformed or dangling rows to skip before failing.
      reader_config: the table mapping, or {"dataset": ...} for tfds.
      features: {"user": [columns], "item": [columns]} to keep instead of
        every column of the user / item file.
      input_fingerprint: defaults to a hash of the files' names, sizes and
        modification times, computed when the pipeline is built.
      statistics_sample_size: about how many examples the second Examples
        output, `statistics_examples`, holds for StatisticsGen: every
        example of a seeded sample of users (all users of a smaller log).
    """
    if statistics_sample_size < 1:
      raise ValueError(f"statistics_sample_size must be >= 1, got "
                       f"{statistics_sample_size}")
    spec = LeaveOneOutExampleGenSpec(
        data_dir=data_dir, seed=seed, data_format=data_format,
        max_bad_rows=max_bad_rows,
        reader_config=json.dumps(reader_config or {}, sort_keys=True),
        features=json.dumps(features or {}, sort_keys=True),
        input_fingerprint=input_fingerprint or fingerprint(data_dir),
        statistics_sample_size=statistics_sample_size,
        examples=channel.Channel(type=standard_artifacts.Examples),
        item_catalog=channel.Channel(type=artifacts.ItemCatalog),
        **{executor.STATISTICS_EXAMPLES: channel.Channel(
            type=standard_artifacts.Examples)})
    super().__init__(spec=spec)
