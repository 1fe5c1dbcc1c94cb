"""The typed config: defaults, YAML round trip, overrides and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from rankdistill.config import (
    ConfigError,
    RunConfig,
    dump_config,
    load_config,
    save_config,
    shipped_configs,
)


def test_defaults_round_trip_through_yaml(tmp_path: Path) -> None:
    cfg = load_config(None)
    path = save_config(cfg, tmp_path / "resolved.yaml")
    again = load_config(path)
    assert again == cfg
    assert again.model_dump() == RunConfig().model_dump()


@pytest.mark.parametrize("name", shipped_configs())
def test_every_shipped_config_validates_and_round_trips(name: str, tmp_path: Path) -> None:
    cfg = load_config(name)
    assert cfg.name == name
    path = save_config(cfg, tmp_path / f"{name}.yaml")
    assert load_config(path) == cfg


def test_shipped_configs_include_demo_and_trec_dl() -> None:
    assert {"demo", "trec-dl", "gpu-7b"} <= set(shipped_configs())


def test_overrides_keep_yaml_types() -> None:
    cfg = load_config(
        "demo",
        [
            "training.students.0.max_steps=7",
            "labeling.missing_as_negative=false",
            "evaluation.metrics=[nDCG@10, PNR]",
            "retrieval.stemmer=null",
        ],
    )
    assert cfg.training.students[0].max_steps == 7
    assert cfg.labeling.missing_as_negative is False
    assert cfg.evaluation.metrics == ["nDCG@10", "PNR"]
    assert cfg.retrieval.stemmer is None


def test_student_override_on_defaults_expands_the_default_list() -> None:
    cfg = load_config(None, ["training.students.0.loss=ranknet"])
    assert cfg.training.students[0].loss == "ranknet"


def test_unknown_field_names_its_path(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"labeling": {"mehtod": "rradistill"}}))
    with pytest.raises(ConfigError, match=r"bad\.yaml.*labeling\.mehtod"):
        load_config(path)


def test_wrong_type_names_its_path(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("retrieval:\n  k: many\n")
    with pytest.raises(ConfigError, match=r"retrieval\.k"):
        load_config(path)


def test_invalid_yaml_and_missing_config_are_clear(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("a: [1, 2\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_config(path)
    with pytest.raises(ConfigError, match="neither a file nor a shipped config"):
        load_config("no-such-config")
    with pytest.raises(ConfigError, match=r"key\.path=value"):
        load_config(None, ["training"])


def test_dump_spells_out_every_default() -> None:
    text = dump_config(load_config("demo"))
    data = yaml.safe_load(text)
    assert data["labeling"]["prerank"]["top_k"] == 8
    assert data["labeling"]["grading"] == "linear"  # a default not written in demo.yaml
    assert data["training"]["students"][1]["tcl"]["lambda_tcl"] == 0.5


def test_a_student_that_cannot_export_to_a_format_fails_at_load_naming_the_fields() -> None:
    # gpu-7b as it shipped before: an rra-gpt student with the default export formats,
    # which include sentence-transformers (a CrossEncoder folder, for cross-encoders only).
    default_formats = RunConfig().export.formats
    assert "sentence-transformers" in default_formats
    with pytest.raises(ConfigError) as caught:
        load_config("gpu-7b", [f"export.formats=[{', '.join(default_formats)}]"])
    message = str(caught.value)
    assert "gpu-7b" in message and "export.formats" in message
    assert "training.students.2 (student: rra-gpt)" in message
    assert "sentence-transformers" in message and "onnx-int8" in message
    # The shipped gpu-7b leaves that format out and loads.
    cfg = load_config("gpu-7b")
    assert cfg.training.students[2].student == "rra-gpt"
    assert "sentence-transformers" not in cfg.export.formats


def test_an_override_past_the_end_of_a_list_names_the_key_and_the_length() -> None:
    with pytest.raises(ConfigError, match=r"training\.students has 2 entries .* no index 5"):
        load_config("demo", ["training.students.5.loss=x"])
    with pytest.raises(ConfigError, match=r"'x' is not an index"):
        load_config("demo", ["training.students.x.loss=ranknet"])


def test_registered_names_are_checked_and_listed(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"training\.students\.0\.loss: unknown loss 'x'.*ranknet"
    ):
        load_config("demo", ["training.students.0.loss=x"])
    with pytest.raises(ConfigError, match=r"labeling\.method: unknown labelling method"):
        load_config("demo", ["labeling.method=listwise"])
    with pytest.raises(ConfigError, match=r"labeling\.prerank\.scorer: .*first-stage, bm25"):
        load_config("demo", ["labeling.prerank.scorer=colbert"])
    with pytest.raises(ConfigError, match=r"export\.formats\.0: unknown export format 'tflite'"):
        load_config("demo", ["export.formats=[tflite]"])


def test_label_quality_gates_have_bounded_defaults() -> None:
    cfg = load_config("demo").labeling
    assert 0 < cfg.max_parse_failure_rate < 1 and 0 < cfg.max_missing_rate < 1
    with pytest.raises(ConfigError, match=r"labeling\.max_missing_rate"):
        load_config("demo", ["labeling.max_missing_rate=1.5"])


def test_loss_options_are_checked_against_the_loss_that_takes_them() -> None:
    listnet = ["training.students.0.loss=listnet"]
    cfg = load_config("demo", [*listnet, "training.students.0.loss_options={temperature: 2}"])
    assert cfg.training.students[0].loss_options == {"temperature": 2.0}
    with pytest.raises(ConfigError, match=r"students\.0\.loss_options: loss 'listnet' takes no "):
        load_config("demo", [*listnet, "training.students.0.loss_options={temperatur: 2}"])
