"""RetrievalEvaluator: HR@K and NDCG@K of the trained model, full corpus,
and whether it is good enough to push (a ModelBlessing)."""

import dataclasses
import json
from typing import Optional

from tfx.dsl.components.base import base_component
from tfx.dsl.components.base import executor_spec
from tfx.types import channel
from tfx.types import component_spec
from tfx.types import standard_artifacts

from cdnrec.components.evaluator import executor
from cdnrec.core import artifacts
from cdnrec.core import blessing


class RetrievalEvaluatorSpec(component_spec.ComponentSpec):
  PARAMETERS = {
      executor.K: component_spec.ExecutionParameter(type=int),
      executor.SPLIT: component_spec.ExecutionParameter(type=str),
      executor.THRESHOLDS: component_spec.ExecutionParameter(type=str),
      executor.MAX_QUERIES: component_spec.ExecutionParameter(
          type=int, optional=True),
      executor.SEED: component_spec.ExecutionParameter(type=int,
                                                       optional=True),
  }
  INPUTS = {
      "examples": component_spec.ChannelParameter(
          type=standard_artifacts.Examples),
      "model": component_spec.ChannelParameter(type=standard_artifacts.Model),
      "item_stats": component_spec.ChannelParameter(type=artifacts.ItemStats),
      "last_blessed_model": component_spec.ChannelParameter(
          type=standard_artifacts.Model, optional=True),
      "baseline_model": component_spec.ChannelParameter(
          type=standard_artifacts.Model, optional=True),
  }
  OUTPUTS = {
      "metrics": component_spec.ChannelParameter(
          type=artifacts.RetrievalMetrics),
      "blessing": component_spec.ChannelParameter(
          type=standard_artifacts.ModelBlessing),
  }


class RetrievalEvaluator(base_component.BaseComponent):
  """Ranks every item for each test user (own train and validation items
  excluded; a seeded sample of max_queries users when there are more), reports HR@K / NDCG@K overall and on head and tail items,
  measures the ScaNN index's recall against exact search, and blesses the
  model when it clears `thresholds` (see blessing.py) against the model
  last blessed (a resolver's output) or, on a first run, a baseline model
  trained in the same pipeline."""

  SPEC_CLASS = RetrievalEvaluatorSpec
  EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

  def __init__(self, examples: channel.BaseChannel, model: channel.BaseChannel,
               item_stats: channel.BaseChannel, k: int = 50,
               split: str = "test",
               thresholds: Optional[blessing.Thresholds] = None,
               max_queries: Optional[int] = None, seed: int = 0,
               last_blessed_model: Optional[channel.BaseChannel] = None,
               baseline_model: Optional[channel.BaseChannel] = None):
    if k < 1:
      raise ValueError(f"k must be >= 1, got {k}")
    if split not in ("test", "eval"):
      raise ValueError(f"split must be 'test' or 'eval', got {split!r}")
    if max_queries is not None and max_queries < 1:
      raise ValueError(f"max_queries must be >= 1, got {max_queries}")
    thresholds = thresholds or blessing.Thresholds()
    thresholds.validate()
    super().__init__(spec=RetrievalEvaluatorSpec(
        examples=examples, model=model, item_stats=item_stats, k=k,
        split=split, thresholds=json.dumps(dataclasses.asdict(thresholds)),
        max_queries=max_queries, seed=seed,
        last_blessed_model=last_blessed_model, baseline_model=baseline_model,
        metrics=channel.Channel(type=artifacts.RetrievalMetrics),
        blessing=channel.Channel(type=standard_artifacts.ModelBlessing)))
