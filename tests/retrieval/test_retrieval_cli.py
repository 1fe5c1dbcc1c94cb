"""`rankdistill retrieve` on a small JSONL corpus and on the DL 2020 passages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from rankdistill.cli import retrieve
from rankdistill.data.trec import read_trec_run

runner = CliRunner()


def _app() -> typer.Typer:
    """The `retrieve` command registered as in the main app, isolated from other commands."""
    app = typer.Typer()
    app.callback()(lambda: None)  # keep `retrieve` a sub-command, as in `rankdistill retrieve`
    retrieve.register(app)
    return app


app = _app()


def _write_small_collection(folder: Path) -> tuple[Path, Path]:
    docs = [
        {"docid": "d1", "text": "Volcanic ash clouds disrupt air travel across Europe."},
        {"docid": "d2", "text": "A recipe for banana bread with walnuts."},
        {"docid": "d3", "title": "Geology", "text": "Lava and ash from a volcano."},
    ]
    corpus = folder / "corpus.jsonl"
    corpus.write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
    queries = folder / "queries.tsv"
    queries.write_text("1\tvolcanic ash air travel\n2\tbanana bread recipe\n", encoding="utf-8")
    return corpus, queries


def test_retrieve_jsonl_corpus_to_trec_with_reusable_index(tmp_path: Path) -> None:
    corpus, queries = _write_small_collection(tmp_path)
    args = [
        "retrieve",
        "--corpus",
        str(corpus),
        "--queries",
        str(queries),
        "--k",
        "2",
        "--index-dir",
        str(tmp_path / "index"),
        "--out-trec",
        str(tmp_path / "run.trec"),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    run = read_trec_run(tmp_path / "run.trec")
    assert next(iter(run["1"])) == "d1" and next(iter(run["2"])) == "d2"
    assert all(len(docs) <= 2 for docs in run.values())
    first = (tmp_path / "run.trec").read_text(encoding="utf-8")
    assert first.split("\n")[0].endswith(" bm25")
    # Second call loads the saved index instead of re-indexing; same output.
    again = runner.invoke(app, args)
    assert again.exit_code == 0, again.output
    assert (tmp_path / "run.trec").read_text(encoding="utf-8") == first


def test_retrieve_beir_folder(tmp_path: Path) -> None:
    corpus, _ = _write_small_collection(tmp_path)
    beir = tmp_path / "beir"
    (beir / "qrels").mkdir(parents=True)
    (beir / "corpus.jsonl").write_text(
        corpus.read_text(encoding="utf-8").replace('"docid"', '"_id"'), encoding="utf-8"
    )
    (beir / "queries.jsonl").write_text(
        json.dumps({"_id": "7", "text": "lava volcano geology"}) + "\n", encoding="utf-8"
    )
    (beir / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n7\td3\t1\n")
    result = runner.invoke(
        app, ["retrieve", "--corpus", str(beir), "--out-trec", str(tmp_path / "beir.trec")]
    )
    assert result.exit_code == 0, result.output
    run = read_trec_run(tmp_path / "beir.trec")
    assert list(run) == ["7"] and next(iter(run["7"])) == "d3"


def test_retrieve_needs_an_output_and_queries(tmp_path: Path) -> None:
    corpus, _ = _write_small_collection(tmp_path)
    result = runner.invoke(app, ["retrieve", "--corpus", str(corpus)])
    assert result.exit_code != 0 and "nothing to write" in result.output
    result = runner.invoke(app, ["retrieve", "--corpus", str(corpus), "--out-trec", "x.trec"])
    assert result.exit_code != 0 and "--queries" in result.output


@pytest.mark.shared_data
def test_retrieve_over_dl2020_candidate_passages_to_rankllm_json(
    dl2020: Path, tmp_path: Path
) -> None:
    from rankdistill.data.rankllm import read_rankllm

    out = tmp_path / "bm25-top10.json"
    result = runner.invoke(
        app,
        [
            "retrieve",
            "--corpus",
            str(dl2020 / "bm25-top100.json"),
            "--k",
            "10",
            "--out-json",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    data = read_rankllm(out)
    assert len(data.queries) == 54
    assert all(len(docs) == 10 for docs in data.candidates.values())
    source = read_rankllm(dl2020 / "bm25-top100.json")
    some_doc = next(iter(data.corpus.values()))
    assert source.corpus[some_doc.docid].text == some_doc.text
