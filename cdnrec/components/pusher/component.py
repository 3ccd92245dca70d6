"""VersionedPusher: TF Serving's versioned layout, atomic, with retention."""

from typing import Optional

from tfx.dsl.components.base import base_component
from tfx.dsl.components.base import executor_spec
from tfx.types import channel
from tfx.types import component_spec
from tfx.types import standard_artifacts

from cdnrec.components.pusher import executor


class VersionedPusherSpec(component_spec.ComponentSpec):
  PARAMETERS = {
      executor.SCANN_DIRECTORY: component_spec.ExecutionParameter(type=str),
      executor.BRUTE_FORCE_DIRECTORY: component_spec.ExecutionParameter(
          type=str, optional=True),
      executor.KEEP_VERSIONS: component_spec.ExecutionParameter(type=int),
  }
  INPUTS = {
      "model": component_spec.ChannelParameter(type=standard_artifacts.Model),
      "model_blessing": component_spec.ChannelParameter(
          type=standard_artifacts.ModelBlessing),
      executor.INFRA_BLESSING: component_spec.ChannelParameter(
          type=standard_artifacts.InfraBlessing, optional=True),
  }
  OUTPUTS = {
      "pushed_model": component_spec.ChannelParameter(
          type=standard_artifacts.PushedModel),
  }


class VersionedPusher(base_component.BaseComponent):
  """Pushes a blessed model's ScaNN SavedModel to
  `<scann_directory>/<version>/` and its brute-force twin to
  `<brute_force_directory>/<version>/` (same version number), each
  appearing atomically, keeping the newest `keep_versions`. A model the
  Evaluator did not bless, or that InfraValidator found TF Serving cannot
  serve (when its infra_blessing is given), is not pushed; the PushedModel
  artifact says why."""

  SPEC_CLASS = VersionedPusherSpec
  EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

  def __init__(self, model: channel.BaseChannel,
               model_blessing: channel.BaseChannel, scann_directory: str,
               brute_force_directory: Optional[str] = None,
               keep_versions: int = 5,
               infra_blessing: Optional[channel.BaseChannel] = None):
    if keep_versions < 1:
      raise ValueError(f"keep_versions must be >= 1, got {keep_versions}")
    super().__init__(spec=VersionedPusherSpec(
        model=model, model_blessing=model_blessing,
        infra_blessing=infra_blessing, scann_directory=scann_directory,
        brute_force_directory=brute_force_directory,
        keep_versions=keep_versions,
        pushed_model=channel.Channel(type=standard_artifacts.PushedModel)))
