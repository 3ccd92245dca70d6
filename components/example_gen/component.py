"""LeaveOneOutExampleGen: RecBole atomic files -> train/eval/test tf.Examples.

Per user, the latest interaction is test, the second latest eval, the rest
train (ties broken by the item's first appearance in the log; users with
fewer than three interactions stay all in train). Each example carries the
user's and the item's features. A second output, the ItemCatalog, lists every
item with its content features: the Trainer indexes all of them, including
items no user touched in train.
"""

import hashlib
import os
from typing import Optional

from tfx.dsl.components.base import base_beam_component
from tfx.dsl.components.base import executor_spec
from tfx.types import channel
from tfx.types import component_spec
from tfx.types import standard_artifacts

from components import artifacts
from components.example_gen import executor


def fingerprint(data_dir: str) -> str:
  """Changes whenever a file in data_dir does, so caching never serves a
  stale split of edited data."""
  h = hashlib.sha256()
  for name in sorted(os.listdir(data_dir)):
    st = os.stat(os.path.join(data_dir, name))
    h.update(f"{name}|{st.st_size}|{st.st_mtime_ns}\n".encode())
  return h.hexdigest()


class LeaveOneOutExampleGenSpec(component_spec.ComponentSpec):
  PARAMETERS = {
      executor.DATA_DIR: component_spec.ExecutionParameter(type=str),
      executor.SEED: component_spec.ExecutionParameter(type=int),
      "input_fingerprint": component_spec.ExecutionParameter(type=str),
  }
  INPUTS = {}
  OUTPUTS = {
      "examples": component_spec.ChannelParameter(
          type=standard_artifacts.Examples),
      "item_catalog": component_spec.ChannelParameter(
          type=artifacts.ItemCatalog),
  }


class LeaveOneOutExampleGen(base_beam_component.BaseBeamComponent):
  """See the module docstring."""

  SPEC_CLASS = LeaveOneOutExampleGenSpec
  EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)

  def __init__(self, data_dir: str, seed: int = 0,
               input_fingerprint: Optional[str] = None):
    """Args:
      data_dir: folder with `<name>.inter` and optional `.item`, `.user`.
      seed: orders interactions of datasets without timestamps.
      input_fingerprint: defaults to a hash of the files' names, sizes and
        modification times, computed when the pipeline is built.
    """
    spec = LeaveOneOutExampleGenSpec(
        data_dir=data_dir, seed=seed,
        input_fingerprint=input_fingerprint or fingerprint(data_dir),
        examples=channel.Channel(type=standard_artifacts.Examples),
        item_catalog=channel.Channel(type=artifacts.ItemCatalog))
    super().__init__(spec=spec)
