"""Runs the pipeline on the embedded default: LocalDagRunner, SQLite
metadata, Beam's DirectRunner. Returns what the run pushed."""

import dataclasses
import os
from typing import List, Optional

from tfx import v1 as tfx

from cdnrec.core.errors import ConfigError
from cdnrec.pipeline import configs
from cdnrec.pipeline import outcome
from cdnrec.pipeline import pipeline as pipeline_lib
from cdnrec.pipeline import progress


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


def check_infra_validation(settings: configs.InfraValidationConfig) -> None:
  """ConfigError, before any work, when InfraValidator cannot start TF
  Serving from this machine: no Docker engine answers, or this process is
  not inside a Kubernetes cluster."""
  if settings.platform == "docker":
    try:
      import docker  # TFX's InfraValidator talks to the engine with it
      docker.from_env(timeout=5).ping()
    except Exception as e:  # pylint: disable=broad-except
      # Any failure means the same to the user: no engine to start TF
      # Serving in; the message carries the cause.
      cause = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
      raise ConfigError(
          f"--infra-validator docker: no Docker engine answers here "
          f"({cause}); start one, or use --infra-validator none") from None
  elif settings.platform == "kubernetes" and not os.environ.get(
      "KUBERNETES_SERVICE_HOST"):
    raise ConfigError(
        "--infra-validator kubernetes starts TF Serving in a pod of the "
        "cluster the pipeline runs in, and this run is not inside one; use "
        "it in a compiled pipeline (cdnrec compile), or use "
        "--infra-validator docker or none")


def run(output_dir: str, config: configs.PipelineConfig,
        beam_pipeline_args: Optional[List[str]] = None,
        enable_cache: bool = True) -> outcome.RunOutcome:
  """Runs the whole pipeline under `output_dir`.

  Raises:
    ConfigError: a setting of `config` is unknown or out of range (before
      any component runs).
  """
  paths = LocalPaths(os.path.abspath(output_dir))
  config = dataclasses.replace(config, data=dataclasses.replace(
      config.data, data_dir=os.path.abspath(config.data.data_dir)))
  pipeline = pipeline_lib.create_pipeline(
      pipeline_name=configs.PIPELINE_NAME,
      pipeline_root=paths.pipeline_root,
      config=config,
      serving_model_dir=paths.serving_model_dir,
      brute_force_model_dir=paths.brute_force_model_dir,
      beam_pipeline_args=beam_pipeline_args or configs.BEAM_PIPELINE_ARGS,
      metadata_connection_config=(
          tfx.orchestration.metadata.sqlite_metadata_connection_config(
              paths.metadata_path)),
      enable_cache=enable_cache)
  os.makedirs(paths.output_dir, exist_ok=True)
  with progress.component_progress():
    tfx.orchestration.LocalDagRunner().run(pipeline)
  return outcome.read(paths.metadata_path, configs.PIPELINE_NAME,
                      paths.serving_model_dir)
