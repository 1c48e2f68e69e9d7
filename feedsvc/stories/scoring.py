"""The learned part of the engine: a small logistic model over pair signals.

``StoryModel`` turns the signals comparing an item with a candidate story (see
``FEATURES``) into the probability that they report the same story; the engine
multiplies it by a fixed time prior and joins at ``join_threshold``. The
weights and thresholds are data, fitted and calibrated by
``bench/fit_story_model.py`` and shipped as ``weights.json`` next to this
module. Pure: no I/O except reading that file once.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from operator import mul
from typing import Any

# The signals of an item against a candidate story, in the order of the weights.
FEATURES: tuple[str, ...] = (
    "centroid",  # cosine with the story's summed vector
    "best",  # cosine with the story's best-matching member
    "second",  # cosine with its second-best member (0 for a one-member story)
    "names",  # log(1 + names shared with the best member, spelling variants included)
    "numbers",  # log(1 + numbers shared with the best member); never negative evidence
    "words",  # log(1 + words shared with the best member)
    "outlet",  # 1 if the item's outlet is already in the story
    "size",  # log(1 + members of the story)
    "evidence",  # log(1 + word terms of the shorter of item and best member): headline or article
)

WEIGHTS_FILE = "weights.json"


@dataclass(frozen=True, slots=True)
class StoryModel:
    """Logistic weights over ``FEATURES`` and the calibrated decision thresholds."""

    bias: float
    weights: tuple[float, ...]
    join_threshold: float
    merge_threshold: float
    features: tuple[str, ...] = FEATURES
    note: str = ""

    def __post_init__(self) -> None:
        if len(self.weights) != len(self.features):
            raise ValueError("one weight per feature")
        if not 0.0 < self.join_threshold <= self.merge_threshold:
            raise ValueError("need 0 < join_threshold <= merge_threshold")

    def logit(self, values: Sequence[float]) -> float:
        """Return the log-odds of one story for a feature vector."""
        return sum(map(mul, self.weights, values), self.bias)

    def probability(self, values: Sequence[float]) -> float:
        """Return the probability of one story for a feature vector."""
        return sigmoid(self.logit(values))

    def contributions(self, values: Sequence[float]) -> dict[str, float]:
        """Return each feature's contribution to the log-odds (and the bias)."""
        parts = {"bias": self.bias}
        pairs = zip(self.features, self.weights, values, strict=True)
        parts.update({feature: w * v for feature, w, v in pairs})
        return parts

    def with_thresholds(self, join: float, merge: float) -> StoryModel:
        """Return a copy with other join and merge thresholds."""
        return replace(self, join_threshold=join, merge_threshold=merge)

    def to_json(self) -> dict[str, Any]:
        """Return the model as the JSON object kept in ``weights.json``."""
        return {
            "note": self.note,
            "bias": self.bias,
            "weights": dict(zip(self.features, self.weights, strict=True)),
            "join_threshold": self.join_threshold,
            "merge_threshold": self.merge_threshold,
        }


def sigmoid(x: float) -> float:
    """Return the logistic function of ``x`` without overflow."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def model_from_json(data: Mapping[str, Any]) -> StoryModel:
    """Build a model from its JSON object; every feature must have a weight."""
    weights = data["weights"]
    missing = [f for f in FEATURES if f not in weights]
    if missing:
        raise ValueError(f"weights.json lacks weights for {missing}")
    return StoryModel(
        bias=float(data["bias"]),
        weights=tuple(float(weights[f]) for f in FEATURES),
        join_threshold=float(data["join_threshold"]),
        merge_threshold=float(data["merge_threshold"]),
        note=str(data.get("note", "")),
    )


@cache
def default_model() -> StoryModel:
    """Return the model shipped with the package (read once)."""
    text = resources.files("feedsvc.stories").joinpath(WEIGHTS_FILE).read_text(encoding="utf-8")
    return model_from_json(json.loads(text))
