"""TFX's InfraValidator, compilable for Kubeflow Pipelines v2 / Vertex."""

from cdnrec.components.infra_validator.component import ServingInfraValidator
