"""`cdnrec compile`: the pipeline spec for Vertex AI / Kubeflow Pipelines.
Shares `cdnrec run`'s settings and defaults; paths are the cluster's."""

import argparse

from cdnrec.cli import flags
from cdnrec.core.errors import ConfigError


def add_parser(sub, name: str) -> None:
  parser = sub.add_parser(name, help="write the pipeline spec for Vertex AI "
                          "/ Kubeflow Pipelines")
  parser.add_argument("--target", choices=["vertex"], default="vertex")
  parser.add_argument("--output", required=True,
                      help="pipeline.json to write")
  parser.add_argument("--pipeline-root",
                      default="gs://BUCKET/cdnrec/pipeline")
  parser.add_argument("--serving-dir", default="gs://BUCKET/cdnrec/serving",
                      help="the ScaNN model goes to DIR/cdnrec/<version>, "
                           "the brute-force one to "
                           "DIR/cdnrec_brute_force/<version>")
  parser.add_argument("--image", default=None,
                      help="the pipeline image (docker/pipeline/Dockerfile)")
  flags.add_data(parser, default="recbole",
                 data_dir="gs://BUCKET/cdnrec/data")
  flags.add_training(parser)
  flags.add_tuning(parser)
  flags.add_blessing(parser)
  flags.add_infra_validation(parser)
  flags.add_beam(parser)


def main(args: argparse.Namespace) -> int:
  if args.infra_validator == "docker":
    # A compiled pipeline's steps run in pods: no Docker engine there.
    raise ConfigError("--infra-validator docker: the steps of a compiled "
                      "pipeline run in pods with no Docker engine; use "
                      "--infra-validator kubernetes (Kubeflow Pipelines on "
                      "your cluster) or none")
  config = flags.pipeline_config(args)
  from cdnrec.pipeline import configs
  from cdnrec.pipeline import vertex
  serving = args.serving_dir.rstrip("/")
  spec = vertex.compile_pipeline(
      args.output, args.pipeline_root, config,
      serving_model_dir=f"{serving}/{configs.PIPELINE_NAME}",
      brute_force_model_dir=f"{serving}/{configs.PIPELINE_NAME}_brute_force",
      image=args.image or vertex.DEFAULT_IMAGE,
      beam_pipeline_args=args.beam_arg)
  tasks = sorted(spec["pipelineSpec"]["root"]["dag"]["tasks"])
  print(f"[cdnrec] wrote {args.output}: {len(tasks)} components "
        f"({', '.join(tasks)})")
  return 0
