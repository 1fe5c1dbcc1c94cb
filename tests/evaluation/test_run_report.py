"""The run report (report.md / report.html): values, markers, sections, figures, escaping.

Inputs are small constructed runs and qrels evaluated with the real ``evaluate_run``;
expected numbers are recomputed independently (numpy / scipy) and parsed back out of the
Markdown tables.
"""

from __future__ import annotations

import base64
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image
from scipy import stats

from rankdistill.data.records import LabelRecord, Qrels, Run
from rankdistill.data.selection import length_bucket
from rankdistill.evaluation.metrics import evaluate_run, trec_order
from rankdistill.evaluation.report import SIGNIFICANT_MARK
from rankdistill.evaluation.run_report import (
    ReportInputs,
    ReportPaths,
    build_run_report,
    stats_tables,
)
from rankdistill.labeling.stats import label_statistics

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
METRICS = ["nDCG@10", "RR(rel=2)@10", "PNR"]
# Column headers of METRICS: PNR is pooled over queries, and says so.
HEADERS = ["nDCG@10", "RR(rel=2)@10", "PNR (pooled)"]
MEAN_METRICS = ["nDCG@10", "RR(rel=2)@10"]
SEGMENT_OF_BLOCK = ("head", "torso", "tail")
# Score noise per system: the smaller, the closer its ranking follows the grades.
SYSTEM_NOISE = {
    "first-stage": 2.5,
    "pre-ranker": 1.5,
    "teacher": 0.3,
    "0-cross-encoder": 0.8,
    "1-rra-bert": 1.0,
}
NUM_QUERIES = 18
DOCS_PER_QUERY = 15


@dataclass
class ReportCase:
    inputs: ReportInputs
    paths: ReportPaths
    markdown: str
    html: str


# --------------------------------------------------------------------------- inputs
def make_collection(seed: int = 0) -> tuple[Qrels, dict[str, Run], dict[str, str], dict[str, str]]:
    """qrels, runs per system, qid -> segment, qid -> query text."""
    rng = np.random.default_rng(seed)
    qids = [f"q{i:02d}" for i in range(1, NUM_QUERIES + 1)]
    qrels = {
        q: {
            f"{q}-d{j:02d}": int(g)
            for j, g in enumerate(rng.choice(4, DOCS_PER_QUERY, p=[0.45, 0.25, 0.18, 0.12]))
        }
        for q in qids
    }
    runs = {
        name: {
            q: {d: float(g + rng.normal(0.0, noise)) for d, g in docs.items()}
            for q, docs in qrels.items()
        }
        for name, noise in SYSTEM_NOISE.items()
    }
    block = NUM_QUERIES // len(SEGMENT_OF_BLOCK)
    segments = {q: SEGMENT_OF_BLOCK[i // block] for i, q in enumerate(qids)}
    texts = {q: " ".join(["word"] * (1 + i % 11)) for i, q in enumerate(qids)}
    return qrels, runs, segments, texts


def make_label_records(
    runs: dict[str, Run], qrels: Qrels, method: str, calls: int, prompt: int, completion: int
) -> list[LabelRecord]:
    records = []
    for i, (qid, docs) in enumerate(sorted(qrels.items())):
        order = trec_order(runs["teacher"][qid])
        listed = order[:10]
        records.append(
            LabelRecord(
                qid=qid,
                query=f"query {qid}",
                docids=order,
                method=method,
                teacher="smollm2-135m",
                grades={d: float(docs[d]) for d in listed},
                missing=order[10:],
                parse_problems={"unknown_id": 1} if i % 4 == 0 else {},
                llm_calls=calls,
                prompt_tokens=prompt + 10 * i,
                completion_tokens=completion,
                extra={"listed": listed, "prerank_scores": runs["pre-ranker"][qid]},
            )
        )
    return records


LATENCY_ROWS = [
    {
        "system": "0-cross-encoder",
        "backend": "torch",
        "pairs_per_s": 812.4,
        "p50_ms": 38.125,
        "p99_ms": 61.5,
        "params": 22_713_216,
    },
    {
        "system": "0-cross-encoder",
        "backend": "onnx-int8",
        "pairs_per_s": 2301.7,
        "p50_ms": 12.25,
        "p99_ms": 19.75,
        "params": 22_713_216,
    },
    {
        "system": "teacher",
        "backend": "transformers",
        "pairs_per_s": 35.2,
        "p50_ms": 905.5,
        "p99_ms": 1210.0,
        "params": 134_515_008,
    },
]


def make_inputs(**overrides: object) -> ReportInputs:
    qrels, runs, segments, texts = make_collection()
    results = {name: evaluate_run(run, qrels, METRICS) for name, run in runs.items()}
    ours = make_label_records(runs, qrels, "rradistill", 1, 1500, 60)
    sliding = make_label_records(runs, qrels, "sliding_window", 9, 10800, 720)
    config = {"run": {"name": "demo"}, "evaluation": {"metrics": METRICS}, "seed": 13}
    values: dict[str, object] = {
        "title": "rankdistill run: demo",
        "results": results,
        "baseline": "first-stage",
        "segments": segments,
        "query_texts": texts,
        "runs": runs,
        "qrels": qrels,
        "teacher_name": "teacher",
        "labeling_stats": label_statistics(ours),
        "baseline_labeling_cost": label_statistics(sliding),
        "latency": LATENCY_ROWS,
        "config_yaml": yaml.safe_dump(config, sort_keys=False),
        "notes": ["Students trained for 1 epoch on 18 queries (a smoke run)."],
    }
    values.update(overrides)
    return ReportInputs(**values)  # type: ignore[arg-type]


def build_case(out_dir: Path, inputs: ReportInputs) -> ReportCase:
    paths = build_run_report(inputs, out_dir)
    return ReportCase(
        inputs, paths, paths.markdown.read_text("utf-8"), paths.html.read_text("utf-8")
    )


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> ReportCase:
    return build_case(tmp_path_factory.mktemp("run_report"), make_inputs())


# --------------------------------------------------------------------------- parsing helpers
def section(markdown: str, title: str) -> str:
    parts = re.split(r"^## ", markdown, flags=re.MULTILINE)
    found = [p for p in parts if p.startswith(title + "\n")]
    assert found, f"no section {title!r} in the report"
    return found[0]


def _cells(line: str) -> list[str]:
    cells = re.split(r"(?<!\\)\|", line.strip())[1:-1]
    return [re.sub(r"\\(.)", r"\1", c.strip()) for c in cells]


def tables(text: str) -> list[list[list[str]]]:
    """Markdown tables of ``text`` as lists of rows (header first, separator dropped)."""
    found: list[list[list[str]]] = []
    current: list[list[str]] = []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            if not re.fullmatch(r"\|[\s:\-|]+\|", line.strip()):
                current.append(_cells(line))
        elif current:
            found.append(current)
            current = []
    return found


def number(cell: str) -> float:
    return float(cell.rstrip(SIGNIFICANT_MARK).rstrip("×").replace(",", ""))


# --------------------------------------------------------------------------- metrics
def test_metrics_table_equals_evaluate_run(full: ReportCase) -> None:
    header, *rows = tables(section(full.markdown, "Metrics"))[0]
    assert header == ["system", "queries", *HEADERS]
    by_system = {row[0]: row for row in rows}
    assert list(by_system) == list(full.inputs.results)
    for name, result in full.inputs.results.items():
        row = by_system[name]
        assert int(row[1]) == result.num_queries == NUM_QUERIES
        for metric, cell in zip(METRICS, row[2:], strict=True):
            assert number(cell) == pytest.approx(result.aggregate[metric], abs=5e-5)
            assert re.fullmatch(rf"-?\d+\.\d{{4}}{SIGNIFICANT_MARK}?", cell), cell


def test_significance_markers_follow_an_independent_paired_t_test(full: ReportCase) -> None:
    """Mean metrics; PNR (pooled, permutation test) is tests/evaluation/test_comparisons.py's."""
    metrics_tables = tables(section(full.markdown, "Metrics"))
    (_, *rows), (p_header, *p_rows) = metrics_tables[0], metrics_tables[1]
    by_system = {row[0]: row[2:] for row in rows}
    p_by_system = {row[0]: row[1:] for row in p_rows}
    base = full.inputs.results["first-stage"]
    assert not any(c.endswith(SIGNIFICANT_MARK) for c in by_system["first-stage"])
    assert "first-stage" not in p_by_system
    assert p_header == ["system", *HEADERS]
    marks = []
    for name, result in full.inputs.results.items():
        if name == "first-stage":
            continue
        for i, metric in enumerate(MEAN_METRICS):
            common = sorted(set(result.per_query[metric]) & set(base.per_query[metric]))
            a = [result.per_query[metric][q] for q in common]
            b = [base.per_query[metric][q] for q in common]
            p = stats.ttest_rel(a, b).pvalue
            marked = by_system[name][i].endswith(SIGNIFICANT_MARK)
            assert marked == (p < 0.05), (name, metric, p)
            marks.append(marked)
            cell = re.fullmatch(r"([+-]\d+\.\d{4}) \(p=?(\S+)\)", p_by_system[name][i])
            assert cell, p_by_system[name][i]
            diff, p_text = cell.groups()
            assert float(diff) == pytest.approx(np.mean(np.subtract(a, b)), abs=5e-5)
            if p_text.startswith("<"):
                assert p < 1e-4
            else:
                assert float(p_text) == pytest.approx(p, abs=5e-5)
    assert any(marks) and not all(marks), "the data should give both outcomes"
    assert "paired t-test" in section(full.markdown, "Metrics")


# --------------------------------------------------------------------------- segments
def _grouped_rows(full: ReportCase, title: str) -> dict[tuple[str, str], list[str]]:
    header, *rows = tables(section(full.markdown, title))[0]
    assert header[2:] == ["queries", *HEADERS]
    return {(row[0], row[1]): row[2:] for row in rows}


def _check_group_means(full: ReportCase, rows: dict, group_of: dict[str, str]) -> None:
    for name, result in full.inputs.results.items():
        for group in set(group_of.values()):
            qids = [q for q in result.qids if group_of[q] == group]
            cells = rows[(name, group)]
            assert int(cells[0]) == len(qids)
            for metric in ("nDCG@10", "RR(rel=2)@10"):  # means; PNR is pooled
                expected = np.mean([result.per_query[metric][q] for q in qids])
                assert number(cells[1 + METRICS.index(metric)]) == pytest.approx(expected, abs=5e-5)
            assert number(cells[1 + METRICS.index("PNR")]) > 0


def test_per_segment_rows_for_every_segment_and_system(full: ReportCase) -> None:
    rows = _grouped_rows(full, "Per segment")
    assert {segment for _, segment in rows} == set(SEGMENT_OF_BLOCK)
    assert len(rows) == len(SYSTEM_NOISE) * len(SEGMENT_OF_BLOCK)
    _check_group_means(full, rows, full.inputs.segments or {})
    assert "![nDCG@10 by segment](figures/segments.png)" in full.markdown


def test_query_length_buckets(full: ReportCase) -> None:
    rows = _grouped_rows(full, "By query length")
    buckets = {q: length_bucket(t, [3, 5, 8]) for q, t in (full.inputs.query_texts or {}).items()}
    assert {bucket for _, bucket in rows} == {"1-3", "4-5", "6-8", "9+"} == set(buckets.values())
    _check_group_means(full, rows, buckets)


# --------------------------------------------------------------------------- agreement
def test_teacher_student_agreement_matches_scipy(full: ReportCase) -> None:
    header, *rows = tables(section(full.markdown, "Teacher-student agreement"))[0]
    assert header == ["system", "Kendall tau", "top-10 overlap", "queries"]
    runs = full.inputs.runs or {}
    teacher = runs["teacher"]
    assert [r[0] for r in rows] == [n for n in runs if n != "teacher"]
    for name, tau_cell, overlap_cell, queries in rows:
        taus, overlaps = [], []
        for qid, scores in teacher.items():
            docs = sorted(scores)
            student = [runs[name][qid][d] for d in docs]
            taus.append(stats.kendalltau([scores[d] for d in docs], student).statistic)
            top = lambda run: set(sorted(run, key=run.get, reverse=True)[:10])  # noqa: E731
            overlaps.append(len(top(scores) & top(runs[name][qid])) / 10)
        assert float(tau_cell) == pytest.approx(np.mean(taus), abs=5e-5)
        assert float(overlap_cell) == pytest.approx(np.mean(overlaps), abs=5e-5)
        assert int(queries) == NUM_QUERIES


# --------------------------------------------------------------------------- labelling, latency
def test_labelling_cost_numbers(full: ReportCase) -> None:
    text = section(full.markdown, "Labelling cost")
    ours, theirs = full.inputs.labeling_stats, full.inputs.baseline_labeling_cost
    assert ours and theirs
    cost_header, *cost_rows = tables(text)[0]
    assert cost_header == [
        "cost",
        "this run (rradistill)",
        "sliding-window baseline",
        "baseline / this run",
    ]
    cost = {row[0]: row[1:] for row in cost_rows}
    for key, label in [
        ("llm_calls", "LLM calls"),
        ("prompt_tokens", "prompt tokens"),
        ("completion_tokens", "completion tokens"),
    ]:
        mine, base, ratio = cost[f"{label} / query"]
        assert number(mine) == pytest.approx(ours[key]["per_query"], rel=1e-3)
        assert number(base) == pytest.approx(theirs[key]["per_query"], rel=1e-3)
        assert number(ratio) == pytest.approx(
            theirs[key]["per_query"] / ours[key]["per_query"], abs=0.006
        )
    assert cost["LLM calls / query"][2] == "9.00×"
    # The generic rendering: every nested dict of label_statistics gets its own table.
    by_first_header = {t[0][0]: {row[0]: row[1] for row in t[1:]} for t in tables(text)[1:]}
    assert int(by_first_header["statistic"]["queries"]) == NUM_QUERIES
    problems = by_first_header["parse problems"]
    assert int(problems["unknown id"]) == ours["parse_problems"]["unknown_id"] == 5
    assert number(by_first_header["missing"]["rate"]) == pytest.approx(
        ours["missing"]["rate"], abs=5e-5
    )
    tau = ours["agreement_with_prerank"]["kendall_tau_mean"]
    assert number(by_first_header["agreement with prerank"]["kendall tau mean"]) == pytest.approx(
        tau, abs=5e-5
    )
    assert by_first_header["list length"]["histogram.10"] == str(NUM_QUERIES)


def test_latency_rows_and_plot(full: ReportCase) -> None:
    text = section(full.markdown, "Latency")
    header, *rows = tables(text)[0]
    assert header == [
        "system",
        "backend",
        "pairs / s",
        "p50 latency (ms)",
        "p99 latency (ms)",
        "params",
    ]
    assert len(rows) == len(LATENCY_ROWS)
    for row, expected in zip(rows, LATENCY_ROWS, strict=True):
        cells = dict(zip(header, row, strict=True))
        assert (cells["system"], cells["backend"]) == (expected["system"], expected["backend"])
        assert number(cells["p50 latency (ms)"]) == pytest.approx(expected["p50_ms"], rel=5e-3)
        assert number(cells["pairs / s"]) == pytest.approx(expected["pairs_per_s"], rel=5e-3)
        assert int(cells["params"].replace(",", "")) == expected["params"]
    assert "(figures/latency_quality.png)" in text


# --------------------------------------------------------------------------- files
def test_figures_are_pngs_and_every_image_link_resolves(full: ReportCase) -> None:
    out = full.paths.markdown.parent
    names = {p.name for p in full.paths.figures}
    assert names == {
        "segments.png",
        "length_buckets.png",
        "score_distributions.png",
        "latency_quality.png",
    }
    for path in full.paths.figures:
        data = path.read_bytes()
        assert data[:8] == PNG_SIGNATURE and len(data) > 10_000, path
        with Image.open(path) as image:
            image.verify()
        with Image.open(path) as image:
            assert image.width >= 600 and image.height >= 300
            assert len(image.convert("RGB").getcolors(maxcolors=1 << 20) or []) > 20
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", full.markdown)
    assert sorted(links) == sorted(p.relative_to(out).as_posix() for p in full.paths.figures)
    for link in links:
        assert not link.startswith(("/", "http")) and (out / link).is_file()


def test_html_is_self_contained_with_embedded_figures(full: ReportCase) -> None:
    page = full.html
    assert page.startswith("<!DOCTYPE html>")
    assert 'src="http' not in page and 'href="http' not in page
    assert "<script" not in page.lower() and "<link" not in page.lower()
    uris = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert sorted(base64.b64decode(u) for u in uris) == sorted(
        p.read_bytes() for p in full.paths.figures
    )
    assert "<details><summary>Resolved configuration (YAML)</summary>" in page
    assert "<style>" in page and "border-collapse" in page


def test_config_is_a_fenced_block_at_the_end(full: ReportCase) -> None:
    tail = full.markdown.rstrip().split("## Configuration\n", 1)[1]
    fenced = re.fullmatch(r"\s*```yaml\n(.*)\n```", tail, flags=re.DOTALL)
    assert fenced and yaml.safe_load(fenced.group(1))["seed"] == 13


# --------------------------------------------------------------------------- absent inputs
def test_absent_inputs_give_omitted_lines_not_crashes(tmp_path: Path) -> None:
    full_inputs = make_inputs()
    case = build_case(tmp_path, ReportInputs(title="bare", results=full_inputs.results))
    md = case.markdown
    for phrase in [
        "Significance testing omitted because no baseline system was given",
        "Per-segment results omitted because no query segments were given",
        "Per-query-length results omitted because no query texts were given",
        "Score distributions omitted because no runs and qrels were given",
        "Teacher-student agreement omitted because no teacher was named",
        "Labelling statistics omitted because no labelling statistics were given",
        "Latency results omitted because no benchmark rows were given",
        "The resolved configuration omitted because none was given",
    ]:
        assert phrase in md and phrase in case.html, phrase
    assert case.paths.figures == [] and "![" not in md and "<img" not in case.html
    assert "Notes" not in md
    _, *rows = tables(section(md, "Metrics"))[0]
    assert len(rows) == len(SYSTEM_NOISE)


def test_partial_inputs_explain_what_is_missing(tmp_path: Path) -> None:
    inputs = make_inputs(
        baseline="bm25-typo",
        teacher_name="llm-teacher",
        baseline_labeling_cost=None,
        latency=[{"system": "not-evaluated", "pairs_per_s": 10.0}],
    )
    case = build_case(tmp_path, inputs)
    assert "the baseline 'bm25-typo' is not among the evaluated systems" in case.markdown
    assert "the teacher 'llm-teacher' has no run" in case.markdown
    assert "comparison with the sliding-window baseline omitted because" in case.markdown
    assert "latency-vs-quality plot omitted because" in case.markdown
    assert SIGNIFICANT_MARK not in section(case.markdown, "Metrics")
    assert {p.name for p in case.paths.figures} == {
        "segments.png",
        "length_buckets.png",
        "score_distributions.png",
    }


def test_throughput_axis_when_rows_have_no_latency(tmp_path: Path) -> None:
    rows = [{k: v for k, v in r.items() if k not in ("p50_ms", "p99_ms")} for r in LATENCY_ROWS]
    case = build_case(tmp_path, make_inputs(latency=rows, segments=None, query_texts=None))
    assert "nDCG@10 against throughput" in case.markdown
    assert [p.name for p in case.paths.figures] == [
        "score_distributions.png",
        "latency_quality.png",
    ]


def test_stale_figures_of_an_earlier_report_are_removed(tmp_path: Path) -> None:
    few = {"segments": None, "query_texts": None, "runs": None}
    first = build_case(tmp_path, make_inputs(**few))
    assert [p.name for p in first.paths.figures] == ["latency_quality.png"]
    case = build_case(tmp_path, make_inputs(**few, latency=None))
    assert not (tmp_path / "figures" / "latency_quality.png").exists()
    assert "latency_quality" not in case.html


# --------------------------------------------------------------------------- escaping
def test_user_strings_are_escaped(tmp_path: Path) -> None:
    evil = '<script>alert("x")</script>'
    qrels, runs, _, _ = make_collection(seed=1)
    runs = {"first-stage": runs["first-stage"], evil: runs["teacher"], "a$b$|c": runs["pre-ranker"]}
    results = {name: evaluate_run(run, qrels, METRICS) for name, run in runs.items()}
    inputs = ReportInputs(
        title="Report <b>bold</b> & co",
        results=results,
        baseline="first-stage",
        runs=runs,
        qrels=qrels,
        teacher_name=evil,
        notes=['<img src="http://example.com/x.png" onerror=alert(1)>'],
        config_yaml="name: '<script>x</script>'\n",
        latency=[{"system": evil, "backend": "<b>onnx</b>", "p50_ms": 3.0}],
        evaluated_backend="<b>onnx</b>",
    )
    case = build_case(tmp_path, inputs)
    page = case.html
    assert "<script" not in page.lower() and "<b>" not in page and 'src="http' not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "Report &lt;b&gt;bold&lt;/b&gt; &amp; co" in page
    assert "&lt;img src=&quot;http://example.com/x.png&quot;" in page
    body, config = case.markdown.split("## Configuration")
    assert "\\<script>alert" in body and "\\</script>" in body
    assert not re.search(r"(?<!\\)<(script|img|b>)", body)  # every tag opener escaped
    assert "```yaml\nname: '<script>x</script>'\n```" in config  # verbatim in a code fence
    rows = tables(section(case.markdown, "Metrics"))[0][1:]
    assert [r[0] for r in rows] == ["first-stage", evil, "a$b$|c"]  # "|" survives escaping
    assert len(case.paths.figures) == 2  # matplotlib drew the "$" names without mathtext


# --------------------------------------------------------------------------- generic stats
def test_stats_tables_render_scalars_and_nested_dicts() -> None:
    rendered = stats_tables(
        {
            "queries": 3,
            "teachers": ["a", "b"],
            "rate": 0.123456,
            "cost": {"total": 12345, "per_query": 4115.0, "detail": {"x": None}},
            "empty": {},
        }
    )
    assert [t.header for t in rendered] == [
        ["statistic", "value"],
        ["cost", "value"],
        ["empty", "value"],
    ]
    assert rendered[0].rows == [["queries", "3"], ["teachers", "a, b"], ["rate", "0.1235"]]
    assert rendered[1].rows == [["total", "12,345"], ["per query", "4,115"], ["detail.x", "–"]]
    assert rendered[2].rows == [["(none)", "–"]]
    assert not math.isnan(number(rendered[1].rows[1][1]))


# --------------------------------------------------------------------------- one column each
def test_latency_columns_under_two_names_show_once(tmp_path: Path) -> None:
    # Benchmark records that carry each quantity under both of its names.
    both = [
        {
            "system": "0-cross-encoder",
            "backend": backend,
            "pairs_per_second": pairs,
            "latency_ms_p50": p50,
            "latency_ms_p99": p99,
            "p50_ms": p50,
            "p99_ms": p99,
            "pairs_per_s": pairs,
        }
        for backend, pairs, p50, p99 in [
            ("torch", 123.4, 415.9, 448.7),
            ("onnx-int8", 326.7, 168.1, 187.6),
        ]
    ]
    case = build_case(tmp_path, make_inputs(latency=both, segments=None, query_texts=None))
    header, *rows = tables(section(case.markdown, "Latency"))[0]
    assert header == ["system", "backend", "pairs / s", "p50 latency (ms)", "p99 latency (ms)"]
    assert len(set(header)) == len(header)
    for row, expected in zip(rows, both, strict=True):
        assert [number(c) for c in row[2:]] == pytest.approx(
            [expected["pairs_per_second"], expected["latency_ms_p50"], expected["latency_ms_p99"]],
            rel=5e-3,
        )


# --------------------------------------------------------------------------- int8 quality
def test_latency_plot_draws_only_backends_whose_quality_was_measured(full: ReportCase) -> None:
    text = section(full.markdown, "Latency")
    (caption,) = re.findall(r"!\[([^\]]*)\]\(figures/latency_quality\.png\)", text)
    # Only the torch row is the backend the results were measured with.
    assert caption.startswith("nDCG@10 against median latency per request; not drawn: ")
    assert "0-cross-encoder (onnx-int8)" in caption and "teacher (transformers)" in caption
    assert "0-cross-encoder (torch)" not in caption


def test_an_int8_row_with_its_own_quality_is_drawn(tmp_path: Path) -> None:
    rows = [dict(r) for r in LATENCY_ROWS[:2]]
    rows[1]["nDCG@10"] = 0.5  # measured on the int8 graph
    case = build_case(tmp_path, make_inputs(latency=rows, segments=None, query_texts=None))
    assert "![nDCG@10 against median latency per request](figures/latency_quality.png)" in (
        case.markdown
    )


def test_no_plot_when_no_row_was_measured(tmp_path: Path) -> None:
    rows = [r for r in LATENCY_ROWS if r["backend"] == "onnx-int8"]
    case = build_case(tmp_path, make_inputs(latency=rows, segments=None, query_texts=None))
    text = section(case.markdown, "Latency")
    assert "latency-vs-quality plot omitted because" in text
    assert "nDCG@10 of 0-cross-encoder (onnx-int8) was not measured in this run" in text
    assert "latency_quality.png" not in case.markdown


# --------------------------------------------------------------------------- ranker teacher
def test_all_zero_cost_tables_of_a_ranker_teacher_are_left_out(tmp_path: Path) -> None:
    qrels, runs, _, _ = make_collection()
    records = [
        LabelRecord(
            qid=qid,
            query=f"query {qid}",
            docids=sorted(docs),
            method="ranker",
            teacher="bi-encoder:minilm-l6",
            scores=runs["teacher"][qid],
            extra={"prerank_scores": runs["pre-ranker"][qid]},
        )
        for qid, docs in sorted(qrels.items())
    ]
    stats = label_statistics(records)
    case = build_case(
        tmp_path, make_inputs(labeling_stats=stats, baseline_labeling_cost=None, latency=None)
    )
    text = section(case.markdown, "Labelling cost")
    headers = [t[0][0] for t in tables(text)]
    assert headers == ["statistic", "methods", "agreement with prerank"]
    (left_out,) = [
        line for line in text.splitlines() if "every value in them is zero or absent" in line
    ]
    for zero in ("llm calls", "prompt tokens", "completion tokens", "missing", "rationales"):
        assert stats[zero.replace(" ", "_")]["total" if zero != "rationales" else "documents"] == 0
        assert zero in left_out, zero
    rows = {t[0][0]: dict(t[1:]) for t in tables(text)}
    assert int(rows["methods"]["ranker"]) == NUM_QUERIES
