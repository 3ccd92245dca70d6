"""components package of cdnrec."""

from cdnrec import _environment  # noqa: F401  (sets TF_USE_LEGACY_KERAS first)
