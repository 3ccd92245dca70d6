"""What a finished local run did, read back from its ML Metadata store: the
pushed version (or why nothing was pushed) and a test user to query it with.

Reading the store, not globbing the pipeline root, gives this run's answer
even when components were cached or earlier runs left artifacts behind.
"""

import dataclasses
import json
import os
from typing import Dict, List, Optional

from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2
from tfx import v1 as tfx

from cdnrec.components.pusher import executor as pusher_executor
from cdnrec.core import example_io
from cdnrec.core import features as F

_PIPELINE_RUN = "pipeline_run"
_PUSHER = "VersionedPusher"
_EXAMPLE_GEN = "LeaveOneOutExampleGen"


@dataclasses.dataclass(frozen=True)
class SampleUser:
  """A test user's features (as `--feature NAME=VALUE` strings) and the item
  the split held out for them."""
  user_id: str
  features: Dict[str, str]
  held_out_item: str


@dataclasses.dataclass(frozen=True)
class RunOutcome:
  """pushed: whether a model is now served; version and destinations (the
  ScaNN folder first, then the brute-force one) when it is; reason when not.
  examples_uri: the run's leave-one-out Examples."""
  pushed: bool
  reason: str
  version: Optional[int]
  destinations: List[str]
  serving_model_dir: str
  examples_uri: Optional[str]

  def sample_user(self) -> Optional[SampleUser]:
    return sample_user(self.examples_uri) if self.examples_uri else None


def _newest_run_outputs(store: metadata_store.MetadataStore,
                        component: str, output: Optional[str] = None
                        ) -> List[metadata_store_pb2.Artifact]:
  """Output artifacts of `component`'s execution in the newest pipeline run
  (only those of the output key `output`, when given)."""
  runs = store.get_contexts_by_type(_PIPELINE_RUN)
  if not runs:
    return []
  newest = max(runs, key=lambda c: (c.create_time_since_epoch, c.id))
  types = {t.id: t.name for t in store.get_execution_types()}
  executions = [e for e in store.get_executions_by_context(newest.id)
                if types.get(e.type_id, "").endswith(component)]
  if not executions:
    return []
  events = store.get_events_by_execution_ids([executions[-1].id])
  ids = [e.artifact_id for e in events
         if e.type == metadata_store_pb2.Event.OUTPUT and
         (output is None or (e.path.steps and e.path.steps[0].key == output))]
  return store.get_artifacts_by_id(ids)


def read(metadata_path: str, pipeline_name: str,
         serving_model_dir: str) -> RunOutcome:
  """The outcome of the newest run recorded in the SQLite store."""
  del pipeline_name  # one local output folder holds one pipeline
  store = metadata_store.MetadataStore(
      tfx.orchestration.metadata.sqlite_metadata_connection_config(
          metadata_path))
  record: Dict = {}
  for artifact in _newest_run_outputs(store, _PUSHER):
    path = os.path.join(artifact.uri, pusher_executor.PUSH_FILE)
    if os.path.exists(path):
      with open(path) as f:
        record = json.load(f)
  # The examples, not the statistics sample, which has a test split too.
  examples = [a.uri for a in _newest_run_outputs(store, _EXAMPLE_GEN,
                                                 "examples")]
  return RunOutcome(
      pushed=bool(record.get("pushed")),
      reason=record.get("reason", "the pusher did not run"),
      version=record.get("version"),
      destinations=list(record.get("destinations", [])),
      serving_model_dir=serving_model_dir,
      examples_uri=examples[0] if examples else None)


def sample_user(examples_uri: str) -> Optional[SampleUser]:
  """The first user of the test split, for the closing demo query."""
  import tensorflow as tf  # only when a query is wanted
  files = sorted(tf.io.gfile.glob(example_io.split_pattern(examples_uri,
                                                           "test")))
  record = next(iter(tf.data.TFRecordDataset(files[:1],
                                             compression_type="GZIP")), None)
  if record is None:
    return None
  feature = tf.train.Example.FromString(record.numpy()).features.feature
  features = {}
  for name, value in feature.items():
    if name == F.USER_ID or not name.startswith("user_"):
      continue
    if value.bytes_list.value:
      features[name] = " ".join(v.decode() for v in value.bytes_list.value)
    elif value.float_list.value:
      features[name] = str(value.float_list.value[0])
  return SampleUser(
      user_id=feature[F.USER_ID].bytes_list.value[0].decode(),
      features=features,
      held_out_item=feature[F.ITEM_ID].bytes_list.value[0].decode())
