"""The data components' executors run in this process, outside any
orchestrator: for `cdnrec experiment`, the benchmarks and the tests.

They are the very executors the TFX pipeline runs (LeaveOneOutExampleGen,
ItemStatsGen), given artifacts whose URIs are folders under one root.
"""

import dataclasses
import json
import os
from typing import Any, List, Mapping, Optional, Sequence, Tuple

import apache_beam as beam
from tfx.dsl.components.base import base_beam_executor
from tfx.types import artifact as artifact_lib
from tfx.types import standard_artifacts

from cdnrec.components.example_gen import executor as example_gen
from cdnrec.components.item_stats import executor as item_stats
from cdnrec.core import artifacts
from cdnrec.core import example_io

# One in-memory worker: starting worker processes (each importing
# TensorFlow) costs more than it saves on data of a test's or an
# experiment's size.
IN_MEMORY_BEAM_ARGS = ("--direct_running_mode=in_memory",
                       "--direct_num_workers=1")


def artifact(cls, uri: str) -> artifact_lib.Artifact:
  """An artifact of type `cls` at `uri` (created)."""
  a = cls()
  a.uri = uri
  os.makedirs(uri, exist_ok=True)
  return a


@dataclasses.dataclass(frozen=True)
class DataArtifacts:
  """The data components' outputs under `root`."""
  root: str

  def uri(self, name: str) -> str:
    return os.path.join(self.root, name)

  @property
  def examples(self) -> artifact_lib.Artifact:
    return _existing(standard_artifacts.Examples, self.uri("examples"))

  @property
  def item_catalog(self) -> artifact_lib.Artifact:
    return _existing(artifacts.ItemCatalog, self.uri("item_catalog"))

  @property
  def item_stats(self) -> artifact_lib.Artifact:
    return _existing(artifacts.ItemStats, self.uri("item_stats"))

  @property
  def rebalanced_examples(self) -> artifact_lib.Artifact:
    return _existing(standard_artifacts.Examples,
                     self.uri("rebalanced_examples"))

  def split_pattern(self, split: str) -> str:
    return example_io.split_pattern(self.uri("examples"), split)


def _existing(cls, uri: str) -> artifact_lib.Artifact:
  a = cls()
  a.uri = uri
  return a


def _context(beam_args: Sequence[str], tmp_dir: Optional[str]):
  # The pipeline is made here rather than from beam_pipeline_args: given
  # args, TFX's executor first repackages TFX as an sdist for remote workers
  # (seconds per executor), which a run on this machine never ships.
  return base_beam_executor.BaseBeamExecutor.Context(
      make_beam_pipeline_fn=lambda: beam.Pipeline(argv=list(beam_args)),
      tmp_dir=tmp_dir)


def run_example_gen(out: DataArtifacts, data_dir: str, seed: int = 0,
                    data_format: str = "recbole", max_bad_rows: int = 0,
                    reader_config: Optional[Mapping[str, Any]] = None,
                    features: Optional[Mapping[str, List[str]]] = None,
                    beam_args: Sequence[str] = IN_MEMORY_BEAM_ARGS,
                    statistics_sample_size: int = (
                        example_gen.DEFAULT_STATISTICS_SAMPLE_SIZE)
                    ) -> Tuple[artifact_lib.Artifact, artifact_lib.Artifact,
                               artifact_lib.Artifact]:
  """LeaveOneOutExampleGen's executor; returns the (examples, item catalog,
  statistics sample) artifacts it wrote, with the properties it set."""
  examples = artifact(standard_artifacts.Examples, out.uri("examples"))
  catalog = artifact(artifacts.ItemCatalog, out.uri("item_catalog"))
  sample = artifact(standard_artifacts.Examples,
                    out.uri("statistics_examples"))
  example_gen.Executor(_context(beam_args, out.uri("tmp"))).Do(
      {}, {"examples": [examples], "item_catalog": [catalog],
           example_gen.STATISTICS_EXAMPLES: [sample]},
      {example_gen.DATA_DIR: data_dir, example_gen.SEED: seed,
       example_gen.DATA_FORMAT: data_format,
       example_gen.MAX_BAD_ROWS: max_bad_rows,
       example_gen.READER_CONFIG: json.dumps(dict(reader_config or {}),
                                             sort_keys=True),
       example_gen.FEATURES: json.dumps(dict(features or {}),
                                        sort_keys=True),
       example_gen.STATISTICS_SAMPLE_SIZE: statistics_sample_size})
  return examples, catalog, sample


def run_item_stats(out: DataArtifacts, head_fraction: float, seed: int = 0,
                   beam_args: Sequence[str] = IN_MEMORY_BEAM_ARGS,
                   examples_uri: Optional[str] = None,
                   item_catalog_uri: Optional[str] = None
                   ) -> Tuple[artifact_lib.Artifact, artifact_lib.Artifact]:
  """ItemStatsGen's executor over `out`'s examples and catalog (or the
  ones given); returns the (item stats, Ω_r) artifacts it wrote, with the
  properties it set."""
  examples = _existing(standard_artifacts.Examples,
                       examples_uri or out.uri("examples"))
  catalog = _existing(artifacts.ItemCatalog,
                      item_catalog_uri or out.uri("item_catalog"))
  stats = artifact(artifacts.ItemStats, out.uri("item_stats"))
  rebalanced = artifact(standard_artifacts.Examples,
                        out.uri("rebalanced_examples"))
  item_stats.Executor(_context(beam_args, out.uri("tmp"))).Do(
      {"examples": [examples], "item_catalog": [catalog]},
      {"item_stats": [stats], "rebalanced_examples": [rebalanced]},
      {item_stats.HEAD_FRACTION: head_fraction, item_stats.SEED: seed})
  return stats, rebalanced


def run_data_components(root: str, data_dir: str, head_fraction: float,
                        seed: int = 0, **example_gen_options: Any
                        ) -> DataArtifacts:
  """ExampleGen then ItemStatsGen; `example_gen_options` as run_example_gen."""
  out = DataArtifacts(root)
  run_example_gen(out, data_dir, seed=seed, **example_gen_options)
  beam_args = example_gen_options.get("beam_args", IN_MEMORY_BEAM_ARGS)
  run_item_stats(out, head_fraction, seed=seed, beam_args=beam_args)
  return out

