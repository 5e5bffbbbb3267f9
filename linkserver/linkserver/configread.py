"""Reading one table of a TOML settings file, with every error naming the key and the file.

Shared by the server's settings and by each backend's own table ([directory], [mfa], ...), so that a
wrong value reads the same wherever it is.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """A setting is missing or wrong; the message names the key and the file."""



class TableReader:
    """Typed access to one TOML table, with errors naming the key and the file."""

    def __init__(self, data: dict[str, Any], table: str, source: Path) -> None:
        self._data = data.get(table, {})
        self._table = table
        self._source = source
        self._seen: set[str] = set()
        if not isinstance(self._data, dict):
            raise ConfigError(f"{source}: [{table}] must be a table")

    def fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{self._source}: {self._table}.{key} {problem}")

    def _get(self, key: str, kind: type, default: Any, required: bool) -> Any:
        self._seen.add(key)
        if key not in self._data:
            if required:
                raise self.fail(key, "is missing")
            return default
        value = self._data[key]
        if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
            raise self.fail(key, f"must be an integer, not {value!r}")
        if not isinstance(value, kind):
            raise self.fail(key, f"must be a {kind.__name__}, not {value!r}")
        return value

    def text(self, key: str, default: str | None = None, required: bool = False) -> Any:
        return self._get(key, str, default, required)

    def number(self, key: str, default: int, low: int = 1, high: int = 10**9) -> int:
        value: int = self._get(key, int, default, False)
        if not low <= value <= high:
            raise self.fail(key, f"must be between {low} and {high}, not {value}")
        return value

    def items(self, key: str, check: Callable[[object], str | None], what: str) -> tuple[str, ...]:
        """A list whose every item ``check`` accepts (returning it in its usual form); may be absent."""
        value = self._get(key, list, [], False)
        if key in self._data and not value:
            raise self.fail(key, "must list at least one item (leave it out for the default)")
        result = []
        for item in value:
            checked = check(item)
            if checked is None:
                raise self.fail(key, f"must list {what}, not {item!r}")
            result.append(checked)
        return tuple(result)

    def flag(self, key: str, default: bool) -> bool:
        value: bool = self._get(key, bool, default, False)
        return value

    def path(self, key: str, required: bool = False, must_exist: bool = True) -> Path | None:
        value: str | None = self.text(key, required=required)
        if value is None:
            return None
        resolved = (self._source.parent / value).resolve()
        if must_exist and not resolved.is_file():
            raise self.fail(key, f"names {resolved}, which is not a readable file")
        return resolved

    def paths(self, key: str, required: bool = False) -> tuple[Path, ...]:
        value = self._get(key, list, [], required)
        if required and not value:
            raise self.fail(key, "must list at least one file")
        result = []
        for item in value:
            if not isinstance(item, str):
                raise self.fail(key, f"must list file names, not {item!r}")
            resolved = (self._source.parent / item).resolve()
            if not resolved.is_file():
                raise self.fail(key, f"names {resolved}, which is not a readable file")
            result.append(resolved)
        return tuple(result)

    def finish(self) -> None:
        unknown = sorted(set(self._data) - self._seen)
        if unknown:
            raise self.fail(unknown[0], "is not a known setting (a typo?)")
