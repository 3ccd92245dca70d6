"""ServingInfraValidator: TFX's InfraValidator (its spec, its executor,
its blessing) under a class of its own.

TFX's Kubeflow V2 runner, which writes the Vertex / Kubeflow Pipelines v2
spec, refuses the stock InfraValidator by its type, because where Vertex AI
Pipelines runs a step there is neither a Docker engine nor a Kubernetes API
to start TF Serving with. Kubeflow Pipelines on a cluster of one's own
gives a step the Kubernetes API (with a service account allowed to create
pods), where the step's Kubernetes runner can start TF Serving in a pod
beside it; so the component is compiled like any other container step. Its
executor is the stock one after filling in the pod identity that runner
looks up (executor.py). Nothing of it has run on a cluster.
"""

from typing import Optional

from tfx import types
from tfx.dsl.components.base import base_component
from tfx.dsl.components.base import base_driver
from tfx.dsl.components.base import executor_spec
from tfx.proto import infra_validator_pb2
from tfx.types import standard_artifacts
from tfx.types import standard_component_specs

from cdnrec.components.infra_validator import executor


class ServingInfraValidator(base_component.BaseComponent):
  """Starts the model in TF Serving (Docker or a Kubernetes pod), sends it
  requests built from `examples`, and blesses it if all are answered."""

  SPEC_CLASS = standard_component_specs.InfraValidatorSpec
  EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)
  DRIVER_CLASS = base_driver.BaseDriver

  def __init__(self, model: types.BaseChannel,
               serving_spec: infra_validator_pb2.ServingSpec,
               examples: Optional[types.BaseChannel] = None,
               request_spec: Optional[infra_validator_pb2.RequestSpec] = None,
               validation_spec: Optional[
                   infra_validator_pb2.ValidationSpec] = None):
    super().__init__(spec=standard_component_specs.InfraValidatorSpec(
        model=model, examples=examples,
        blessing=types.Channel(type=standard_artifacts.InfraBlessing),
        serving_spec=serving_spec, validation_spec=validation_spec,
        request_spec=request_spec))
