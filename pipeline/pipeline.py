"""The CDN retrieval pipeline as one pure function.

ExampleGen (leave-one-out) -> StatisticsGen -> SchemaGen -> ExampleValidator
                           -> AnomaliesCheck (fails the run on anomalies)
                           -> ItemStatsGen (Beam: frequencies, head/tail, Ω_r)
                           -> CdnTrainer -> RetrievalEvaluator -> VersionedPusher
A resolver finds the model last blessed: the evaluator compares against it
(or, before there is one, against an optional baseline Trainer of the same
run), and with warm_start the Trainer starts from its weights.
No paths or orchestrator are hard-coded: runners pass them in.
"""

from typing import Any, Dict, List, Optional

from tfx import v1 as tfx
from ml_metadata.proto import metadata_store_pb2

from components.anomalies import AnomaliesCheck
from components.evaluator import RetrievalEvaluator
from components.evaluator import blessing
from components.example_gen import LeaveOneOutExampleGen
from components.item_stats import ItemStatsGen
from components.pusher import VersionedPusher
from components.trainer import CdnTrainer


def create_pipeline(
    pipeline_name: str,
    pipeline_root: str,
    data_dir: str,
    serving_model_dir: str,
    run_fn: str,
    train_config: Optional[Dict[str, Any]] = None,
    head_fraction: float = 0.2,
    top_k: int = 50,
    seed: int = 0,
    data_format: str = "recbole",
    max_bad_rows: int = 0,
    reader_config: Optional[Dict[str, Any]] = None,
    schema_path: Optional[str] = None,
    features: Optional[Dict[str, List[str]]] = None,
    beam_pipeline_args: Optional[List[str]] = None,
    metadata_connection_config: Optional[
        metadata_store_pb2.ConnectionConfig] = None,
    enable_cache: bool = True,
    brute_force_model_dir: Optional[str] = None,
    thresholds: Optional[blessing.Thresholds] = None,
    baseline_train_config: Optional[Dict[str, Any]] = None,
    keep_versions: int = 5,
    warm_start: bool = False,
) -> tfx.dsl.Pipeline:
  """Builds the pipeline.

  Args:
    pipeline_name: name in ML Metadata.
    pipeline_root: where artifacts are written.
    data_dir: the dataset's folder, in the layout data_format names.
    serving_model_dir: the Pusher writes `<serving_model_dir>/<version>/`.
    run_fn: dotted path of the Trainer's run_fn.
    train_config: models.config.TrainConfig fields.
    head_fraction: share of items that are head.
    top_k: K of the HR@K / NDCG@K evaluation.
    seed: seeds splits without timestamps and the Ω_r down-sampling.
    data_format: reader of cdnrec.data.readers (recbole, movielens-1m, ...).
    max_bad_rows: malformed or dangling input rows to skip before failing.
    reader_config: table mapping, or {"dataset": ...} for tfds.
    schema_path: a curated schema.pbtxt to validate against; None infers
      one from the data (SchemaGen).
    features: {"user": [...], "item": [...]} columns to use as features
      instead of all (the paper's Table 7 for the bundled readers).
    beam_pipeline_args: passed to every Beam-based component.
    metadata_connection_config: ML Metadata store; None lets the runner
      decide (Kubeflow/Vertex provide their own).
    enable_cache: reuse outputs of unchanged components.
    brute_force_model_dir: where the brute-force variant (stock TF ops) is
      pushed, `<dir>/<version>/`; None pushes only the ScaNN one.
    thresholds: the blessing bars (components/evaluator/blessing.py).
    baseline_train_config: TrainConfig fields of a baseline model trained
      in the same run; the first model is compared against it (later ones
      against the model last blessed).
    keep_versions: pushed versions to keep in each serving folder.
    warm_start: start training from the last blessed model's weights.
  """
  example_gen = LeaveOneOutExampleGen(
      data_dir=data_dir, seed=seed, data_format=data_format,
      max_bad_rows=max_bad_rows, reader_config=reader_config,
      features=features)
  statistics_gen = tfx.components.StatisticsGen(
      examples=example_gen.outputs["examples"])
  if schema_path:
    schema_gen = tfx.components.ImportSchemaGen(schema_file=schema_path)
  else:
    schema_gen = tfx.components.SchemaGen(
        statistics=statistics_gen.outputs["statistics"],
        infer_feature_shape=False)
  example_validator = tfx.components.ExampleValidator(
      statistics=statistics_gen.outputs["statistics"],
      schema=schema_gen.outputs["schema"])
  anomalies_check = AnomaliesCheck(
      anomalies=example_validator.outputs["anomalies"])
  item_stats = ItemStatsGen(
      examples=example_gen.outputs["examples"],
      item_catalog=example_gen.outputs["item_catalog"],
      head_fraction=head_fraction, seed=seed)
  last_blessed = tfx.dsl.Resolver(
      strategy_class=tfx.dsl.experimental.LatestBlessedModelStrategy,
      model=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
      model_blessing=tfx.dsl.Channel(
          type=tfx.types.standard_artifacts.ModelBlessing),
  ).with_id("last_blessed_model")

  def make_trainer(config, component_id=None):
    trainer = CdnTrainer(
        examples=example_gen.outputs["examples"],
        schema=schema_gen.outputs["schema"],
        item_catalog=example_gen.outputs["item_catalog"],
        item_stats=item_stats.outputs["item_stats"],
        rebalanced_examples=item_stats.outputs["rebalanced_examples"],
        base_model=(last_blessed.outputs["model"]
                    if warm_start and not component_id else None),
        run_fn=run_fn,
        custom_config=config or {})
    # No model is trained on data that breaks the schema.
    trainer.add_upstream_node(anomalies_check)
    return trainer.with_id(component_id) if component_id else trainer

  trainer = make_trainer(train_config)
  baseline = (make_trainer(baseline_train_config, "BaselineTrainer")
              if baseline_train_config is not None else None)
  evaluator = RetrievalEvaluator(
      examples=example_gen.outputs["examples"],
      model=trainer.outputs["model"],
      item_stats=item_stats.outputs["item_stats"], k=top_k,
      thresholds=thresholds,
      last_blessed_model=last_blessed.outputs["model"],
      baseline_model=baseline.outputs["model"] if baseline else None)
  pusher = VersionedPusher(
      model=trainer.outputs["model"],
      model_blessing=evaluator.outputs["blessing"],
      scann_directory=serving_model_dir,
      brute_force_directory=brute_force_model_dir,
      keep_versions=keep_versions)

  return tfx.dsl.Pipeline(
      pipeline_name=pipeline_name,
      pipeline_root=pipeline_root,
      components=[example_gen, statistics_gen, schema_gen, example_validator,
                  anomalies_check, item_stats, last_blessed, trainer] +
      ([baseline] if baseline else []) + [evaluator, pusher],
      enable_cache=enable_cache,
      metadata_connection_config=metadata_connection_config,
      beam_pipeline_args=beam_pipeline_args)
