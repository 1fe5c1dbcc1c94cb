"""The LLM-free ``crop`` method is deterministic: same seed and passage, same crops."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from rankdistill.data.records import Document
from rankdistill.generation.config import GenerationConfig
from rankdistill.generation.crop import SPAN_WORDS, CropOptions, crop_queries, sample_passages
from rankdistill.generation.run import generate_queries
from tests.generation.query_server import PASSAGES

REPO = Path(__file__).resolve().parents[2]
WORD = re.compile(r"[\w'’-]+")
CORPUS = {d: Document(d, t) for d, t in PASSAGES.items()}


def _crops(corpus: dict[str, Document], docids: list[str], seed: int, style: str = "question"):
    options = CropOptions(style=style, per_passage=3, min_passage_words=5)  # type: ignore[arg-type]
    return crop_queries(corpus, docids, options, seed)


def test_same_seed_same_crops_whatever_the_order_or_company() -> None:
    docids = list(CORPUS)
    first = _crops(CORPUS, docids, seed=3)
    assert first == _crops(CORPUS, docids, seed=3)
    # A passage's crops depend on neither the order nor the other passages.
    by_doc = {d: [q for q in first if q.source_docid == d] for d in docids}
    reversed_run = _crops(CORPUS, docids[::-1], seed=3)
    assert {d: [q for q in reversed_run if q.source_docid == d] for d in docids} == by_doc
    assert _crops(CORPUS, ["p4"], seed=3) == by_doc["p4"]
    # Another seed crops differently.
    assert [q.text for q in _crops(CORPUS, docids, seed=4)] != [q.text for q in first]


@pytest.mark.parametrize("style", ["question", "tail"])
def test_crops_are_spans_of_the_passage(style: str) -> None:
    low, high = SPAN_WORDS[style]
    for query in _crops(CORPUS, list(CORPUS), seed=1, style=style):
        words = [w.lower() for w in WORD.findall(CORPUS[query.source_docid].text)]
        crop = query.text.split()
        assert low <= len(crop) <= high
        starts = [i for i in range(len(words)) if words[i : i + len(crop)] == crop]
        assert starts, f"{query.text!r} is not a span of {query.source_docid}"
        assert query.qid.startswith(f"crop-{query.source_docid}-")


def test_crops_do_not_depend_on_the_hash_seed() -> None:
    code = (
        "import json\n"
        "from rankdistill.data.records import Document\n"
        "from rankdistill.generation.crop import CropOptions, crop_queries, sample_passages\n"
        f"corpus = {{d: Document(d, t) for d, t in {PASSAGES!r}.items()}}\n"
        "order = sample_passages(corpus, 3, seed=11)\n"
        "crops = crop_queries(corpus, order, CropOptions(per_passage=2), seed=11)\n"
        "print(json.dumps([order, [q.text for q in crops]]))\n"
    )
    outputs = set()
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(REPO / "src")}
        run = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        outputs.add(run.stdout)
    assert len(outputs) == 1
    order, texts = json.loads(outputs.pop())
    assert order == sample_passages(CORPUS, 3, seed=11) and len(texts) == 6


def test_passage_sample_ignores_corpus_order() -> None:
    shuffled = dict(reversed(list(CORPUS.items())))
    assert sample_passages(CORPUS, 3, seed=2) == sample_passages(shuffled, 3, seed=2)
    assert sorted(sample_passages(CORPUS, None, seed=2)) == sorted(CORPUS)


def test_crop_runs_write_identical_files(tmp_path: Path) -> None:
    cfg = GenerationConfig(method="crop", per_passage=2, style="tail")
    one = generate_queries(CORPUS, cfg, tmp_path / "one", progress=False)
    two = generate_queries(CORPUS, cfg, tmp_path / "two", progress=False)
    assert Path(one.queries_path).read_bytes() == Path(two.queries_path).read_bytes()
    assert one.generated == 2 * len(CORPUS)
