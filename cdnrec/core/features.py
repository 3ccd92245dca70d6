"""The feature contract between ExampleGen, the Beam statistics and the model.

Every tf.Example the pipeline writes carries `user_id`, `item_id` and
`timestamp`, plus the user features (prefixed `user_`) and the item content
features (prefixed `item_`) of the dataset. The item id is the memorization
feature; the item content features are the generalization features
(section 3.1.1 of the CDN paper). `FeatureConfig` records which is which and
travels as JSON in the ItemCatalog artifact, so the Trainer never guesses.
"""

import dataclasses
import enum
import json
from typing import List, Optional, Sequence

from cdnrec.core import atomic

USER_ID = "user_id"
ITEM_ID = "item_id"
TIMESTAMP = "timestamp"
# Position of the item's first appearance in the interaction log; the
# protocol breaks timestamp and frequency ties with it.
ITEM_INDEX = "item_index"


class Kind(str, enum.Enum):
  CATEGORICAL = "categorical"            # one token
  CATEGORICAL_LIST = "categorical_list"  # a bag of tokens
  NUMERIC = "numeric"                    # one float


_KIND_OF_FIELD_TYPE = {
    atomic.FieldType.TOKEN: Kind.CATEGORICAL,
    atomic.FieldType.TOKEN_SEQ: Kind.CATEGORICAL_LIST,
    atomic.FieldType.FLOAT: Kind.NUMERIC,
}


@dataclasses.dataclass(frozen=True)
class Feature:
  """One model input.

  Attributes:
    name: key in the tf.Example and in the serving signature.
    source: column name in the source file.
    kind: how the model encodes it.
  """
  name: str
  source: str
  kind: Kind


@dataclasses.dataclass(frozen=True)
class FeatureConfig:
  """Which features feed which tower.

  Attributes:
    user_features: user-side inputs besides `user_id`.
    item_features: item content (generalization) features; the item id is
      the memorization feature.
  """
  user_features: List[Feature]
  item_features: List[Feature]

  def to_json(self) -> str:
    return json.dumps({
        "user_features": [dataclasses.asdict(f) for f in self.user_features],
        "item_features": [dataclasses.asdict(f) for f in self.item_features],
    }, indent=2)

  @classmethod
  def from_json(cls, text: str) -> "FeatureConfig":
    data = json.loads(text)
    load = lambda items: [Feature(d["name"], d["source"], Kind(d["kind"]))
                          for d in items]
    return cls(load(data["user_features"]), load(data["item_features"]))


def _prefixed(prefix: str, name: str) -> str:
  return name if name.startswith(prefix) else prefix + name


def _features(fields: Sequence[atomic.Field], id_field: str, prefix: str,
              path: str) -> List[Feature]:
  features = []
  for field in fields:
    if field.name == id_field:
      continue
    if field.type not in _KIND_OF_FIELD_TYPE:
      raise atomic.DataFormatError(
          f"{path}: field '{field.header}' has a type the model cannot use "
          f"yet; supported: {[t.value for t in _KIND_OF_FIELD_TYPE]}")
    features.append(Feature(_prefixed(prefix, field.name), field.name,
                            _KIND_OF_FIELD_TYPE[field.type]))
  return features


def _select(features: List[Feature], keep: Optional[Sequence[str]],
            side: str) -> List[Feature]:
  if keep is None:
    return features
  known = {f.source: f for f in features}
  unknown = [k for k in keep if k not in known]
  if unknown:
    raise atomic.DataFormatError(
        f"{side} features {unknown} are not columns of the dataset; "
        f"available: {sorted(known)}")
  return [known[k] for k in keep]


def from_dataset(dataset: atomic.AtomicDataset,
                 user_columns: Optional[Sequence[str]] = None,
                 item_columns: Optional[Sequence[str]] = None
                 ) -> FeatureConfig:
  """By default every non-id column of the user file is a user feature and
  every non-id column of the item file a generalization feature (for the
  bundled readers: the paper's Table 7). user_columns / item_columns keep
  only the named columns (an empty list: none)."""
  return FeatureConfig(
      user_features=_select(_features(dataset.user_fields, USER_ID, "user_",
                                      dataset.user_path or ""),
                            user_columns, "user"),
      item_features=_select(_features(dataset.item_fields, ITEM_ID, "item_",
                                      dataset.item_path or ""),
                            item_columns, "item"),
  )
