"""The reference model: what a kernel of each ABI profile returns for every scenario step."""

from rig.model.predict import (
    PROFILES,
    ScenarioPrediction,
    StepPrediction,
    expect_disagreements,
    predict,
    validation_problems,
)

__all__ = ["PROFILES", "ScenarioPrediction", "StepPrediction", "expect_disagreements", "predict",
           "validation_problems"]
