"""Fails a pipeline run when TFDV's ExampleValidator found anomalies."""

from cdnrec.components.anomalies.component import AnomaliesCheck
from cdnrec.components.anomalies.component import check_anomalies

__all__ = ["AnomaliesCheck", "check_anomalies"]
