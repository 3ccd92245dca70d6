"""Artifact URIs as paths this process can open with plain file I/O.

The executors read and write small files with Python's file API. On Vertex
AI Pipelines artifacts live under gs:// and every step's container has the
buckets mounted at /gcs/ (Cloud Storage FUSE), so gs://b/p is /gcs/b/p
there. Elsewhere a URI is already a local path.
"""

import os

_FUSE_ROOT = "/gcs"


def local_path(uri: str) -> str:
  if uri.startswith("gs://") and os.path.isdir(_FUSE_ROOT):
    return os.path.join(_FUSE_ROOT, uri[len("gs://"):])
  return uri
