"""TF Serving's model layout: `<base>/<version>/saved_model.pb`.

A version appears atomically: it is copied into a hidden folder beside the
versions and renamed into place, so a server polling `<base>` never sees a
half-written model (rename is atomic on local and POSIX filesystems; on
object stores such as GCS it is a copy, and a server may briefly see a
partial folder there). The variants of one model (ScaNN and brute force)
are pushed together or not at all: every copy is finished before the first
rename, and a failure removes whatever this push had placed. Older
versions beyond `keep` are removed after a push, oldest first, never the
one just pushed.
"""

import os
import shutil
import time
from typing import Dict, List, Optional


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


def _stage(source: str, base_directory: str, version: int,
           origin_uri: str) -> str:
  """A complete copy of source in a hidden folder beside the versions."""
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
  except BaseException:
    shutil.rmtree(staging, ignore_errors=True)
    raise
  return staging


def publish_together(sources: Dict[str, str], version: int,
                     origin_uri: str = "") -> List[str]:
  """Copies each SavedModel folder to `<base>/<version>` (sources: base ->
  folder), all or none; returns the new folders in the order given."""
  staged: List[str] = []
  placed: List[str] = []
  try:
    for base, source in sources.items():
      staged.append(_stage(source, base, version, origin_uri))
    for staging, base in zip(staged, sources):
      final = os.path.join(base, str(version))
      os.rename(staging, final)
      placed.append(final)
  except BaseException:
    for folder in placed + staged:
      shutil.rmtree(folder, ignore_errors=True)
    raise
  return placed


def publish(source: str, base_directory: str, version: int,
            origin_uri: str = "") -> str:
  """Copies the SavedModel folder `source` to `<base>/<version>`
  atomically, noting origin_uri inside; returns the new folder."""
  return publish_together({base_directory: source}, version, origin_uri)[0]


def orphans(base_directories: List[str]) -> List[int]:
  """Versions found in some of the folders but not all: half of a pair
  (left by a push that failed before pushes were all-or-nothing)."""
  found = [set(versions(d)) for d in base_directories]
  everywhere = set.intersection(*found) if found else set()
  return sorted(set.union(*found) - everywhere) if found else []


def complete_versions(base_directories: List[str]) -> List[int]:
  """Versions present in every folder, ascending."""
  found = [set(versions(d)) for d in base_directories]
  return sorted(set.intersection(*found)) if found else []


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
