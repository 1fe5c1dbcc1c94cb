"""Silencing covers only the known third-party messages: other warnings still show."""

from __future__ import annotations

import logging
import warnings

import pytest
from torch.jit import TracerWarning

from rankdistill.quiet import (
    ONNX_INDEX_NOTE,
    ORT_PREPROCESS_ADVICE,
    quiet_onnx_export,
    quiet_transformers,
)


def test_onnx_export_block_hides_only_the_known_warnings(caplog: pytest.LogCaptureFixture) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with caplog.at_level(logging.WARNING), quiet_onnx_export():
            warnings.warn("the trace might be incorrect", TracerWarning, stacklevel=1)
            warnings.warn(
                f"{ONNX_INDEX_NOTE} in opset 17 is achieved by", UserWarning, stacklevel=1
            )
            warnings.warn("opset 9 cannot export this operator", UserWarning, stacklevel=1)
            logging.warning(f"{ORT_PREPROCESS_ADVICE}. Refer to example: ...")
            logging.warning("quantisation skipped node MatMul_3")
        after = logging.getLogger().filters[:]
    assert [str(w.message) for w in caught] == ["opset 9 cannot export this operator"]
    assert [r.getMessage() for r in caplog.records] == ["quantisation skipped node MatMul_3"]
    assert after == []  # the root logger's filter is gone after the block

    with caplog.at_level(logging.WARNING):
        logging.warning(f"{ORT_PREPROCESS_ADVICE}.")
    assert caplog.records[-1].getMessage().startswith(ORT_PREPROCESS_ADVICE)


def test_transformers_verbosity_is_restored() -> None:
    from transformers.utils import logging as hf_logging

    before = hf_logging.get_verbosity()
    with quiet_transformers():
        assert hf_logging.get_verbosity() == hf_logging.ERROR
    assert hf_logging.get_verbosity() == before


def test_new_head_load_is_quiet_and_a_missing_head_still_warns(
    capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    from rankdistill.resources import resolve_model
    from rankdistill.students.cross_encoder import load_encoder_classifier

    encoder = str(resolve_model("minilm-l6").path)  # a plain encoder: no classifier head
    with caplog.at_level(logging.WARNING):
        model = load_encoder_classifier(encoder)
    assert model.config.num_labels == 1
    assert caplog.records == []
    assert "LOAD REPORT" not in capfd.readouterr().err

    # Loaded as a trained student, the same checkpoint lacks its head: that is a problem.
    with caplog.at_level(logging.WARNING):
        load_encoder_classifier(encoder, new_head=False)
    (record,) = caplog.records
    assert "classifier.weight" in record.getMessage() and "missing" in record.getMessage()
