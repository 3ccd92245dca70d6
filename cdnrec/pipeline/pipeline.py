"""The CDN retrieval pipeline as one pure function.

ExampleGen (leave-one-out) -> StatisticsGen (a sample of users) -> SchemaGen
                           -> ExampleValidator
                           -> AnomaliesCheck (fails the run on anomalies)
                           -> ItemStatsGen (Beam: frequencies, head/tail, Ω_r)
                           [-> CdnTuner, or an Importer of its output]
                           -> CdnTrainer -> RetrievalEvaluator
                           [-> InfraValidator] -> VersionedPusher
A resolver finds the model last blessed: the evaluator compares against it
(or, before there is one, against an optional baseline Trainer of the same
run), and with warm_start the Trainer starts from its weights.
No paths or orchestrator are hard-coded: runners pass them in.
"""

from typing import List, Optional

from tfx import v1 as tfx
from ml_metadata.proto import metadata_store_pb2

from cdnrec.components.anomalies import AnomaliesCheck
from cdnrec.components.evaluator import RetrievalEvaluator
from cdnrec.components.example_gen import LeaveOneOutExampleGen
from cdnrec.components.infra_validator import ServingInfraValidator
from cdnrec.components.item_stats import ItemStatsGen
from cdnrec.components.pusher import VersionedPusher
from cdnrec.components.trainer import CdnTrainer
from cdnrec.components.tuner import CdnTuner
from cdnrec.pipeline import configs


def create_pipeline(
    pipeline_name: str,
    pipeline_root: str,
    config: configs.PipelineConfig,
    serving_model_dir: str,
    brute_force_model_dir: Optional[str] = None,
    run_fn: str = configs.RUN_FN,
    beam_pipeline_args: Optional[List[str]] = None,
    metadata_connection_config: Optional[
        metadata_store_pb2.ConnectionConfig] = None,
    enable_cache: bool = True,
) -> tfx.dsl.Pipeline:
  """Builds the pipeline.

  Args:
    pipeline_name: name in ML Metadata.
    pipeline_root: where artifacts are written.
    config: what the run reads, trains, judges and keeps; validated here.
    serving_model_dir: the Pusher writes `<serving_model_dir>/<version>/`.
    brute_force_model_dir: where the brute-force variant (stock TF ops) is
      pushed, `<dir>/<version>/`; None pushes only the ScaNN one.
    run_fn: dotted path of the Trainer's run_fn.
    beam_pipeline_args: passed to every Beam-based component.
    metadata_connection_config: ML Metadata store; None lets the runner
      decide (Kubeflow/Vertex provide their own).
    enable_cache: reuse outputs of unchanged components.

  Raises:
    ConfigError: a setting of `config` is unknown or out of range.
  """
  config.validate()
  data = config.data
  example_gen = LeaveOneOutExampleGen(
      data_dir=data.data_dir, seed=data.seed, data_format=data.data_format,
      max_bad_rows=data.max_bad_rows, reader_config=dict(data.reader_config),
      features={side: list(columns)
                for side, columns in (data.features or {}).items()})
  # Statistics, schema and validation see a bounded sample of users: TFDV
  # decodes every example it is given, even when it samples.
  statistics_gen = tfx.components.StatisticsGen(
      examples=example_gen.outputs["statistics_examples"])
  if data.schema_path:
    schema_gen = tfx.components.ImportSchemaGen(schema_file=data.schema_path)
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
      head_fraction=data.resolved_head_fraction, seed=data.seed)
  last_blessed = tfx.dsl.Resolver(
      strategy_class=tfx.dsl.experimental.LatestBlessedModelStrategy,
      model=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
      model_blessing=tfx.dsl.Channel(
          type=tfx.types.standard_artifacts.ModelBlessing),
  ).with_id("last_blessed_model")

  tuner = (CdnTuner(
      examples=example_gen.outputs["examples"],
      item_catalog=example_gen.outputs["item_catalog"],
      item_stats=item_stats.outputs["item_stats"],
      rebalanced_examples=item_stats.outputs["rebalanced_examples"],
      train=config.train, tune=config.tune, k=config.eval_k)
           if config.tune is not None else None)
  if tuner:
    # No search runs on data that breaks the schema.
    tuner.add_upstream_node(anomalies_check)
  importer = (tfx.dsl.Importer(
      source_uri=config.hyperparameters_dir,
      artifact_type=tfx.types.standard_artifacts.HyperParameters
  ).with_id("hyperparameters_importer")
              if config.hyperparameters_dir else None)
  tuned = (tuner.outputs["best_hyperparameters"] if tuner else
           importer.outputs["result"] if importer else None)

  def make_trainer(train_config, component_id=None):
    trainer = CdnTrainer(
        examples=example_gen.outputs["examples"],
        schema=schema_gen.outputs["schema"],
        item_catalog=example_gen.outputs["item_catalog"],
        item_stats=item_stats.outputs["item_stats"],
        rebalanced_examples=item_stats.outputs["rebalanced_examples"],
        base_model=(last_blessed.outputs["model"]
                    if config.warm_start and not component_id else None),
        # The baseline keeps its own defaults: it is the bar, not tuned.
        hyperparameters=tuned if not component_id else None,
        run_fn=run_fn,
        custom_config=train_config.to_dict())
    # No model is trained on data that breaks the schema.
    trainer.add_upstream_node(anomalies_check)
    return trainer.with_id(component_id) if component_id else trainer

  trainer = make_trainer(config.train)
  baseline = (make_trainer(config.baseline, "BaselineTrainer")
              if config.baseline is not None else None)
  evaluator = RetrievalEvaluator(
      examples=example_gen.outputs["examples"],
      model=trainer.outputs["model"],
      item_stats=item_stats.outputs["item_stats"], k=config.eval_k,
      thresholds=config.thresholds, max_queries=config.eval_users,
      seed=config.data.seed,
      last_blessed_model=last_blessed.outputs["model"],
      baseline_model=baseline.outputs["model"] if baseline else None)
  infra_validator = (_infra_validator(config.infra_validation, trainer,
                                      example_gen)
                     if config.infra_validation.enabled else None)
  if infra_validator:
    # Only a model the Evaluator has judged is started in TF Serving.
    infra_validator.add_upstream_node(evaluator)
  pusher = VersionedPusher(
      model=trainer.outputs["model"],
      model_blessing=evaluator.outputs["blessing"],
      infra_blessing=(infra_validator.outputs["blessing"]
                      if infra_validator else None),
      scann_directory=serving_model_dir,
      brute_force_directory=brute_force_model_dir,
      keep_versions=config.keep_versions)

  return tfx.dsl.Pipeline(
      pipeline_name=pipeline_name,
      pipeline_root=pipeline_root,
      components=[example_gen, statistics_gen, schema_gen, example_validator,
                  anomalies_check, item_stats, last_blessed] +
      ([tuner] if tuner else []) + ([importer] if importer else []) +
      [trainer] +
      ([baseline] if baseline else []) + [evaluator] +
      ([infra_validator] if infra_validator else []) + [pusher],
      enable_cache=enable_cache,
      metadata_connection_config=metadata_connection_config,
      beam_pipeline_args=beam_pipeline_args)


def _infra_validator(settings: configs.InfraValidationConfig, trainer,
                     example_gen) -> ServingInfraValidator:
  """TFX's InfraValidator over the Trainer's ScaNN SavedModel: TF Serving
  (with the ScaNN ops) in Docker or a Kubernetes pod must load it and
  answer predict requests built from eval examples (serving_default takes
  serialized tf.Examples)."""
  image, _, tag = settings.image.rpartition(":")
  platform = ({"local_docker": tfx.proto.LocalDockerConfig()}
              if settings.platform == "docker" else
              {"kubernetes": tfx.proto.KubernetesConfig()})
  return ServingInfraValidator(
      model=trainer.outputs["model"],
      examples=example_gen.outputs["examples"],
      serving_spec=tfx.proto.ServingSpec(
          tensorflow_serving=tfx.proto.TensorFlowServing(
              image_name=image, tags=[tag]),
          model_name=configs.PIPELINE_NAME, **platform),
      validation_spec=tfx.proto.ValidationSpec(
          max_loading_time_seconds=settings.max_loading_time_seconds,
          num_tries=settings.num_tries),
      request_spec=tfx.proto.RequestSpec(
          tensorflow_serving=tfx.proto.TensorFlowServingRequestSpec(
              signature_names=["serving_default"]),
          split_name="eval", num_examples=settings.num_examples)
  ).with_id("InfraValidator")
