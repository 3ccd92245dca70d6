"""CdnTuner: TFX's Tuner that also receives the item catalog, the item
statistics and Ω_r, as CdnTrainer does, so its trials train the same model
the Trainer trains.

It keeps the Tuner's contract: `tuner_fn(fn_args)` returns a KerasTuner
tuner (components/tuner/tuning.py), and the outputs are
`best_hyperparameters` (which CdnTrainer takes as `hyperparameters`) and
`tuner_results`. A scheduled pipeline that should not tune every day
imports a past `best_hyperparameters` with TFX's Importer instead
(`cdnrec run --hyperparameters DIR`).
"""

from typing import Any, Dict, List

import attr
from tfx import types
from tfx.components.trainer import fn_args_utils
from tfx.components.tuner import executor as tuner_executor
from tfx.components.util import udf_utils
from tfx.dsl.components.base import base_component
from tfx.dsl.components.base import executor_spec
from tfx.proto import trainer_pb2
from tfx.types import artifact_utils
from tfx.types import channel
from tfx.types import component_spec
from tfx.types import standard_artifacts
from tfx.types import standard_component_specs
from tfx.utils import json_utils

from cdnrec.components.trainer.component import EXTRA_INPUTS
from cdnrec.components.tuner import tuning
from cdnrec.models import config as config_lib
from cdnrec.models import search_space
from cdnrec.models import trainer as trainer_module

TUNER_FN = "cdnrec.components.tuner.tuning.tuner_fn"


class CdnTunerSpec(standard_component_specs.TunerSpec):
  INPUTS = {
      **standard_component_specs.TunerSpec.INPUTS,
      **{key: component_spec.ChannelParameter(type=type_)
         for key, (_, type_) in EXTRA_INPUTS.items()},
  }


class Executor(tuner_executor.Executor):
  """TFX's Tuner executor, giving tuner_fn CdnFnArgs (the extra artifacts'
  URIs and the examples' URI)."""

  def Do(self, input_dict: Dict[str, List[types.Artifact]],
         output_dict: Dict[str, List[types.Artifact]],
         exec_properties: Dict[str, Any]) -> None:
    fn_args = fn_args_utils.get_common_fn_args(input_dict, exec_properties,
                                               self._get_tmp_dir())
    fn_args = trainer_module.CdnFnArgs(
        **attr.asdict(fn_args, recurse=False),
        examples_uri=artifact_utils.get_single_uri(input_dict["examples"]),
        **{field: artifact_utils.get_single_uri(input_dict[key])
           for key, (field, _) in EXTRA_INPUTS.items()})
    tuner_fn = udf_utils.get_fn(exec_properties, "tuner_fn")
    result = tuner_fn(fn_args)
    result.tuner.search(**result.fit_kwargs)
    tuner_executor.write_best_hyperparameters(result.tuner, output_dict)


class CdnTuner(base_component.BaseComponent):
  """See the module docstring."""

  SPEC_CLASS = CdnTunerSpec
  EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)

  def __init__(self, examples: channel.BaseChannel,
               item_catalog: channel.BaseChannel,
               item_stats: channel.BaseChannel,
               rebalanced_examples: channel.BaseChannel,
               train: config_lib.TrainConfig,
               tune: search_space.TuneConfig, k: int, schema=None):
    """Args:
      examples, item_catalog, item_stats, rebalanced_examples: as
        CdnTrainer's.
      train: the Trainer's settings; the search varies the rest.
      tune: the search's budget, objective and the settings not searched.
      k: K of the validation NDCG@K.
    """
    tune.validate()
    super().__init__(spec=CdnTunerSpec(
        examples=examples, schema=schema,
        tuner_fn=TUNER_FN,
        # Trials train on the train split and are scored on the eval one
        # (TFX's defaults for empty args).
        train_args=trainer_pb2.TrainArgs(), eval_args=trainer_pb2.EvalArgs(),
        custom_config=json_utils.dumps({
            tuning.TRAIN_KEY: train.to_dict(),
            tuning.TUNE_KEY: tune.to_dict(), tuning.K_KEY: k}),
        best_hyperparameters=channel.Channel(
            type=standard_artifacts.HyperParameters),
        tuner_results=channel.Channel(type=standard_artifacts.TunerResults),
        item_catalog=item_catalog, item_stats=item_stats,
        rebalanced_examples=rebalanced_examples))

