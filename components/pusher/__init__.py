"""Pushes blessed models into TF Serving's versioned layout, atomically."""

from components.pusher.component import VersionedPusher

__all__ = ["VersionedPusher"]
