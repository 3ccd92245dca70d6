"""Fails a pipeline run when TFDV's ExampleValidator found anomalies."""

from components.anomalies.component import AnomaliesCheck
from components.anomalies.component import check_anomalies

__all__ = ["AnomaliesCheck", "check_anomalies"]
