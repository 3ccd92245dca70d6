"""AnomaliesCheck: ExampleValidator only records anomalies; this component
reads them and fails the run, naming each split, feature and anomaly, so no
model is trained on data that breaks the schema."""

import os

from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx.dsl.component.experimental.annotations import InputArtifact
from tfx.dsl.component.experimental.decorators import component
from tfx.types import artifact_utils
from tfx.types import standard_artifacts

from cdnrec.core import uris

ANOMALIES_FILE = "SchemaDiff.pb"


class DataAnomalyError(ValueError):
  """The data does not match its schema."""


def check_anomalies(uri: str, split_names) -> None:
  """Raises DataAnomalyError listing every anomaly under uri."""
  problems = []
  for split in split_names:
    path = os.path.join(uri, f"Split-{split}", ANOMALIES_FILE)
    if not os.path.exists(path):
      continue
    with open(path, "rb") as f:
      anomalies = anomalies_pb2.Anomalies.FromString(f.read())
    for feature, info in sorted(anomalies.anomaly_info.items()):
      problems.append(f"split {split!r}, feature {feature!r}: "
                      f"{info.short_description} ({info.description})")
    if anomalies.HasField("dataset_anomaly_info"):
      info = anomalies.dataset_anomaly_info
      problems.append(f"split {split!r}, dataset: {info.short_description} "
                      f"({info.description})")
  if problems:
    raise DataAnomalyError(
        f"ExampleValidator found {len(problems)} anomaly(ies) against the "
        "schema:\n  " + "\n  ".join(problems))


@component
def AnomaliesCheck(  # pylint: disable=invalid-name
    anomalies: InputArtifact[standard_artifacts.ExampleAnomalies]) -> None:
  check_anomalies(uris.local_path(anomalies.uri),
                  artifact_utils.decode_split_names(anomalies.split_names))
