"""Read config.yaml with YAML 1.2 semantics, keeping line and column of every key.

ruamel.yaml is used because it implements YAML 1.2 (``no`` stays a string,
``010`` is ten, ``12:30`` is a string), rejects duplicate keys, and records
positions we need to point support staff at the exact line of a mistake.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from aggregator.errors import ConfigError, ConfigProblem

#: Nodes visited while expanding aliases; a "billion laughs" document stops here.
MAX_NODES = 200_000


@dataclass(frozen=True)
class LoadedYaml:
    """The plain data of a YAML file plus what is needed to locate a key path in it."""

    path: str
    data: Any
    root: Any  # the ruamel tree, which knows line/column of keys

    def locate(self, loc: Sequence[str | int]) -> tuple[int, int]:
        """1-based (line, column) of the deepest node of ``loc`` that exists in the file."""
        node = self.root
        line, col = 1, 1
        for part in loc:
            if isinstance(node, CommentedMap) and part in node:
                k_line, k_col = node.lc.key(part)
                line, col = k_line + 1, k_col + 1
                node = node[part]
            elif isinstance(node, CommentedSeq) and isinstance(part, int) and 0 <= part < len(node):
                i_line, i_col = node.lc.item(part)
                line, col = i_line + 1, i_col + 1
                node = node[part]
            else:
                break
        return line, col


def _plain(node: Any, budget: list[int]) -> Any:
    """Copy the ruamel tree into plain dicts and lists, bounding alias expansion."""
    budget[0] -= 1
    if budget[0] < 0:
        raise ConfigError(
            [ConfigProblem("", 0, 0, "", f"the document expands to more than {MAX_NODES} values "
                           "(too many YAML aliases); write the values out instead")]
        )
    if isinstance(node, dict):
        return {str(k) if not isinstance(k, str | int) else k: _plain(v, budget) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v, budget) for v in node]
    if hasattr(node, "isoformat") or isinstance(node, str | int | float | bool) or node is None:
        if isinstance(node, str):
            return str(node)
        return node
    return node


def parse_yaml(text: str, path: str) -> LoadedYaml:
    """Parse YAML text; syntax errors become a ConfigError naming line and column."""
    yaml = YAML(typ="rt")
    yaml.version = (1, 2)
    yaml.allow_duplicate_keys = False
    try:
        root = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (0, 0)
        what = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        if "duplicate key" in what:
            what = what.split("\n")[0] + "; each key may appear once in a mapping: remove or rename one"
        elif "'\\t'" in what:
            what += "; indent with spaces, never tabs"
        raise ConfigError([ConfigProblem(path, line, col, "", f"YAML error: {what}")]) from exc
    except YAMLError as exc:
        raise ConfigError([ConfigProblem(path, 0, 0, "", f"YAML error: {exc}")]) from exc
    if root is None:
        root = CommentedMap()
    if not isinstance(root, dict):
        raise ConfigError(
            [ConfigProblem(path, 1, 1, "", "the file must be a mapping of keys (database:, prospects:, ...)")]
        )
    try:
        data = _plain(root, [MAX_NODES])
    except ConfigError as exc:
        raise ConfigError([p.at_file(path) for p in exc.problems]) from None
    return LoadedYaml(path=path, data=data, root=root)


def read_yaml(path: str | Path) -> LoadedYaml:
    """Read and parse a YAML file; a missing or unreadable file is a ConfigError."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            [ConfigProblem(str(p), 0, 0, "", "file not found; pass --config PATH or create config.yaml")]
        ) from None
    except UnicodeDecodeError as exc:
        # Notepad's "ANSI" and many Windows editors save Windows-1252: point at the character.
        raw = p.read_bytes()
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        shown = raw[exc.start:exc.start + 1].decode("cp1252", errors="replace")
        raise ConfigError([ConfigProblem(str(p), line, column, "", (
            f"the file is not UTF-8 (byte 0x{raw[exc.start]:02x}, perhaps {shown!r} saved as Windows-1252 or "
            "Latin-1); save config.yaml as UTF-8 in your editor"))]) from None
    except OSError as exc:
        raise ConfigError([ConfigProblem(str(p), 0, 0, "", f"cannot read the file: {exc}")]) from None
    return parse_yaml(text, str(p))
