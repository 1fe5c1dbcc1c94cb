"""CLI: ``rankdistill generate`` — training queries written for the passages of a corpus.

Examples::

    # LLM-free crops of 500 NFCorpus abstracts
    rankdistill generate beir:../shared/data/nfcorpus/dev --method crop --out runs/gen \\
        --max-passages 500

    # Few-shot questions with the packaged SmolLM2 through llama.cpp, the DL 2021 queries
    # as examples, DL 2020 kept out
    rankdistill generate rankllm:../shared/data/trec-dl-2022/bm25-top100.json --method llm \\
        --backend llama-cpp --examples ../shared/data/trec-dl-2021/bm25-top100.json \\
        --exclude ../shared/data/trec-dl-2020/bm25-top100.json --out runs/gen-llm

Every flag left out keeps the value of ``--config``'s ``generation`` section, or else the
default of :class:`~rankdistill.generation.config.GenerationConfig`. The run is resumable:
rerun the same command and finished passages are skipped, without repeating an LLM call.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, get_args

import typer

from rankdistill.cli.choices import BACKENDS, choice_command
from rankdistill.cli.options import (
    BackendOption,
    ModelOption,
    ProgressOption,
    config_option,
    method_option,
    out_option,
    set_option,
)
from rankdistill.generation.config import GenerationConfig

if TYPE_CHECKING:
    from rankdistill.data.corpus import CorpusSpec, Exclusion
    from rankdistill.generation.llm import FewShotExample
    from rankdistill.generation.run import GenerationResult


METHODS = "rankdistill.generation.methods:GENERATION_METHODS"


def _corpus_formats() -> tuple[str, ...]:
    from rankdistill.data.corpus import CorpusFormat

    return get_args(CorpusFormat)


def _default(name: str) -> str:
    return f" (default: {GenerationConfig.model_fields[name].default})"


CORPUS_HELP = (
    f"FORMAT:PATH[,PATH...] with FORMAT one of {', '.join(_corpus_formats())} "
    "(beir: a folder; rankllm: candidate files, their passages pooled)."
)
OUT_HELP = "Output folder: queries.jsonl, summary, passage records, cache."
STYLE_HELP = f"keyword, question or tail (long wordy questions){_default('style')}."
PER_PASSAGE_HELP = f"Queries per passage{_default('per_passage')}."
PASSAGES_HELP = "Passages drawn from the corpus (default: all)."
BUDGET_HELP = "Budget of kept queries (default: no budget)."
EXAMPLES_HELP = "rank_llm JSON file(s) whose queries and top passages are the few-shot examples."
EXCLUDE_HELP = "Evaluation set(s) kept out of generation: rank_llm JSON or BEIR folder."
_PATHS: dict[str, Any] = {"metavar": "PATH", "exists": True}
_FILES: dict[str, Any] = {**_PATHS, "dir_okay": False}


def parse_corpus_spec(spec: str) -> CorpusSpec:
    """``FORMAT:PATH[,PATH...]`` (``beir:data/nfcorpus/dev``) as a :class:`CorpusSpec`."""
    from rankdistill.data.corpus import CorpusSpec

    formats = _corpus_formats()
    fmt, sep, paths = spec.partition(":")
    if not sep or fmt not in formats or not paths:
        raise typer.BadParameter(
            f"{spec!r}: expected FORMAT:PATH[,PATH...] with FORMAT one of {', '.join(formats)}",
            param_hint="CORPUS_SPEC",
        )
    return CorpusSpec(format=fmt, paths=[p for p in paths.split(",") if p])  # type: ignore[arg-type]


def generation_config(config: Path | None, flags: dict[str, Any], overrides: list[str]) -> Any:
    """The ``generation`` section of ``config`` (or the defaults), then the flags that were
    given, then the ``--set`` overrides (keys relative to the section)."""
    import yaml
    from pydantic import ValidationError

    from rankdistill.config import ConfigError, apply_overrides, describe_validation_error

    data: dict[str, Any] = {}
    if config is not None:
        loaded = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
        section = loaded.get("generation") if isinstance(loaded, dict) else None
        data = dict(section or {})
    backend = data.setdefault("backend", {})
    for key, value in flags.items():
        if value is None:
            continue
        if key in ("kind", "model"):
            backend[key] = value
        else:
            data[key] = value
    relative = [o.removeprefix("generation.") for o in overrides]
    data = apply_overrides(data, relative)
    try:
        return GenerationConfig.model_validate(data)
    except ValidationError as exc:  # one line naming the field, and what set it
        field = ".".join(str(p) for p in exc.errors()[0]["loc"])
        given = [o for o in relative if o.partition("=")[0] == field]
        where = f"--set generation.{given[-1]}" if given else (config or "options")
        raise ConfigError(f"{where}: generation: {describe_validation_error(exc)}") from None


def read_examples(paths: list[Path]) -> list[FewShotExample] | None:
    """Real training queries with their top passage, from rank_llm candidate files."""
    from rankdistill.data.rankllm import read_rankllm
    from rankdistill.generation.llm import examples_from_ranking

    if not paths:
        return None
    return [e for path in paths for e in examples_from_ranking(read_rankllm(path))]


def read_exclusion(paths: list[Path]) -> Exclusion | None:
    """The evaluation sets to keep out: rank_llm JSON files or BEIR folders (test split)."""
    from rankdistill.data.beir import read_beir
    from rankdistill.data.corpus import Exclusion
    from rankdistill.data.rankllm import read_rankllm

    if not paths:
        return None
    return Exclusion.from_datasets(read_beir(p) if p.is_dir() else read_rankllm(p) for p in paths)


def format_result(result: GenerationResult) -> str:
    lines = [f"passages: {result.passages}  generated: {result.generated}  kept: {result.kept}"]
    if result.parse_failures:
        failures = ", ".join(f"{k} {v}" for k, v in result.parse_failures.items())
        lines.append(f"parse failures: {failures}")
    for report in result.filters:
        note = f" ({report['details']['skipped']})" if "skipped" in report["details"] else ""
        lines.append(f"  {report['name']}: kept {report['kept']} of {report['input']}{note}")
    words = result.query_words
    if words.get("count"):
        lines.append(
            f"query words: mean {words['mean']:.1f}, p10 {words['p10']:g}, "
            f"p50 {words['p50']:g}, p90 {words['p90']:g}"
        )
    tokens = result.tokens
    if tokens["llm_calls"]:
        lines.append(
            f"LLM calls: {tokens['llm_calls']:g}; tokens per query: prompt "
            f"{tokens['prompt_tokens_per_query']:.1f}, completion "
            f"{tokens['completion_tokens_per_query']:.1f}"
        )
    lines.append(f"queries: {result.queries_path}\nsummary: {result.summary_path}")
    return "\n".join(lines)


def generate(
    corpus: Annotated[str, typer.Argument(metavar="CORPUS_SPEC", help=CORPUS_HELP)],
    out: Annotated[Path, out_option(OUT_HELP, "-o")],
    method: Annotated[str | None, method_option("Generation method")] = None,
    style: Annotated[str | None, typer.Option(metavar="STYLE", help=STYLE_HELP)] = None,
    per_passage: Annotated[
        int | None, typer.Option(metavar="N", min=1, help=PER_PASSAGE_HELP)
    ] = None,
    max_passages: Annotated[
        int | None, typer.Option(metavar="N", min=1, help=PASSAGES_HELP)
    ] = None,
    max_queries: Annotated[int | None, typer.Option(metavar="N", min=1, help=BUDGET_HELP)] = None,
    seed: Annotated[int | None, typer.Option(metavar="N", help=f"Seed{_default('seed')}.")] = None,
    backend: BackendOption = None,
    model: ModelOption = None,
    examples: Annotated[list[Path], typer.Option(**_FILES, help=EXAMPLES_HELP)] = [],  # noqa: B006
    exclude: Annotated[list[Path], typer.Option(**_PATHS, help=EXCLUDE_HELP)] = [],  # noqa: B006
    config: Annotated[Path | None, config_option("generation", exists=True, dir_okay=False)] = None,
    overrides: Annotated[list[str], set_option("filters.round_trip.k=5")] = [],  # noqa: B006
    progress: ProgressOption = True,
) -> None:
    """Write training queries for the passages of a corpus (LLM few-shot or crops), filter
    them, and report counts per filter, query lengths and tokens; resumable."""
    from rankdistill.data.corpus import exclude as drop_excluded
    from rankdistill.data.corpus import read_training_source
    from rankdistill.generation.run import GenerationSettingsChanged, generate_queries

    flags = {
        "method": method,
        "style": style,
        "per_passage": per_passage,
        "max_passages": max_passages,
        "max_queries": max_queries,
        "seed": seed,
        "kind": backend,
        "model": model,
    }
    cfg = generation_config(config, flags, overrides)
    source = read_training_source(parse_corpus_spec(corpus))
    exclusion = read_exclusion(exclude)
    if exclusion is not None:
        source, counts = drop_excluded(source, exclusion)
        typer.echo(f"evaluation data kept out: {counts.documents} passages")
    shots = read_examples(examples)
    if shots is not None and exclusion is not None:
        shots = [e for e in shots if not exclusion.blocks_query(e.query)]
    try:
        result = generate_queries(
            source.corpus, cfg, out, examples=shots, exclusion=exclusion, progress=progress
        )
    except GenerationSettingsChanged as exc:
        raise typer.BadParameter(str(exc), param_hint="--out") from exc
    typer.echo(format_result(result))


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.command("generate", cls=choice_command({"method": METHODS, "backend": BACKENDS}))(generate)
