"""PNR has one definition in the run report: pooled over queries, in the headline table
and in the difference table alike, with a permutation test of the pooled value.

Pair counts and pooled ratios are recomputed here from the runs and qrels (plain loops);
the p-value is checked against :func:`scipy.stats.permutation_test`.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from rankdistill.data.records import Qrels, Run
from rankdistill.evaluation.metrics import evaluate_run
from rankdistill.evaluation.reporting.comparisons import compare_with_baseline
from tests.evaluation.test_run_report import (
    build_case,
    make_collection,
    make_inputs,
    section,
    tables,
)

BASELINE = "first-stage"


def pair_counts(scores: dict[str, float], grades: dict[str, int]) -> tuple[float, float]:
    """(concordant, discordant) of one query over its judged documents, ties half each."""
    concordant = discordant = 0.0
    judged = [d for d in scores if d in grades]
    for better in judged:
        for worse in judged:
            if grades[better] > grades[worse]:
                if scores[better] > scores[worse]:
                    concordant += 1
                elif scores[better] < scores[worse]:
                    discordant += 1
                else:
                    concordant += 0.5
                    discordant += 0.5
    return concordant, discordant


def pooled_pnr(counts: list[tuple[float, float]]) -> float:
    concordant = sum(c for c, _ in counts)
    discordant = sum(d for _, d in counts)
    return concordant / max(discordant, 1.0)


def counts_of(run: Run, qrels: Qrels) -> list[tuple[float, float]]:
    return [pair_counts(run[q], qrels[q]) for q in sorted(qrels)]


def test_headline_and_difference_table_use_one_pnr_definition(tmp_path: Path) -> None:
    inputs = make_inputs(segments=None, query_texts=None, latency=None)
    case = build_case(tmp_path, inputs)
    headline, differences = tables(section(case.markdown, "Metrics"))[:2]
    column = headline[0].index("PNR (pooled)")
    assert differences[0].index("PNR (pooled)") == column - 1  # the same name in both
    pnr = {row[0]: float(row[column].rstrip("†")) for row in headline[1:]}
    diff = {row[0]: float(row[column - 1].split(" ")[0]) for row in differences[1:]}
    assert inputs.runs is not None and inputs.qrels is not None
    pooled = {name: pooled_pnr(counts_of(run, inputs.qrels)) for name, run in inputs.runs.items()}
    per_query_mean_gap = []
    for name, value in pnr.items():
        assert value == pytest.approx(pooled[name], abs=5e-5)
        if name == BASELINE:
            continue
        # The difference is that of the two headline numbers (each rounded to 4 places).
        assert diff[name] == pytest.approx(pnr[name] - pnr[BASELINE], abs=1.5e-4), name
        ratios = [
            c / max(d, 1.0) - cb / max(db, 1.0)
            for (c, d), (cb, db) in zip(
                counts_of(inputs.runs[name], inputs.qrels),
                counts_of(inputs.runs[BASELINE], inputs.qrels),
                strict=True,
            )
        ]
        per_query_mean_gap.append(abs(np.mean(ratios) - diff[name]))
    # The data tells the two definitions apart, so the check above can fail.
    assert max(per_query_mean_gap) > 0.1


def _small_collection(seed: int, queries: int) -> tuple[Qrels, Run, Run]:
    rng = np.random.default_rng(seed)
    qrels = {
        f"q{i}": {f"d{j}": int(g) for j, g in enumerate(rng.integers(0, 4, 8))}
        for i in range(queries)
    }
    # Rounded scores give tied pairs, which count half on each side.
    good = {
        q: {d: round(g + rng.normal(0, 1.0)) for d, g in docs.items()} for q, docs in qrels.items()
    }
    weak = {q: {d: float(rng.normal()) for d in docs} for q, docs in qrels.items()}
    return qrels, good, weak


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pooled_pnr_test_equals_scipy_permutation_test(seed: int) -> None:
    qrels, good, weak = _small_collection(seed, queries=10)
    results = {
        BASELINE: evaluate_run(weak, qrels, ["PNR", "nDCG@10"]),
        "good": evaluate_run(good, qrels, ["PNR", "nDCG@10"]),
    }
    test = compare_with_baseline(results, baseline=BASELINE)["good"]["PNR"]

    table = np.array(counts_of(good, qrels) + counts_of(weak, qrels))
    n = len(qrels)

    def statistic(x: np.ndarray, y: np.ndarray) -> float:
        mine, theirs = table[x.astype(int)].sum(axis=0), table[y.astype(int)].sum(axis=0)
        return mine[0] / max(mine[1], 1.0) - theirs[0] / max(theirs[1], 1.0)

    # Indexes into the count table: swapping x_i and y_i swaps query i's counts.
    reference = stats.permutation_test(
        (np.arange(n), np.arange(n) + n),
        statistic,
        permutation_type="samples",
        n_resamples=10_000,  # >= 2**10: scipy enumerates every swap pattern
        alternative="two-sided",
    )
    assert test.n == n
    assert test.mean_diff == pytest.approx(reference.statistic, rel=1e-12)
    assert test.p_value == pytest.approx(reference.pvalue, rel=1e-9)
    assert 0 < test.p_value <= 1 and not math.isnan(test.statistic)


def test_mean_metrics_keep_the_paired_test_on_per_query_values() -> None:
    qrels, runs, _, _ = make_collection()
    results = {n: evaluate_run(runs[n], qrels, ["nDCG@10", "PNR"]) for n in (BASELINE, "teacher")}
    test = compare_with_baseline(results, baseline=BASELINE)["teacher"]["nDCG@10"]
    a = [results["teacher"].per_query["nDCG@10"][q] for q in sorted(qrels)]
    b = [results[BASELINE].per_query["nDCG@10"][q] for q in sorted(qrels)]
    assert test.p_value == pytest.approx(stats.ttest_rel(a, b).pvalue, rel=1e-9)
    assert test.mean_diff == pytest.approx(np.mean(np.subtract(a, b)), rel=1e-9)


def test_the_notes_name_the_definition(tmp_path: Path) -> None:
    case = build_case(tmp_path, make_inputs(segments=None, query_texts=None, latency=None))
    text = section(case.markdown, "Metrics")
    assert re.search(r"for PNR, a paired permutation test of the pooled value", text)
    assert "for PNR, the difference of the pooled values (total concordant over total" in text
