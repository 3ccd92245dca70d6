"""Pushes blessed models into TF Serving's versioned layout, atomically."""

from cdnrec.components.pusher.component import VersionedPusher

__all__ = ["VersionedPusher"]
