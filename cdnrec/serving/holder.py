"""The version being served: the newest numeric version under a model
folder that loads, swapped for newer ones as they appear.

A request holds the model it started with, so a swap fails nothing in
flight. A version that fails to load (a folder still being copied, a broken
model) is tried again when its folder changes, or after a back-off; a
served version deleted from disk gives way to the newest loadable one left.
Each swap, failure and deletion is logged.
"""

import dataclasses
import logging
import os
import threading
import time
from typing import Callable, Dict, Optional, Tuple

import tensorflow as tf

from cdnrec.core.errors import ConfigError
from cdnrec.serving import defaults
from cdnrec.serving import model as serving_model
from cdnrec.serving import warmup

_log = logging.getLogger("cdnrec.serve")


@dataclasses.dataclass
class _Failure:
  """A version that failed to load: when to try it again."""
  fingerprint: Tuple
  retry_at: float
  delay: float


def _fingerprint(path: str) -> Tuple:
  """(file, size, mtime) of every file under path: changes while a version
  is still being copied in, or when it is replaced."""
  out = []
  for directory, _, files in tf.io.gfile.walk(path):
    for name in files:
      full = os.path.join(directory, name)
      try:
        stat = tf.io.gfile.stat(full)
      except tf.errors.NotFoundError:
        continue
      out.append((full, stat.length, stat.mtime_nsec))
  return tuple(sorted(out))


class ModelHolder:
  """The version being served: the newest one that loads.

  load(path) loads a version; by default it also replays the version's
  warm-up records, and a version whose records fail does not load. Raises
  ConfigError at construction when no version under model_dir loads
  (naming each and why).
  """

  def __init__(self, model_dir: str,
               load: Callable[[str], serving_model.RetrievalModel] = (
                   warmup.load_warmed),
               clock: Callable[[], float] = time.monotonic,
               retry_first_seconds: float = defaults.RETRY_FIRST_SECONDS,
               retry_max_seconds: float = defaults.RETRY_MAX_SECONDS):
    self.model_dir = model_dir
    self._load = load
    self._clock = clock
    self._retry_first = retry_first_seconds
    self._retry_max = retry_max_seconds
    self._lock = threading.Lock()
    self._failed: Dict[int, _Failure] = {}
    self._errors: Dict[int, str] = {}
    self._reported_gone: Optional[int] = None
    if tf.io.gfile.exists(os.path.join(model_dir, "saved_model.pb")):
      # One SavedModel, not TF Serving's layout: served as version 0.
      try:
        self._current = load(model_dir)
      except Exception as e:  # pylint: disable=broad-except
        # Any load or warm-up failure: one line naming the folder.
        reason = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise ConfigError(f"--model-dir {model_dir}: the SavedModel does "
                          f"not load ({reason})") from None
      return
    if not tf.io.gfile.isdir(model_dir):
      raise ConfigError(f"--model-dir {model_dir}: no such folder")
    found = serving_model.versions(model_dir)
    for version in reversed(found):
      loaded = self._try(version)
      if loaded is not None:
        self._current = loaded
        return
    tried = "; ".join(f"{v}: {self._errors[v]}" for v in reversed(found))
    raise ConfigError(f"--model-dir {model_dir}: no version loads"
                      + (f" ({tried})" if tried else
                         " (no numeric version folders)"))

  @property
  def current(self) -> serving_model.RetrievalModel:
    with self._lock:
      return self._current

  def _try(self, version: int) -> Optional[serving_model.RetrievalModel]:
    """The loaded version, or None after noting the failure."""
    path = os.path.join(self.model_dir, str(version))
    # Taken before loading: a copy that completes during the load changes
    # it, so the next poll tries again at once.
    fingerprint = _fingerprint(path)
    try:
      return self._load(path)
    except Exception as e:  # pylint: disable=broad-except
      # A broken or half-copied version must not take down the one being
      # served: it is logged and tried again later.
      previous = self._failed.get(version)
      delay = (self._retry_first if previous is None
               else min(self._retry_max, previous.delay * 2))
      self._failed[version] = _Failure(fingerprint, self._clock() + delay,
                                       delay)
      reason = str(e).strip().splitlines()[0] if str(e).strip() else (
          type(e).__name__)
      self._errors[version] = reason
      _log.error("version %d failed to load (%s); trying again when its "
                 "folder changes or in %.0f s", version, reason, delay)
      return None

  def _due(self, version: int) -> bool:
    failure = self._failed.get(version)
    if failure is None:
      return True
    if self._clock() >= failure.retry_at:
      return True
    path = os.path.join(self.model_dir, str(version))
    return _fingerprint(path) != failure.fingerprint

  def refresh(self) -> bool:
    """Serves the newest loadable version newer than the served one (or, if
    the served one was deleted, the newest loadable one left); True when it
    swapped."""
    current = self.current
    available = serving_model.versions(self.model_dir)
    gone = current.version not in available and tf.io.gfile.isdir(
        self.model_dir) and not tf.io.gfile.exists(
            os.path.join(self.model_dir, "saved_model.pb"))
    for version in reversed(available):
      if version <= current.version and not gone:
        break
      if not self._due(version):
        continue
      loaded = self._try(version)
      if loaded is None:
        continue
      self._failed.pop(version, None)
      with self._lock:
        self._current = loaded
      _log.info("now serving version %d (was %d%s)", version,
                current.version, ", deleted from disk" if gone else "")
      return True
    if gone and self._reported_gone != current.version:
      self._reported_gone = current.version
      _log.warning("version %d was deleted from %s and no other version "
                   "loads; still serving it from memory", current.version,
                   self.model_dir)
    return False
