"""AnomaliesCheck fails on any recorded anomaly and names it."""

import os

import pytest
from tensorflow_metadata.proto.v0 import anomalies_pb2

from cdnrec.components.anomalies import component


def _write(uri, split, anomalies):
  os.makedirs(os.path.join(uri, f"Split-{split}"))
  with open(os.path.join(uri, f"Split-{split}", component.ANOMALIES_FILE),
            "wb") as f:
    f.write(anomalies.SerializeToString())


def test_clean_splits_pass(tmp_path):
  _write(str(tmp_path), "train", anomalies_pb2.Anomalies())
  component.check_anomalies(str(tmp_path), ["train", "eval"])


def test_anomaly_fails_naming_split_and_feature(tmp_path):
  anomalies = anomalies_pb2.Anomalies()
  info = anomalies.anomaly_info["user_gender"]
  info.short_description = "Unexpected string values"
  info.description = "Examples contain values missing from the schema: X."
  _write(str(tmp_path), "eval", anomalies)
  with pytest.raises(component.DataAnomalyError,
                     match=r"split 'eval', feature 'user_gender': Unexpected "
                     r"string values \(Examples contain values missing"):
    component.check_anomalies(str(tmp_path), ["train", "eval"])
