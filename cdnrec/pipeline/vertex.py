"""Compiles the pipeline for Vertex AI Pipelines (or Kubeflow Pipelines v2)
with TFX's Kubeflow V2 runner: one JSON pipeline spec holding every
component, each run in the pipeline image (docker/pipeline/Dockerfile).

Paths are the cluster's, not this machine's: `gs://` URIs for the pipeline
root, the data and the serving folders. Beam components take
`beam_pipeline_args`, e.g. ["--runner=DataflowRunner", "--project=P",
"--region=R", "--temp_location=gs://B/tmp"], so Dataflow (or Flink, Spark)
runs them; Vertex AI provides the metadata store.
"""

import os
from typing import Any, Dict, List, Optional

from tfx import v1 as tfx

from cdnrec.pipeline import configs
from cdnrec.pipeline import pipeline as pipeline_lib

DEFAULT_IMAGE = "us-docker.pkg.dev/PROJECT/cdnrec/pipeline:latest"


def compile_pipeline(output_file: str, pipeline_root: str,
                     config: configs.PipelineConfig, serving_model_dir: str,
                     brute_force_model_dir: Optional[str] = None,
                     image: str = DEFAULT_IMAGE,
                     beam_pipeline_args: Optional[List[str]] = None
                     ) -> Dict[str, Any]:
  """Writes the pipeline spec to output_file; returns it as a dict.

  Raises:
    ConfigError: a setting of `config` is unknown or out of range.
  """
  pipeline = pipeline_lib.create_pipeline(
      pipeline_name=configs.PIPELINE_NAME,
      pipeline_root=pipeline_root,
      config=config,
      serving_model_dir=serving_model_dir,
      brute_force_model_dir=brute_force_model_dir,
      beam_pipeline_args=beam_pipeline_args)
  runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
      config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(
          default_image=image),
      output_dir=os.path.dirname(os.path.abspath(output_file)),
      output_filename=os.path.basename(output_file))
  return runner.run(pipeline, write_out=True)
