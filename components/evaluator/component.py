"""RetrievalEvaluator: HR@K and NDCG@K of the trained model, full corpus."""

from tfx.dsl.components.base import base_component
from tfx.dsl.components.base import executor_spec
from tfx.types import channel
from tfx.types import component_spec
from tfx.types import standard_artifacts

from components import artifacts
from components.evaluator import executor


class RetrievalEvaluatorSpec(component_spec.ComponentSpec):
  PARAMETERS = {
      executor.K: component_spec.ExecutionParameter(type=int),
      executor.SPLIT: component_spec.ExecutionParameter(type=str),
  }
  INPUTS = {
      "examples": component_spec.ChannelParameter(
          type=standard_artifacts.Examples),
      "model": component_spec.ChannelParameter(type=standard_artifacts.Model),
      "item_stats": component_spec.ChannelParameter(type=artifacts.ItemStats),
  }
  OUTPUTS = {
      "metrics": component_spec.ChannelParameter(
          type=artifacts.RetrievalMetrics),
  }


class RetrievalEvaluator(base_component.BaseComponent):
  """Ranks every item for each test user (own train and validation items
  excluded) and reports HR@K / NDCG@K overall and on head and tail items."""

  SPEC_CLASS = RetrievalEvaluatorSpec
  EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

  def __init__(self, examples: channel.BaseChannel, model: channel.BaseChannel,
               item_stats: channel.BaseChannel, k: int = 50,
               split: str = "test"):
    if k < 1:
      raise ValueError(f"k must be >= 1, got {k}")
    if split not in ("test", "eval"):
      raise ValueError(f"split must be 'test' or 'eval', got {split!r}")
    super().__init__(spec=RetrievalEvaluatorSpec(
        examples=examples, model=model, item_stats=item_stats, k=k,
        split=split,
        metrics=channel.Channel(type=artifacts.RetrievalMetrics)))
