"""ItemStatsGen: item frequencies, head/tail split, imbalance factor and the
re-balanced set Ω_r, computed with Beam over the train split.

Ω_r (CDN paper, section 3.2) holds every train interaction of tail items and,
for each head item, a seeded sample of its interactions as large as the most
popular tail item's count.
"""

from tfx.dsl.components.base import base_beam_component
from tfx.dsl.components.base import executor_spec
from tfx.types import channel
from tfx.types import component_spec
from tfx.types import standard_artifacts

from cdnrec.components.item_stats import executor
from cdnrec.core import artifacts
from cdnrec.core import item_stats


class ItemStatsGenSpec(component_spec.ComponentSpec):
  PARAMETERS = {
      executor.HEAD_FRACTION: component_spec.ExecutionParameter(type=float),
      executor.SEED: component_spec.ExecutionParameter(type=int),
  }
  INPUTS = {
      "examples": component_spec.ChannelParameter(
          type=standard_artifacts.Examples),
      "item_catalog": component_spec.ChannelParameter(
          type=artifacts.ItemCatalog),
  }
  OUTPUTS = {
      "item_stats": component_spec.ChannelParameter(type=artifacts.ItemStats),
      "rebalanced_examples": component_spec.ChannelParameter(
          type=standard_artifacts.Examples),
  }


class ItemStatsGen(base_beam_component.BaseBeamComponent):
  """See the module docstring."""

  SPEC_CLASS = ItemStatsGenSpec
  EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)

  def __init__(self, examples: channel.BaseChannel,
               item_catalog: channel.BaseChannel,
               head_fraction: float = item_stats.HEAD_FRACTION,
               seed: int = 0):
    """Args:
      examples: leave-one-out Examples; only the train split is read.
      item_catalog: every item, so items unseen in train count with 0.
      head_fraction: share of items that are head (the protocol's default;
        readers.head_fraction gives the paper's per dataset).
      seed: seeds the down-sampling of head items.
    """
    if not 0.0 <= head_fraction <= 1.0:
      raise ValueError(f"head_fraction must be in [0, 1], got {head_fraction}")
    spec = ItemStatsGenSpec(
        examples=examples, item_catalog=item_catalog,
        head_fraction=head_fraction, seed=seed,
        item_stats=channel.Channel(type=artifacts.ItemStats),
        rebalanced_examples=channel.Channel(type=standard_artifacts.Examples))
    super().__init__(spec=spec)
