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

from components.evaluator import blessing
from pipeline import configs
from pipeline import pipeline as pipeline_lib

DEFAULT_IMAGE = "us-docker.pkg.dev/PROJECT/cdnrec/pipeline:latest"


def compile_pipeline(output_file: str, pipeline_root: str, data_dir: str,
                     serving_model_dir: str, image: str = DEFAULT_IMAGE,
                     brute_force_model_dir: Optional[str] = None,
                     train_config: Optional[Dict[str, Any]] = None,
                     baseline_train_config: Optional[Dict[str, Any]] = None,
                     data_format: str = "recbole",
                     beam_pipeline_args: Optional[List[str]] = None,
                     thresholds: Optional[blessing.Thresholds] = None,
                     warm_start: bool = False,
                     **pipeline_options) -> Dict[str, Any]:
  """Writes the pipeline spec to output_file; returns it as a dict."""
  pipeline = pipeline_lib.create_pipeline(
      pipeline_name=configs.PIPELINE_NAME,
      pipeline_root=pipeline_root,
      data_dir=data_dir,
      serving_model_dir=serving_model_dir,
      brute_force_model_dir=brute_force_model_dir,
      run_fn=configs.RUN_FN,
      train_config=train_config,
      baseline_train_config=baseline_train_config,
      data_format=data_format,
      beam_pipeline_args=beam_pipeline_args,
      thresholds=thresholds,
      warm_start=warm_start,
      **pipeline_options)
  runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
      config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(
          default_image=image),
      output_dir=os.path.dirname(os.path.abspath(output_file)),
      output_filename=os.path.basename(output_file))
  return runner.run(pipeline, write_out=True)
