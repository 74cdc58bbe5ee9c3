"""One exception tree for funnelfeed.

    FunnelfeedError
     ├── ConfigError        config.yaml is wrong; carries *every* problem found
     ├── StorageError       the database cannot be opened or migrated
     └── NotFoundError      something named on the command line does not exist

A source that fails to fetch is *not* an exception: it is a value in the results
(see ``aggregator.types.FetchResult``), so one broken source never stops a pass.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


class FunnelfeedError(Exception):
    """Base of every error funnelfeed raises on purpose; its message is for the user."""


@dataclass(frozen=True)
class ConfigProblem:
    """One mistake in config.yaml, located precisely enough to fix it."""

    file: str
    line: int
    column: int
    key_path: str
    message: str

    def at_file(self, file: str) -> ConfigProblem:
        return replace(self, file=file)

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}" if self.line else self.file
        key = f" {self.key_path}:" if self.key_path else ""
        return f"{where}:{key} {self.message}"


class ConfigError(FunnelfeedError):
    """config.yaml has one or more problems; all of them are listed."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class StorageError(FunnelfeedError):
    """The database could not be opened, migrated or written."""


class NotFoundError(FunnelfeedError):
    """A source, rep or user named by the caller does not exist."""
