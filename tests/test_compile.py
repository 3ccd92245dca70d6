"""`cdnrec compile --target vertex` writes a Kubeflow V2 pipeline spec
holding every component, with Beam args passed through."""

import json

from cdnrec import cli
EXPECTED = {"LeaveOneOutExampleGen", "StatisticsGen", "SchemaGen",
            "ExampleValidator", "AnomaliesCheck", "ItemStatsGen",
            "CdnTrainer", "BaselineTrainer", "RetrievalEvaluator",
            "VersionedPusher"}


def test_vertex_spec_holds_every_component(tmp_path):
  output = str(tmp_path / "pipeline.json")
  assert cli.main(
      ["compile", "--target", "vertex",
       "--output", output, "--image", "example.com/cdnrec:1",
       "--pipeline-root", "gs://bucket/root", "--data-dir", "gs://bucket/data",
       "--warm-start",
       "--beam-arg=--runner=DataflowRunner",
       "--beam-arg=--region=europe-west4"]) == 0
  with open(output) as f:
    spec = json.load(f)
  pipeline = spec["pipelineSpec"]
  tasks = set(pipeline["root"]["dag"]["tasks"])
  assert EXPECTED <= tasks
  # The resolver of the last blessed model feeds the evaluator and, with
  # --warm-start, the Trainer.
  assert any(t.startswith("last_blessed_model") for t in tasks)
  assert spec["runtimeConfig"]["gcsOutputDirectory"] == "gs://bucket/root"
  executors = pipeline["deploymentSpec"]["executors"]
  images = {e["container"]["image"] for e in executors.values()
            if "container" in e}
  assert images == {"example.com/cdnrec:1"}
  beam = [e for name, e in executors.items() if "ItemStatsGen" in name]
  args = " ".join(beam[0]["container"]["args"])
  assert "--runner=DataflowRunner" in args and "--region=europe-west4" in args
  trainer = pipeline["root"]["dag"]["tasks"]["CdnTrainer"]
  assert "base_model" in trainer["inputs"]["artifacts"]
