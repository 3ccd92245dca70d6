"""Benchmarks run by `cdnrec bench NAME`: scripts that print figures, never
tests."""
