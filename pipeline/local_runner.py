"""Runs the pipeline on the embedded default: LocalDagRunner, SQLite
metadata, Beam's DirectRunner."""

import dataclasses
import os
from typing import Any, Dict, List, Optional

from tfx import v1 as tfx

from components.evaluator import blessing
from pipeline import configs
from pipeline import pipeline as pipeline_lib
from pipeline import progress


@dataclasses.dataclass(frozen=True)
class LocalPaths:
  """Where a local run keeps everything, under one output folder."""
  output_dir: str

  @property
  def pipeline_root(self) -> str:
    return os.path.join(self.output_dir, "pipeline")

  @property
  def metadata_path(self) -> str:
    return os.path.join(self.output_dir, "metadata.sqlite")

  @property
  def serving_model_dir(self) -> str:
    """ScaNN variant; a TF Serving model_base_path."""
    return os.path.join(self.output_dir, "serving", configs.PIPELINE_NAME)

  @property
  def brute_force_model_dir(self) -> str:
    """Brute-force variant (stock TF ops)."""
    return os.path.join(self.output_dir, "serving",
                        f"{configs.PIPELINE_NAME}_brute_force")


def run(output_dir: str, data_dir: str,
        train_config: Optional[Dict[str, Any]] = None,
        head_fraction: float = configs.HEAD_FRACTION, top_k: int = 50,
        seed: int = configs.SEED, data_format: str = "recbole",
        max_bad_rows: int = 0, reader_config: Optional[Dict] = None,
        schema_path: Optional[str] = None,
        features: Optional[Dict[str, List[str]]] = None,
        beam_pipeline_args: Optional[List[str]] = None,
        enable_cache: bool = True,
        thresholds: Optional[blessing.Thresholds] = None,
        baseline_train_config: Optional[Dict[str, Any]] = None,
        keep_versions: int = 5, warm_start: bool = False) -> LocalPaths:
  paths = LocalPaths(os.path.abspath(output_dir))
  os.makedirs(paths.output_dir, exist_ok=True)
  pipeline = pipeline_lib.create_pipeline(
      pipeline_name=configs.PIPELINE_NAME,
      pipeline_root=paths.pipeline_root,
      data_dir=os.path.abspath(data_dir),
      serving_model_dir=paths.serving_model_dir,
      run_fn=configs.RUN_FN,
      train_config=train_config,
      head_fraction=head_fraction,
      top_k=top_k,
      seed=seed,
      data_format=data_format,
      max_bad_rows=max_bad_rows,
      reader_config=reader_config,
      schema_path=schema_path,
      features=features,
      beam_pipeline_args=beam_pipeline_args or configs.BEAM_PIPELINE_ARGS,
      metadata_connection_config=(
          tfx.orchestration.metadata.sqlite_metadata_connection_config(
              paths.metadata_path)),
      enable_cache=enable_cache,
      brute_force_model_dir=paths.brute_force_model_dir,
      thresholds=thresholds,
      baseline_train_config=baseline_train_config,
      keep_versions=keep_versions,
      warm_start=warm_start)
  with progress.component_progress():
    tfx.orchestration.LocalDagRunner().run(pipeline)
  return paths


if __name__ == "__main__":
  import sys
  run(sys.argv[1], sys.argv[2])
