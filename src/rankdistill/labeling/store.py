"""The label store: one JSON line per query, appended as each query is labelled.

A killed run loses at most the line being written; on reopening, a final line cut short
by the kill is removed (so the next append starts on a fresh line) and the resumed run
skips every query already in the store.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rankdistill.data.errors import DataFormatError
from rankdistill.data.records import LabelRecord
from rankdistill.utils import append_jsonl, iter_jsonl

_FIELD_TYPES: dict[str, type | tuple[type, ...]] = {
    "qid": str,
    "query": str,
    "docids": list,
    "method": str,
    "teacher": str,
    "grades": dict,
    "scores": dict,
    "rationales": dict,
    "missing": list,
    "raw_response_hashes": list,
    "parse_problems": dict,
    "llm_calls": int,
    "prompt_tokens": int,
    "completion_tokens": int,
    "extra": dict,
}
_REQUIRED = ("qid", "query", "docids", "method", "teacher")
_KNOWN = {f.name for f in dataclasses.fields(LabelRecord)}


def record_from_dict(obj: dict[str, Any], path: str | Path, line: int) -> LabelRecord:
    """A validated :class:`LabelRecord`; bad input raises naming file, line and field."""
    for name in _REQUIRED:
        if name not in obj:
            raise DataFormatError(path, "required field is missing", line=line, field=name)
    for name in obj:
        if name not in _KNOWN:
            raise DataFormatError(path, "unknown field", line=line, field=name)
    for name, expected in _FIELD_TYPES.items():
        if name in obj and not isinstance(obj[name], expected):
            raise DataFormatError(
                path,
                f"expected {getattr(expected, '__name__', expected)}, "
                f"got {type(obj[name]).__name__}",
                line=line,
                field=name,
            )
    for name in ("grades", "scores"):
        for docid, value in obj.get(name, {}).items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise DataFormatError(
                    path, f"value of {docid!r} is not a number: {value!r}", line=line, field=name
                )
    return LabelRecord.from_dict(obj)


def iter_labels(path: str | Path) -> Iterator[tuple[int, LabelRecord]]:
    """``(line_number, record)`` pairs; a final line cut short by a kill is skipped."""
    # iter_jsonl drops that cut-short line, so the resumed run labels its query again.
    for lineno, obj in iter_jsonl(path):
        yield lineno, record_from_dict(obj, path, lineno)


def read_labels(path: str | Path) -> list[LabelRecord]:
    """All label records of a JSONL file; a qid found twice raises (labels would double)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"label file {path} does not exist")
    records: list[LabelRecord] = []
    first_line: dict[str, int] = {}
    for lineno, record in iter_labels(path):
        if record.qid in first_line:
            raise DataFormatError(
                path,
                f"qid {record.qid!r} already labelled on line {first_line[record.qid]}",
                line=lineno,
                field="qid",
            )
        first_line[record.qid] = lineno
        records.append(record)
    return records


def repair_truncated_tail(path: str | Path) -> bool:
    """Cut a final line that lacks its newline (a write interrupted by a kill).

    Returns True when something was cut. Without this the next append would be glued to
    the broken fragment and corrupt a line in the middle of the file.
    """
    path = Path(path)
    if not path.is_file() or path.stat().st_size == 0:
        return False
    with path.open("rb+") as fh:
        data = fh.read()
        if data.endswith(b"\n"):
            return False
        keep = data.rfind(b"\n") + 1
        fh.truncate(keep)
        fh.flush()
        os.fsync(fh.fileno())
    return True


class LabelStore:
    """Append-only JSONL label file with resume support."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.repaired = repair_truncated_tail(self.path)
        self._done: set[str] | None = None

    def done_qids(self) -> set[str]:
        """Queries that already have a complete record."""
        if self._done is None:
            self._done = (
                {r.qid for _, r in iter_labels(self.path)} if self.path.is_file() else set()
            )
        return set(self._done)

    def append(self, record: LabelRecord) -> None:
        """Write one record (flushed and fsynced: the unit of resumable progress)."""
        if self._done is None:
            self.done_qids()
        assert self._done is not None
        if record.qid in self._done:
            raise ValueError(f"{self.path}: qid {record.qid!r} is already labelled")
        append_jsonl(self.path, record.to_dict())
        self._done.add(record.qid)

    def records(self) -> list[LabelRecord]:
        return read_labels(self.path) if self.path.is_file() else []

    def __len__(self) -> int:
        return len(self.done_qids())

    def to_parquet(self, path: str | Path) -> Path:
        """Write the records as Parquet (needs pyarrow); nested fields become JSON strings."""
        return write_parquet(self.records(), path)


def write_parquet(records: list[LabelRecord], path: str | Path) -> Path:
    """Parquet copy of label records; dict/list fields are stored as JSON text columns."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:  # optional dependency
        raise ImportError("Parquet export needs pyarrow: pip install pyarrow") from exc
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = []
    for record in records:
        row = record.to_dict()
        rows.append(
            {
                k: json.dumps(v, ensure_ascii=False) if isinstance(v, dict | list) else v
                for k, v in row.items()
            }
        )
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path
