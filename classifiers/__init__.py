"""The tagging engine: which prospects an item concerns and which funnel stages it helps.

Imports nothing from ``aggregator`` or ``web``. Importing this package loads
scikit-learn, so callers that only need ``--help`` should import it lazily.
"""

from classifiers.evaluate import Evaluation, cross_validate
from classifiers.metrics import Report, render, score
from classifiers.prospects import ProspectTagger
from classifiers.stages import StageModel, StageModelParams
from classifiers.tagger import Tagger, default_model
from classifiers.training import (
    LabelError,
    ModelError,
    TrainedModel,
    gather,
    labeled_from_dict,
    load_model,
    read_jsonl,
    save_model,
    train,
    train_in_background,
)
from classifiers.types import STAGES, ItemTags, LabeledItem, ProspectProfile, ProspectTag, TextItem

__all__ = [
    "STAGES",
    "Evaluation",
    "ItemTags",
    "LabelError",
    "LabeledItem",
    "ModelError",
    "ProspectProfile",
    "ProspectTag",
    "ProspectTagger",
    "Report",
    "StageModel",
    "StageModelParams",
    "Tagger",
    "TextItem",
    "TrainedModel",
    "cross_validate",
    "default_model",
    "gather",
    "labeled_from_dict",
    "load_model",
    "read_jsonl",
    "render",
    "save_model",
    "score",
    "train",
    "train_in_background",
]
