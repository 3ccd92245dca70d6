"""The package's layers import downward only (docs/design.md, Layout).

Each module of cdnrec belongs to the layer of its longest matching prefix
below; it may import its own layer and any lower one, never a higher one.
Imports inside functions count too: a lazy import is still a dependency.
"""

import ast
import os
from typing import Iterator, List, Tuple

import pytest

import cdnrec

# Lowest first.
LAYERS = (
    "cdnrec.core",            # contracts: features, artifacts, layouts, rules
    "cdnrec.data",            # readers and the synthetic generator
    "cdnrec.serving",         # loading and serving pushed SavedModels
    "cdnrec.models.inputs",   # parsing examples, vocabularies
    "cdnrec.models.modules",  # single-purpose layers
    "cdnrec.models",          # assembled models, training, export
    "cdnrec.components",      # TFX components
    "cdnrec.pipeline",        # the pipeline and its runners
    "cdnrec.experiment",      # the comparison harness
    "cdnrec.bench",           # benchmarks
    "cdnrec.cli",             # the command line
)
PACKAGE_DIR = os.path.dirname(os.path.abspath(cdnrec.__file__))


def layer(module: str) -> int:
  """Index in LAYERS of the longest prefix of `module`; -1 for the package
  root (cdnrec, cdnrec._environment), which everything may import."""
  best, rank = "", -1
  for i, prefix in enumerate(LAYERS):
    if ((module == prefix or module.startswith(prefix + ".")) and
        len(prefix) > len(best)):
      best, rank = prefix, i
  return rank


def imports(source: str) -> Iterator[Tuple[int, str]]:
  """(line, module) of every cdnrec import in `source`; `from cdnrec.x
  import y` counts as cdnrec.x.y, which may be a module."""
  for node in ast.walk(ast.parse(source)):
    if isinstance(node, ast.Import):
      for alias in node.names:
        yield node.lineno, alias.name
    elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
      for alias in node.names:
        yield node.lineno, f"{node.module}.{alias.name}"


def upward_imports(module: str, source: str) -> List[str]:
  own = layer(module)
  return [f"{module}:{line} imports {target}"
          for line, target in imports(source)
          if target.startswith("cdnrec.") and layer(target) > own]


def _modules() -> Iterator[Tuple[str, str]]:
  root = os.path.dirname(PACKAGE_DIR)
  for dirpath, _, files in os.walk(PACKAGE_DIR):
    for name in files:
      if name.endswith(".py"):
        path = os.path.join(dirpath, name)
        module = os.path.relpath(path, root)[:-3].replace(os.sep, ".")
        yield module.removesuffix(".__init__"), path


def test_every_module_belongs_to_a_layer():
  orphans = [m for m, _ in _modules()
             if layer(m) < 0 and m not in ("cdnrec", "cdnrec._environment")]
  assert not orphans, f"add these to LAYERS: {orphans}"


def test_imports_point_down_only():
  found = []
  for module, path in _modules():
    with open(path, encoding="utf-8") as f:
      found += upward_imports(module, f.read())
  assert not found, "imports that point up a layer:\n" + "\n".join(found)


@pytest.mark.parametrize("module,source,upward", [
    ("cdnrec.core.split", "from cdnrec.models import training", True),
    ("cdnrec.models.modules.loss", "import cdnrec.models.registry", True),
    ("cdnrec.models.training", "def f():\n  from cdnrec.components import "
     "local\n", True),
    ("cdnrec.pipeline.pipeline", "from cdnrec.core import features", False),
    ("cdnrec.models.registry", "from cdnrec.models.modules import loss",
     False),
    ("cdnrec.core.blessing", "from cdnrec import _environment", False),
])
def test_the_check_sees_an_upward_import(module, source, upward):
  assert bool(upward_imports(module, source)) == upward
