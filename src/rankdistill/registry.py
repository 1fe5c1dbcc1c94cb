"""A named table of extension entries (losses, students, backends, methods, formats...).

Every extension point keeps one :class:`Registry`. Config validation, CLI choices and
help text read its names at the moment they are needed, so an entry registered by a
plugin (or a test) after import is accepted everywhere without editing another file.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from typing import Annotated, Any, Generic, TypeVar

from pydantic import AfterValidator

E = TypeVar("E")


class Registry(Mapping[str, E], Generic[E]):
    """``name -> entry``, in registration order; ``what`` names the kind in messages."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._entries: dict[str, E] = {}

    def register(self, name: str, entry: E) -> E:
        """Add (or replace) ``name``; returns the entry, so it works as a decorator body."""
        self._entries[name] = entry
        return entry

    def unregister(self, name: str) -> None:
        self._entries.pop(name, None)

    def __getitem__(self, name: str) -> E:
        return self._entries[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def names(self) -> list[str]:
        return list(self._entries)

    def require(self, name: str) -> E:
        """The entry, or a ``ValueError`` listing the known names."""
        if name not in self._entries:
            raise ValueError(self.unknown_message(name))
        return self._entries[name]

    def unknown_message(self, name: str) -> str:
        return f"unknown {self.what} {name!r}; choose one of {', '.join(self._entries)}"


def registered_name(
    registry: str | Callable[[], Mapping[str, Any]], extra: tuple[str, ...] = ()
) -> Any:
    """A pydantic ``str`` type accepting only the names the registry holds (plus ``extra``).

    ``registry`` is where the registry lives, ``"package.module:NAME"``, or a function
    returning it: either way the (possibly heavy) registry module is imported only when a
    config is validated, and late registrations count.
    """
    lookup = _importer(registry) if isinstance(registry, str) else registry

    def check(value: str) -> str:
        table = lookup()
        if value not in table and value not in extra:
            known = ", ".join([*extra, *table])
            what = getattr(table, "what", "name")
            raise ValueError(f"unknown {what} {value!r}; choose one of {known}")
        return value

    return Annotated[str, AfterValidator(check)]


def _importer(path: str) -> Callable[[], Mapping[str, Any]]:
    module, _, name = path.partition(":")
    return lambda: getattr(importlib.import_module(module), name)
