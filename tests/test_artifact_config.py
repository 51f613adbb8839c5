"""The artifact's config.json as a typed, validated ArtifactConfig: round trips keep the file's bytes,
unknown keys survive, wrong types fail with expected / found / how to fix."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from sada.models.artifact_config import (ArtifactConfig, ArtifactConfigError, EncoderSpec, FinetuneFacts,
                                         NegativeRule, TaxonomyFacts, ThemeCalibration, ThemeScore, ThemeThreshold)
from sada.models.classifier import DEFAULT_ARTIFACT, Classifier
from sada.pipeline.errors import ConfigError, SadaError


def test_the_shipped_config_round_trips_byte_for_byte() -> None:
    path = DEFAULT_ARTIFACT / "config.json"
    config = ArtifactConfig.from_json(path)
    assert config.to_json() == path.read_text(encoding="utf-8")
    assert config.encoder is not None and len(config.encoder.sha256 or "") == 64
    assert config.theme_ids and set(config.theme_ids) == set(config.theme_thresholds or {})
    assert config.extra == {}  # every key the shipped model has is a typed field


def test_the_shipped_training_facts_are_typed_records() -> None:
    config = ArtifactConfig.from_json(DEFAULT_ARTIFACT / "config.json")
    assert isinstance(config.finetune, FinetuneFacts) and config.finetune.top_layers == 12
    assert isinstance(config.theme_calibration, ThemeCalibration)
    delivery = config.theme_calibration.themes["delivery"]
    assert isinstance(delivery, ThemeThreshold) and delivery.source in ("own", "pooled")
    assert delivery.threshold == config.theme_thresholds["delivery"]
    scores = next(iter(config.theme_cross_validated.values()))
    assert isinstance(scores["micro"], ThemeScore) and 0 <= scores["micro"].f1 <= 1


def test_nested_facts_keep_unknown_keys_nulls_and_order() -> None:
    data = {"negative_rule": {"scores": {"1.0": {"negative_f1": None, "mean_macro_f1": 0.5, "later": 1}},
                              "weight": 1.0, "chosen": "given"},
            "finetune": {"steps": 2, "continued_from": {"file": "encoder_top.safetensors", "steps": 5, "new": "x"}},
            "taxonomy": {"version": "v", "source": "mine", "zero_shot": []},
            "theme_calibration": {"themes": {"a": {"source": "own", "threshold": 0.4}}, "pooled_f1": float("nan")}}
    config = ArtifactConfig.from_json(data)
    assert config.to_json() == json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    assert config.negative_rule == NegativeRule.from_json(data["negative_rule"]) and config.negative_rule.weight == 1.0
    assert config.negative_rule.scores["1.0"].extra == {"later": 1}
    before = config.finetune.continued_from
    assert before.file == "encoder_top.safetensors" and before.steps == 5 and before.extra == {"new": "x"}
    assert config.taxonomy.zero_shot == () and config.zero_shot_themes == ()


def test_a_fact_set_in_code_as_an_object_becomes_its_record() -> None:
    config = replace(ArtifactConfig(), taxonomy={"source": "mine", "zero_shot": ["parking"]},
                     finetune={"steps": 3, "lr": 1e-5})
    assert config.taxonomy == TaxonomyFacts(source="mine", zero_shot=("parking",))
    assert config.finetune.steps == 3 and config.zero_shot_themes == ("parking",)
    assert config.as_dict() == {"finetune": {"steps": 3, "lr": 1e-5},
                                "taxonomy": {"source": "mine", "zero_shot": ["parking"]}}
    fitted = replace(config, taxonomy=replace(config.taxonomy, few_shot=("atm",), labelled_texts=40))
    assert list(fitted.as_dict()["taxonomy"]) == ["source", "zero_shot", "few_shot", "labelled_texts"]


def test_unknown_keys_nulls_and_order_survive_a_round_trip() -> None:
    data = {"model_version": "m-2", "a_newer_key": {"x": [1, 2.50]}, "seed": None,
            "encoder": {"sha256": "ab", "future": True}, "theme_thresholds": {"b": 1, "a": 0.5}, "labels": ["x"]}
    config = ArtifactConfig.from_json(data)
    assert config.extra == {"a_newer_key": {"x": [1, 2.5]}} and config.encoder.extra == {"future": True}
    assert config.to_json() == json.dumps(data, ensure_ascii=False, indent=2) + "\n"  # null kept, 1 stays 1
    # a field set afterwards goes where sada train writes it; the file's own keys keep their places
    later = replace(config, theme_ids=("b", "a"), taxonomy={"zero_shot": ["a"]})
    assert list(later.as_dict()) == [*data, "theme_ids", "taxonomy"] and later.zero_shot_themes == ("a",)


def test_a_config_built_in_code_is_written_in_train_order() -> None:
    config = ArtifactConfig(theme_ids=("a",), model_version="v", seed=0,
                            encoder=EncoderSpec(name="e", sha256="s", prefix="query: ", max_length=8))
    assert list(config.as_dict()) == ["seed", "encoder", "model_version", "theme_ids"]
    assert config.as_dict()["encoder"] == {"name": "e", "path": None, "sha256": "s", "prefix": "query: ",
                                           "max_length": 8}  # path: null, as sada train writes it


#: key, its value, the type expected, and the value found as the message quotes it (nested: the wrong leaf)
WRONG_TYPES = [
    ("seed", "0", "a whole number", "'0'"),
    ("quantize", 1, "true or false", "1"),
    ("tfidf_input", "lowercase", "raw or normalised", "'lowercase'"),
    ("theme_ids", "delivery;price", "a list of strings", "'delivery;price'"),
    ("theme_thresholds", {"delivery": "0.4"}, "an object of theme id: number", "{'delivery': '0.4'}"),
    ("training_data", {"corpus": 1.5}, "an object of source: whole number", "{'corpus': 1.5}"),
    ("encoder", {"max_length": "256"}, "a whole number", "'256'"),
    ("negative_rule", {"weight": "1.5"}, "a number", "'1.5'"),
    ("negative_rule", {"scores": {"1.0": {"mean_macro_f1": "0.7"}}}, "a number", "'0.7'"),
    ("theme_calibration", {"themes": {"delivery": {"held_out_positives": 2.5}}}, "a whole number", "2.5"),
    ("theme_cross_validated", {"corpus dev": [0.5]}, "an object of theme id: scores", "[0.5]"),
    ("finetune", {"continued_from": {"steps": "10"}}, "a whole number", "'10'"),
    ("taxonomy", {"zero_shot": "parking"}, "a list of strings", "'parking'"),
]


@pytest.mark.parametrize("key, value, expected, found", WRONG_TYPES)
def test_a_wrong_type_says_expected_found_and_how_to_fix(key: str, value: object, expected: str, found: str) -> None:
    with pytest.raises(ArtifactConfigError) as info:
        ArtifactConfig.from_json({key: value})
    message = str(info.value)
    assert f"expected {expected}" in message and f"`{key}" in message and f"found {found} (" in message
    assert "sada train" in message and isinstance(info.value, ConfigError) and isinstance(info.value, SadaError)


def test_fields_set_in_code_are_checked_too() -> None:
    with pytest.raises(ArtifactConfigError, match="raw or normalised"):
        ArtifactConfig(encoder_input="lowercase")
    with pytest.raises(ArtifactConfigError, match="a whole number"):
        replace(ArtifactConfig(), seed=0.5)


def test_a_broken_artifact_fails_with_its_config_error(tmp_path: Path) -> None:
    (tmp_path / "weights.safetensors").write_bytes(b"")
    (tmp_path / "config.json").write_text(json.dumps({"model_version": 3}), encoding="utf-8")
    with pytest.raises(ArtifactConfigError, match="expected a string for `model_version`"):
        Classifier.from_pretrained(tmp_path)
    (tmp_path / "config.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ArtifactConfigError, match="expected JSON"):
        Classifier.from_pretrained(tmp_path)
    (tmp_path / "config.json").write_text("[]", encoding="utf-8")
    with pytest.raises(ArtifactConfigError, match="expected a JSON object"):
        ArtifactConfig.from_json(tmp_path / "config.json")


def test_training_choices_are_typed_and_read_back_as_sada_reproduce_needs() -> None:
    from sada.models.train_driver import recorded_choices

    recorded = {"corpus": True, "shared_files": ["a.csv"], "per_source_cap": None, "source_caps": {"a.csv": 9},
                "negative_weight": None}
    config = ArtifactConfig.from_json({"training_options": recorded})
    assert config.training_options.shared_files == ("a.csv",) and config.training_options.source_caps == {"a.csv": 9}
    assert config.as_dict()["training_options"] == recorded  # nulls kept: null weight means "chosen"
    assert recorded_choices(config)["negative_weight"] is None
    older = {k: v for k, v in recorded.items() if k != "negative_weight"}  # written before the weight was recorded
    assert recorded_choices({"training_options": older})["negative_weight"] == 1.0
    assert recorded_choices(ArtifactConfig())["negative_weight"] == 1.0
    with pytest.raises(ArtifactConfigError, match="expected a whole number for `training_options.per_source_cap`"):
        ArtifactConfig.from_json({"training_options": {**recorded, "per_source_cap": "9"}})
