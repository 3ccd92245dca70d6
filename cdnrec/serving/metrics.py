"""Prometheus metrics as TF Serving exports them (its
--monitoring_config_file with prometheus_config), served on the REST port
at PATH in Prometheus' text format.

TF Serving's own families, with its names, labels and buckets:
  :tensorflow:serving:request_count{model_name,status}
      predict requests by outcome (status: OK, INVALID_ARGUMENT, ...)
  :tensorflow:serving:request_latency{model_name,API,entrypoint}
      microseconds of successful predict requests (entrypoint REST / GRPC)
  :tensorflow:serving:model_warmup_latency{model_path,status}
      microseconds spent replaying a version's warm-up records
Beyond TF Serving (it has no per-signature count and no version gauge):
  :cdnrec:serving:requests{model_name,entrypoint,API,signature_name,status}
      every request (predict, metadata, status) by signature and outcome
  :cdnrec:serving:model_version{model_name}
      the version being served
"""

import threading
from typing import Dict, List, Optional, Tuple

PATH = "/monitoring/prometheus/metrics"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# TF Serving's latency buckets: Exponential(10, 1.8, 33) microseconds.
LATENCY_BUCKETS_MICROS = tuple(10 * 1.8 ** i for i in range(33))

_REQUEST_COUNT = ":tensorflow:serving:request_count"
_REQUEST_LATENCY = ":tensorflow:serving:request_latency"
_WARMUP_LATENCY = ":tensorflow:serving:model_warmup_latency"
_REQUESTS = ":cdnrec:serving:requests"
_VERSION = ":cdnrec:serving:model_version"
_API_NAMES = {"predict": "Predict", "metadata": "GetModelMetadata",
              "status": "GetModelStatus"}

Labels = Tuple[Tuple[str, str], ...]


class _Histogram:
  def __init__(self):
    self.counts = [0] * (len(LATENCY_BUCKETS_MICROS) + 1)  # last: +Inf
    self.total = 0.0

  def observe(self, value: float) -> None:
    for i, bound in enumerate(LATENCY_BUCKETS_MICROS):
      if value <= bound:
        self.counts[i] += 1
        break
    else:
      self.counts[-1] += 1
    self.total += value


def _escape(value: str) -> str:
  return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: Labels, extra: str = "") -> str:
  parts = [f'{k}="{_escape(v)}"' for k, v in labels]
  if extra:
    parts.append(extra)
  return "{" + ",".join(parts) + "}" if parts else ""


def _bound(value: float) -> str:
  return repr(float(value))


class ServingMetrics:
  """Thread-safe counters and histograms of one served model."""

  path = PATH

  def __init__(self, model_name: str):
    self.model_name = model_name
    self._lock = threading.Lock()
    self._counters: Dict[str, Dict[Labels, int]] = {_REQUEST_COUNT: {},
                                                    _REQUESTS: {}}
    self._histograms: Dict[str, Dict[Labels, _Histogram]] = {
        _REQUEST_LATENCY: {}, _WARMUP_LATENCY: {}}

  def record(self, entrypoint: str, api: str, signature_name: str,
             status: str, seconds: float) -> None:
    """One answered request. entrypoint: REST or GRPC; api: predict,
    metadata, status (or other: a path that names no API); status: the
    gRPC code name of the outcome."""
    api_name = _API_NAMES.get(api, api)
    with self._lock:
      self._count(_REQUESTS, (
          ("model_name", self.model_name), ("entrypoint", entrypoint),
          ("API", api_name), ("signature_name", signature_name),
          ("status", status)))
      if api == "predict":
        self._count(_REQUEST_COUNT, (("model_name", self.model_name),
                                     ("status", status)))
        if status == "OK":
          self._observe(_REQUEST_LATENCY, (
              ("model_name", self.model_name), ("API", api_name),
              ("entrypoint", entrypoint)), seconds * 1e6)

  def record_warmup(self, model_path: str, ok: bool, seconds: float) -> None:
    with self._lock:
      self._observe(_WARMUP_LATENCY, (("model_path", model_path),
                                      ("status", "OK" if ok else "UNKNOWN")),
                    seconds * 1e6)

  def _count(self, family: str, labels: Labels) -> None:
    counter = self._counters[family]
    counter[labels] = counter.get(labels, 0) + 1

  def _observe(self, family: str, labels: Labels, value: float) -> None:
    histogram = self._histograms[family].setdefault(labels, _Histogram())
    histogram.observe(value)

  def count(self, family: str, **labels: str) -> int:
    """Sum of a counter over the series matching these labels (for tests
    and benchmarks)."""
    with self._lock:
      return sum(v for k, v in self._counters[family].items()
                 if all((name, value) in k for name, value in labels.items()))

  def render(self, version: Optional[int] = None) -> str:
    """The Prometheus text exposition of every family."""
    lines: List[str] = []
    with self._lock:
      for family, kind in ((_REQUEST_COUNT, "counter"),
                           (_REQUESTS, "counter")):
        lines.append(f"# TYPE {family} {kind}")
        for labels, value in sorted(self._counters[family].items()):
          lines.append(f"{family}{_labels(labels)} {value}")
      for family in (_REQUEST_LATENCY, _WARMUP_LATENCY):
        lines.append(f"# TYPE {family} histogram")
        for labels, histogram in sorted(self._histograms[family].items()):
          cumulative = 0
          bounds = [_bound(b) for b in LATENCY_BUCKETS_MICROS] + ["+Inf"]
          for bound, count in zip(bounds, histogram.counts):
            cumulative += count
            lines.append(f"{family}_bucket"
                         f"{_labels(labels, f'le={chr(34)}{bound}{chr(34)}')}"
                         f" {cumulative}")
          lines.append(f"{family}_sum{_labels(labels)} {histogram.total!r}")
          lines.append(f"{family}_count{_labels(labels)} {cumulative}")
    if version is not None:
      lines.append(f"# TYPE {_VERSION} gauge")
      lines.append(f"{_VERSION}{_labels((('model_name', self.model_name),))}"
                   f" {version}")
    return "\n".join(lines) + "\n"
