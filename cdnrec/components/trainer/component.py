"""CdnTrainer: TFX's generic Trainer that also receives the item catalog, the
item statistics and the re-balanced examples Ω_r.

TFX's Trainer takes one Examples channel; the CDN model needs Ω_r beside
Ω_m and the per-item frequencies for its gate. This component keeps the
Trainer's contract (`run_fn(fn_args)`, Model and ModelRun outputs, so the
Pusher and warm-starting work unchanged) and hands the extra artifacts'
URIs to `run_fn` as fields of `CdnFnArgs`, TFX's FnArgs extended; the
hyperparameters stay alone in `custom_config`.
"""

from typing import Any, Dict, List, Optional

import attr

from tfx import types
from tfx.components.trainer import executor as trainer_executor
from tfx.dsl.components.base import base_component
from tfx.dsl.components.base import executor_spec
from tfx.proto import trainer_pb2
from tfx.types import artifact_utils
from tfx.types import channel
from tfx.types import component_spec
from tfx.types import standard_artifacts
from tfx.types import standard_component_specs
from tfx.utils import json_utils

from cdnrec.core import artifacts
from cdnrec.models import trainer as trainer_module

# Input key -> (CdnFnArgs field, artifact type).
EXTRA_INPUTS = {
    "item_catalog": ("item_catalog_uri", artifacts.ItemCatalog),
    "item_stats": ("item_stats_uri", artifacts.ItemStats),
    "rebalanced_examples": ("rebalanced_examples_uri",
                            standard_artifacts.Examples),
}


class CdnTrainerSpec(standard_component_specs.TrainerSpec):
  INPUTS = {
      **standard_component_specs.TrainerSpec.INPUTS,
      **{key: component_spec.ChannelParameter(type=type_)
         for key, (_, type_) in EXTRA_INPUTS.items()},
  }


class Executor(trainer_executor.GenericExecutor):
  """Gives run_fn the extra artifacts' URIs as CdnFnArgs fields, and the
  examples' (early stopping on validation NDCG ranks against train items)."""

  def _GetFnArgs(self, input_dict: Dict[str, List[types.Artifact]],
                 output_dict: Dict[str, List[types.Artifact]],
                 exec_properties: Dict[str, Any]):
    fn_args = super()._GetFnArgs(input_dict, output_dict, exec_properties)
    return trainer_module.CdnFnArgs(
        **attr.asdict(fn_args, recurse=False),
        examples_uri=artifact_utils.get_single_uri(input_dict["examples"]),
        **{field: artifact_utils.get_single_uri(input_dict[key])
           for key, (field, _) in EXTRA_INPUTS.items()})


class CdnTrainer(base_component.BaseComponent):
  """See the module docstring."""

  SPEC_CLASS = CdnTrainerSpec
  EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)

  def __init__(self, examples: channel.BaseChannel,
               item_catalog: channel.BaseChannel,
               item_stats: channel.BaseChannel,
               rebalanced_examples: channel.BaseChannel,
               run_fn: str,
               schema: Optional[channel.BaseChannel] = None,
               base_model: Optional[channel.BaseChannel] = None,
               custom_config: Optional[Dict[str, Any]] = None,
               train_args: Optional[trainer_pb2.TrainArgs] = None,
               eval_args: Optional[trainer_pb2.EvalArgs] = None,
               hyperparameters: Optional[channel.BaseChannel] = None):
    """Args:
      examples: leave-one-out Examples (Ω_m is their train split).
      item_catalog, item_stats, rebalanced_examples: ExampleGen's and
        ItemStatsGen's outputs.
      run_fn: dotted path of the training function, e.g.
        'cdnrec.models.trainer.run_fn'.
      schema: optional Schema (for validation-aware run_fns).
      base_model: optional Model to warm-start from.
      custom_config: hyperparameters only: TrainConfig.to_dict().
      train_args, eval_args: TFX's split selection protos.
      hyperparameters: optional HyperParameters (CdnTuner's
        best_hyperparameters, or imported): their values override
        custom_config's.
    """
    spec = CdnTrainerSpec(
        examples=examples, schema=schema, base_model=base_model,
        hyperparameters=hyperparameters,
        item_catalog=item_catalog, item_stats=item_stats,
        rebalanced_examples=rebalanced_examples,
        train_args=train_args or trainer_pb2.TrainArgs(),
        eval_args=eval_args or trainer_pb2.EvalArgs(),
        run_fn=run_fn, custom_config=json_utils.dumps(custom_config or {}),
        model=channel.Channel(type=standard_artifacts.Model),
        model_run=channel.Channel(type=standard_artifacts.ModelRun))
    super().__init__(spec=spec)

