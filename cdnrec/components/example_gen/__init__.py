"""Leave-one-out ExampleGen over RecBole atomic files."""

from cdnrec.components.example_gen.component import LeaveOneOutExampleGen

__all__ = ["LeaveOneOutExampleGen"]
