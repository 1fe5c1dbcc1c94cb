"""The learning-curve benchmark's config building (a real point takes hours)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

from rankdistill.config import load_config
from tests.fixtures.benchmarks import load_benchmark

ROOT = Path(__file__).resolve().parents[2]


def _data_scale() -> ModuleType:
    return load_benchmark("data_scale")


def test_a_point_is_the_shipped_scale_config_with_its_counts(tmp_path: Path) -> None:
    bench = _data_scale()
    shipped = load_config("trec-dl-scale")
    cfg = bench.point_config("real+squad2k+crop2k", bench.POINTS["real+squad2k+crop2k"], tmp_path)
    assert cfg.name == "real+squad2k+crop2k"
    assert cfg.run_dir == tmp_path / "real+squad2k+crop2k"
    assert cfg.data.train == shipped.data.train and cfg.data.dev == shipped.data.dev
    assert cfg.generate.exclude == shipped.generate.exclude
    by_name = {s.name: s for s in cfg.generate.sources}
    assert sorted(by_name) == ["crop", "squad"]
    assert by_name["crop"].max_queries == by_name["squad"].max_queries == 2000
    assert by_name["crop"].candidates == by_name["squad"].candidates == 30
    crop = by_name["crop"].generation
    assert crop is not None and crop.method == "crop" and crop.max_passages == 4000
    assert by_name["crop"].corpus == shipped.generate.sources[0].corpus
    assert by_name["squad"].generation is None
    assert cfg.labeling == shipped.labeling and not cfg.selection.enabled
    (student,) = cfg.training.students
    point = bench.Point()
    assert (student.group_size, student.batch_size, student.max_length) == (
        point.group_size,
        point.batch_size,
        point.max_length,
    )
    assert (student.learning_rate, student.epochs, student.max_steps) == (
        point.learning_rate,
        point.epochs,
        point.max_steps,
    )
    assert (student.groups_per_query, student.eval_steps, student.precision) == (1, 300, "fp32")


def test_the_shipped_recipe_trains_the_best_measured_point(tmp_path: Path) -> None:
    """``trec-dl-scale`` is the curve's best point (``best_point`` in the results): the same
    sources and the same student, but for precision, which the recipe leaves to the
    machine (``auto``: bf16 where it is native, as the point was measured)."""
    bench = _data_scale()
    best = json.loads(bench.RESULTS.read_text())["best_point"]
    shipped = load_config("trec-dl-scale")
    point = bench.point_config(best, bench.POINTS[best], tmp_path)
    assert point.generate.sources == shipped.generate.sources
    assert point.data == shipped.data and point.labeling == shipped.labeling
    (point_student,) = point.training.students
    (shipped_student,) = shipped.training.students
    assert shipped_student.precision == "auto" and point_student.precision in {"bf16", "fp32"}
    assert point_student.model_copy(update={"precision": "auto"}) == shipped_student


def test_the_best_point_is_nearest_parity_on_its_weaker_set() -> None:
    bench = _data_scale()

    def entry(name: str, dl20: float, nfcorpus: float) -> dict[str, object]:
        return {
            "point": name,
            "student_over_teacher_dl20": dl20,
            "student_over_teacher_nfcorpus": nfcorpus,
        }

    entries = [entry("dl-only", 0.99, 0.90), entry("both", 0.97, 0.95), entry("nf", 0.93, 0.96)]
    assert bench.best_point(entries)["point"] == "both"
    results = json.loads(bench.RESULTS.read_text())
    assert results["best_point"] == bench.best_point(results["points"].values())["point"]


def test_a_keyword_source_the_recipe_ships_is_used_once_as_shipped() -> None:
    bench = _data_scale()
    shipped = load_config("trec-dl-scale").model_dump(mode="json")["generate"]["sources"]
    sources = bench.point_sources(bench.Point(crop=10, keyword=20), shipped)
    assert [(s["name"], s["max_queries"]) for s in sources] == [("crop", 10), ("crop-keyword", 20)]
    # The shipped keyword source is the one the curve derives from the crop source, so the
    # points measured before the recipe shipped it keep their config fingerprints.
    crop = next(s for s in shipped if s["name"] == "crop")
    without = bench.point_sources(
        bench.Point(crop=10, keyword=20), [s for s in shipped if s["name"] != "crop-keyword"]
    )
    assert without == sources and bench.keyword_source(crop)["generation"]["seed"] == 14


def test_a_point_without_a_source_has_no_generate_work_and_one_without_real_queries_no_train(
    tmp_path: Path,
) -> None:
    bench = _data_scale()
    real = bench.point_config("real", bench.POINTS["real"], tmp_path)
    assert real.generate.sources == []
    squad_only = bench.point_config("s", bench.Point(real=False, squad=10, candidates=5), tmp_path)
    assert squad_only.data.train.format == "none"
    (squad,) = squad_only.generate.sources
    assert (squad.name, squad.max_queries, squad.candidates) == ("squad", 10, 5)


def test_an_llm_point_writes_queries_for_the_crop_corpus_through_llama_cpp(
    tmp_path: Path,
) -> None:
    bench = _data_scale()
    cfg = bench.point_config("real+llm1k", bench.POINTS["real+llm1k"], tmp_path)
    (llm,) = cfg.generate.sources
    crop = load_config("trec-dl-scale").generate.sources[0]
    assert (llm.name, llm.max_queries, llm.corpus) == ("llm", 1000, crop.corpus)
    assert llm.generation is not None and llm.generation.method == "llm"
    assert llm.generation.max_passages == 2000
    assert (llm.generation.backend.kind, llm.generation.backend.model) == (
        "llama-cpp",
        bench.LLM_MODEL,
    )


@pytest.mark.parametrize(
    ("base_name", "variant_name", "changed"),
    [
        ("real+squad2k+crop2k", "real+squad2k+crop2k+floor", {"known_positive": "floor"}),
        ("real+squad4k+crop4k", "real+squad4k+crop4k+len256", {"max_length": 256}),
        # Its short phase is the base's whole run: the base's checkpoints up to step
        # 0.9 x 2,033 are its own.
        (
            "real+squad4k+crop4k",
            "real+squad4k+crop4k+short-first",
            {"max_length": 256, "short_first": {"max_length": 128, "fraction": 0.9}},
        ),
        ("real+squad8k+crop8k", "real+squad8k+crop8k+bf16", {"precision": "bf16"}),
        (
            "real+squad4k+crop4k",
            "real+squad4k+crop4k+margin",
            {"loss": "margin-mse", "precision": "bf16"},
        ),
        ("real+squad2k+crop2k", "real+squad2k+crop2k+margin", {"loss": "margin-mse"}),
        ("real+squad2k+crop2k", "real+squad2k+crop2k+alpha4", {"alpha": 4.0}),
        (
            "real+squad2k+crop2k",
            "real+squad2k+crop2k+alpha4+ema",
            {"alpha": 4.0, "ema_decay": 0.995},
        ),
        (
            "real+squad2k+crop2k",
            "real+squad2k+crop2k+alpha4+gpq2",
            {"alpha": 4.0, "groups_per_query": 2},
        ),
    ],
)
def test_a_student_variant_shares_every_stage_but_training_with_its_base_point(
    tmp_path: Path, base_name: str, variant_name: str, changed: dict[str, object]
) -> None:
    """Copying the base point's run folder to the variant's name re-runs training only:
    every stage up to the teacher has the same config fingerprint."""
    from rankdistill.pipeline.context import RunContext
    from rankdistill.pipeline.stages import STAGES

    bench = _data_scale()
    base, variant = (
        RunContext(bench.point_config(name, bench.POINTS[name], tmp_path), base_dir=ROOT)
        for name in (base_name, variant_name)
    )
    same = [s.name for s in STAGES if base.fingerprint(s) == variant.fingerprint(s)]
    assert same == ["load", "select", "generate", "retrieve", "prerank", "label", "teacher"]
    base_student = base.config.training.students[0].model_dump()
    variant_student = variant.config.training.students[0].model_dump()
    # (a field left at a default of a newer version is not dumped, so compare with get)
    keys = base_student.keys() | variant_student.keys()
    diff = {
        k: variant_student.get(k) for k in keys if base_student.get(k) != variant_student.get(k)
    }
    assert diff == changed


def _entry(point: str, dl20: float, nfcorpus: float) -> dict[str, object]:
    return {
        "point": point,
        "training_queries": 100,
        "dl20": {"bm25": 0.48, "teacher": 0.6, "student": dl20},
        "nfcorpus": {"bm25": 0.35, "teacher": 0.36, "student": nfcorpus},
        "student_over_teacher_dl20": dl20 / 0.6,
        "student_over_teacher_nfcorpus": nfcorpus / 0.36,
    }


def test_saving_a_point_keeps_the_others_and_names_the_one_nearest_parity(tmp_path: Path) -> None:
    bench = _data_scale()
    path = tmp_path / "data_scale.json"
    path.write_text(json.dumps({"partial_points": {"b": {"status": "stopped"}, "c": {}}}))
    bench.save(_entry("a", 0.55, 0.34), (0.1, 0.2, 0.3), path)
    bench.save(_entry("b", 0.60, 0.30), (0.1, 0.2, 0.3), path)
    results = json.loads(path.read_text())
    assert sorted(results["points"]) == ["a", "b"]
    assert results["partial_points"] == {"c": {}}, "a finished point is no longer partial"
    # b is level with its teacher on DL 2020 but at 0.83 on NFCorpus; a is at 0.92 and 0.94.
    assert results["best_point"] == "a"
    assert results["student_over_teacher_dl20"] == 0.55 / 0.6
    assert results["student_over_teacher_nfcorpus"] == 0.34 / 0.36
    assert path.with_suffix(".png").stat().st_size > 0


def test_the_parity_panel_names_each_point_near_parity_once_in_order_the_best_in_bold() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bench = _data_scale()
    # ratios (0.92, 0.94), (1.0, 0.83) and (0.5, 0.5): the last is below the panel's floor.
    points = [_entry("a", 0.55, 0.34), _entry("b", 0.60, 0.30), _entry("c", 0.30, 0.18)]
    fig, ax = plt.subplots()
    bench.parity_panel(ax, points)
    texts = [t for t in ax.texts if t.get_text() in {"a", "b", "c"}]
    assert [t.get_text() for t in texts] == ["a", "b"]  # top to bottom by NFCorpus ratio
    assert [t.get_fontweight() for t in texts] == ["bold", "normal"]
    assert ax.get_xlim()[1] > 1.0 and ax.get_ylim()[1] > 1.0  # parity itself is in view
    plt.close(fig)


def test_variants_are_told_apart_from_the_curve_by_how_their_student_trains() -> None:
    bench = _data_scale()
    variants = {
        name for name, p in bench.POINTS.items() if bench.is_variant({"config": p.__dict__})
    }
    assert variants == {
        "real+squad2k+crop2k+floor",
        "real+squad4k+crop4k+len256",
        "real+squad4k+crop4k+short-first",
        "real+squad8k+crop8k+bf16",
        "real+squad4k+crop4k+margin",
        "real+squad2k+crop2k+margin",
        "real+squad2k+crop2k+alpha4",
        "real+squad2k+crop2k+alpha4+ema",
        "real+squad2k+crop2k+alpha4+gpq2",
        "real+squad2k+crop2k+kw2k+alpha4+gpq2+bf16",
        "real+squad2k+crop2k+kw2k+alpha4+gpq2+bf16+c100",
        "real+squad2k+crop2k+kw2k+alpha4+bf16",
        "real-1033-steps",
    }
    assert bench.variant_label("real+squad4k+crop4k+short-first") == "+short-first"
    assert bench.variant_label("real+squad2k+crop2k+kw2k+alpha4+gpq2+bf16") == (
        "+kw2k+alpha4+gpq2+bf16"
    )
    assert bench.variant_label("real+llm500") == "+llm500"
    assert bench.variant_label("real-1033-steps") == "real-1033-steps"


def test_other_source_mixes_are_drawn_apart_from_the_squad_and_crop_curve() -> None:
    bench = _data_scale()
    mixes = {name: bench.other_source({"config": p.__dict__}) for name, p in bench.POINTS.items()}
    assert {n: s for n, s in mixes.items() if s} == {
        "real+squad4k+crop2k+kw2k": "keyword",
        "real+squad2k+crop2k+kw2k+alpha4+gpq2+bf16": "keyword",
        "real+squad2k+crop2k+kw2k+alpha4+gpq2+bf16+c100": "keyword",
        "real+squad2k+crop2k+kw2k+alpha4+bf16": "keyword",
        "real+llm1k": "llm",
        "real+llm500": "llm",
    }


def test_keyword_crops_are_a_source_of_their_own_over_other_passages(tmp_path: Path) -> None:
    bench = _data_scale()
    name = "real+squad4k+crop2k+kw2k"
    cfg = bench.point_config(name, bench.POINTS[name], tmp_path)
    by_name = {s.name: s for s in cfg.generate.sources}
    assert sorted(by_name) == ["crop", "crop-keyword", "squad"]
    crop, keyword = by_name["crop"], by_name["crop-keyword"]
    assert crop.max_queries == keyword.max_queries == 2000 and by_name["squad"].max_queries == 4000
    assert keyword.corpus == crop.corpus
    assert crop.generation is not None and keyword.generation is not None
    assert (crop.generation.style, keyword.generation.style) == ("question", "keyword")
    # Another seed: the keyword crops come from another draw of passages.
    assert keyword.generation.seed != crop.generation.seed


def test_nfcorpus_scores_reuse_kept_runs_and_score_them_with_the_qrels(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from rankdistill.data.trec import write_trec_run

    bench = _data_scale()
    beir = tmp_path / "data" / "nfcorpus" / "test"
    (beir / "qrels").mkdir(parents=True)
    docs = {"d1": "vitamin d bone", "d2": "statin heart", "d3": "soy milk"}
    (beir / "corpus.jsonl").write_text(
        "".join(json.dumps({"_id": d, "title": "", "text": t}) + "\n" for d, t in docs.items())
    )
    (beir / "queries.jsonl").write_text(
        "".join(json.dumps({"_id": q, "text": t}) + "\n" for q, t in {"q1": "bones"}.items())
    )
    (beir / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t2\n")
    monkeypatch.setattr(sys.modules["_nfcorpus"], "NFCORPUS_TEST", beir)
    out = tmp_path / "runs"
    # Kept runs: BM25 and the teacher put the relevant d1 second, the student first. No
    # model loads (the student folder does not exist): every run is read back.
    write_trec_run({"q1": {"d2": 3.0, "d1": 2.0, "d3": 1.0}}, out / "nfcorpus" / "bm25.trec")
    write_trec_run({"q1": {"d2": 0.9, "d1": 0.8, "d3": 0.1}}, out / "nfcorpus" / "teacher.trec")
    kept = out / "a" / "evaluate" / "nfcorpus-student.trec"
    kept.parent.mkdir(parents=True)
    write_trec_run({"q1": {"d1": 5.0, "d2": 1.0, "d3": 0.0}}, kept)
    scores = bench.nfcorpus_scores(tmp_path / "no-such-student", out, "cpu", kept)
    second = 1 / 1.584962500721156  # 1 / log2(3): the one relevant document at rank 2
    assert scores == pytest.approx({"bm25": second, "teacher": second, "student": 1.0})


def test_the_dev_curve_is_read_from_the_training_history(tmp_path: Path) -> None:
    import json

    history = [
        {"step": 10, "loss": 3.0},
        {"step": 300, "eval_nDCG@10": 0.51234, "eval_RR@10": 0.7},
        {"step": 300, "loss": 2.0},
        {"step": 600, "eval_nDCG@10": 0.55},
    ]
    (tmp_path / "model").mkdir()
    (tmp_path / "history.json").write_text(json.dumps(history))
    assert _data_scale().dev_curve(tmp_path / "model") == {"300": 0.5123, "600": 0.55}
