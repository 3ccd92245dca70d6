"""Executor of VersionedPusher."""

import json
import logging
import os
from typing import Any, Dict, List

from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils

from cdnrec.components.pusher import versions
from cdnrec.core import model_layout
from cdnrec.core import uris

SCANN_DIRECTORY = "scann_directory"
BRUTE_FORCE_DIRECTORY = "brute_force_directory"
KEEP_VERSIONS = "keep_versions"
INFRA_BLESSING = "infra_blessing"
PUSH_FILE = "push.json"
_log = logging.getLogger("cdnrec.pusher")


class Executor(base_executor.BaseExecutor):

  def Do(self, input_dict: Dict[str, List[types.Artifact]],
         output_dict: Dict[str, List[types.Artifact]],
         exec_properties: Dict[str, Any]) -> None:
    model = artifact_utils.get_single_instance(input_dict["model"])
    blessing = artifact_utils.get_single_instance(input_dict["model_blessing"])
    pushed = artifact_utils.get_single_instance(output_dict["pushed_model"])
    model_path = uris.local_path(model.uri)
    pushed_path = uris.local_path(pushed.uri)
    keep = int(exec_properties[KEEP_VERSIONS])
    targets = {model_layout.SCANN_FORMAT:
               uris.local_path(exec_properties[SCANN_DIRECTORY])}
    if exec_properties.get(BRUTE_FORCE_DIRECTORY):
      targets[model_layout.BRUTE_FORCE_FORMAT] = uris.local_path(
          exec_properties[BRUTE_FORCE_DIRECTORY])
    if len(set(targets.values())) != len(targets):
      raise ValueError(f"the serving folders {list(targets.values())} must "
                       "differ: each variant has its own versions")
    record: Dict[str, Any] = {"model": model.uri}
    orphans = versions.orphans(list(targets.values()))
    if orphans:
      # Half pairs from a push that failed before pushes were all or
      # nothing: reported, never completed; servers of either folder may
      # still pick them up, so they are named here to be removed.
      _log.warning("versions %s exist in only some of %s; remove them",
                   orphans, list(targets.values()))
      record["orphans"] = orphans
    infra = input_dict.get(INFRA_BLESSING) or []
    if not blessing.get_int_custom_property("blessed"):
      reasons = blessing.get_string_custom_property("reasons")
      _log.warning("NOT pushed: the model is not blessed (%s)", reasons)
      record.update(pushed=False, reason=reasons)
      pushed.set_int_custom_property("pushed", 0)
    elif infra and infra[0].get_int_custom_property("blessed") != 1:
      reason = ("InfraValidator did not bless the model: TF Serving did "
                "not start, did not load it or did not answer its requests "
                f"(the InfraValidator's log says which; {infra[0].uri})")
      _log.warning("NOT pushed: %s", reason)
      record.update(pushed=False, reason=reason)
      pushed.set_int_custom_property("pushed", 0)
    elif _already_pushed(model.uri, list(targets.values())):
      # A rerun with the Trainer cached blesses the same model again; a
      # second copy would only be a new version number for the same model.
      version = versions.complete_versions(list(targets.values()))[-1]
      _log.info("model already pushed as version %d; nothing to do", version)
      record.update(pushed=True, version=version, destinations=[
          os.path.join(base, str(version)) for base in targets.values()])
      pushed.set_int_custom_property("pushed", 1)
      pushed.set_int_custom_property("pushed_version", version)
    else:
      version = versions.next_version(list(targets.values()))
      destinations = versions.publish_together(
          {base: os.path.join(model_path, variant)
           for variant, base in targets.items()}, version,
          origin_uri=model.uri)
      for variant, base, final in zip(targets, targets.values(),
                                      destinations):
        removed = versions.prune(base, keep, protect=version)
        _log.info("pushed %s as %s%s", variant, final,
                  f" (removed old versions {removed})" if removed else "")
      record.update(pushed=True, version=version, destinations=destinations)
      pushed.set_int_custom_property("pushed", 1)
      pushed.set_int_custom_property("pushed_version", version)
      pushed.set_string_custom_property("pushed_destination", destinations[0])
    os.makedirs(pushed_path, exist_ok=True)
    with open(os.path.join(pushed_path, PUSH_FILE), "w") as f:
      json.dump(record, f, indent=2)


def _already_pushed(model_uri: str, bases) -> bool:
  """Whether the newest version present in every folder came from
  model_uri in each."""
  complete = versions.complete_versions(list(bases))
  return bool(complete) and all(
      versions.origin(os.path.join(base, str(complete[-1]))) == model_uri
      for base in bases)
