"""TF Serving's model layout: `<base>/<version>/saved_model.pb`.

A version appears atomically: it is copied into a hidden folder beside the
versions and renamed into place, so a server polling `<base>` never sees a
half-written model (rename is atomic on local and POSIX filesystems; on
object stores such as GCS it is a copy, and a server may briefly see a
partial folder there). Older versions beyond `keep` are removed after a
push, oldest first, never the one just pushed.
"""

import os
import shutil
import time
from typing import List, Optional


def versions(base_directory: str) -> List[int]:
  """The numeric version folders under base_directory, ascending."""
  if not os.path.isdir(base_directory):
    return []
  return sorted(int(name) for name in os.listdir(base_directory)
                if name.isdigit() and
                os.path.isdir(os.path.join(base_directory, name)))


def next_version(base_directories: List[str],
                 now: Optional[float] = None) -> int:
  """Seconds since the epoch, or one more than any existing version (in any
  of the folders) if that is larger: versions only increase."""
  latest = max((v for d in base_directories for v in versions(d)), default=0)
  return max(int(now if now is not None else time.time()), latest + 1)


ORIGIN_FILE = "pushed_from.txt"  # beside saved_model.pb; servers ignore it


def origin(version_dir: str) -> str:
  """The model URI a version was pushed from ('' if unknown)."""
  path = os.path.join(version_dir, ORIGIN_FILE)
  if not os.path.exists(path):
    return ""
  with open(path) as f:
    return f.read().strip()


def publish(source: str, base_directory: str, version: int,
            origin_uri: str = "") -> str:
  """Copies the SavedModel folder `source` to `<base>/<version>`
  atomically, noting origin_uri inside; returns the new folder."""
  if not os.path.exists(os.path.join(source, "saved_model.pb")):
    raise FileNotFoundError(f"{source}: not a SavedModel (no saved_model.pb)")
  final = os.path.join(base_directory, str(version))
  if os.path.exists(final):
    raise FileExistsError(f"{final} already exists; versions never change")
  os.makedirs(base_directory, exist_ok=True)
  staging = os.path.join(base_directory, f".incoming-{version}-{os.getpid()}")
  shutil.rmtree(staging, ignore_errors=True)
  try:
    shutil.copytree(source, staging)
    with open(os.path.join(staging, ORIGIN_FILE), "w") as f:
      f.write(origin_uri + "\n")
    os.rename(staging, final)
  finally:
    shutil.rmtree(staging, ignore_errors=True)
  return final


def prune(base_directory: str, keep: int, protect: int) -> List[int]:
  """Removes the oldest versions so that `keep` remain; never `protect`.
  Returns the removed versions."""
  if keep < 1:
    raise ValueError(f"keep must be >= 1, got {keep}")
  existing = versions(base_directory)
  removed = []
  for version in existing[:max(0, len(existing) - keep)]:
    if version == protect:
      continue
    shutil.rmtree(os.path.join(base_directory, str(version)))
    removed.append(version)
  return removed
