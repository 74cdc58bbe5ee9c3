"""Turn pydantic validation errors into messages a support person can act on."""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from aggregator.config.yamlload import LoadedYaml
from aggregator.errors import ConfigProblem


def key_path(loc: Sequence[str | int]) -> str:
    """('sources', 3, 'visibility') → 'sources[3].visibility'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """A ' did you mean ...?' suffix, or '' when nothing is close."""
    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _unwrap(annotation: Any) -> Any:
    """Strip Optional/Annotated/list/dict so we can reach the model a key belongs to."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            if arg is not type(None):
                return _unwrap(arg)
    return annotation


def _model_at(root: type[BaseModel], loc: Sequence[str | int]) -> type[BaseModel] | None:
    """The model class whose fields are valid at ``loc`` (for suggesting a key)."""
    current: Any = root
    for part in loc:
        current = _unwrap(current)
        origin = typing.get_origin(current)
        if origin in (list, tuple) and isinstance(part, int):
            current = typing.get_args(current)[0]
            continue
        if origin is dict:
            current = typing.get_args(current)[1]
            continue
        if isinstance(current, type) and issubclass(current, BaseModel) and isinstance(part, str):
            field = current.model_fields.get(part)
            if field is None:
                return None
            current = field.annotation
            continue
        return None
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _clean_loc(loc: Sequence[str | int], data: Any) -> list[str | int]:
    """Drop pydantic's internal loc parts (validator names) that are not keys in the data."""
    out: list[str | int] = []
    node = data
    for part in loc:
        in_map = isinstance(node, dict) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if in_map or in_list:
            out.append(part)
            node = node[part]
        elif isinstance(part, str) and (part.startswith(("function-", "literal[", "union[")) or "[" in part):
            continue
        else:
            out.append(part)  # a missing key: keep it for the message
            node = None
    return out


def problems_from_validation(
    exc: ValidationError, loaded: LoadedYaml, root: type[BaseModel]
) -> list[ConfigProblem]:
    """One ConfigProblem per pydantic error, with file:line:column and a fix where we can."""
    problems: list[ConfigProblem] = []
    for err in exc.errors():
        loc = _clean_loc(err["loc"], loaded.data)
        line, col = loaded.locate(loc)
        kind = err["type"]
        msg = str(err["msg"])
        if kind == "extra_forbidden":
            parent = _model_at(root, loc[:-1])
            allowed = list(parent.model_fields) if parent else []
            hint = did_you_mean(str(loc[-1]), allowed)
            msg = f"unknown key {loc[-1]!r}{hint or ''}"
            if not hint and allowed:
                msg += f"; allowed keys here: {', '.join(allowed)}"
        elif kind == "missing":
            msg = f"required key {loc[-1]!r} is missing"
            if loc[-1] == "visibility":
                msg += "; write 'visibility: external' or 'visibility: internal' (there is no default)"
        elif kind == "literal_error":
            expected = err.get("ctx", {}).get("expected", "")
            allowed = [a.strip().strip("'") for a in str(expected).replace(" or ", ",").split(",")]
            given = err.get("input")
            msg = f"{given!r} is not allowed here; expected one of {expected}"
            msg += did_you_mean(str(given), [a for a in allowed if a])
        elif kind == "value_error":
            msg = msg.removeprefix("Value error, ")
        elif kind == "list_type":
            given = err.get("input")
            if _model_at(root, [*loc, 0]) is not None:  # a list of entries (prospects:, sources:, ...)
                msg = f"expected a list of entries, each starting with '- ' on its own line (got {given!r})"
            else:
                msg = f"expected a list, e.g. [{given}] or one '- item' per line below the key (got {given!r})"
        elif kind in ("model_type", "model_attributes_type", "dict_type"):
            model = _model_at(root, loc)
            keys = f" with keys such as {', '.join(list(model.model_fields)[:4])}" if model else ""
            msg = f"expected 'key: value' entries here{keys} (got {err.get('input')!r})"
        elif kind == "string_too_short":
            msg = "cannot be empty"
        elif kind == "bool_parsing":
            msg = f"expected true or false (got {err.get('input')!r})"
        elif kind == "string_type" and isinstance(err.get("input"), int | float | bool):
            msg = (f"expected text but YAML read {err.get('input')!r}; put the value in quotes "
                   "to keep it exactly as written")
        elif kind.endswith("_type") or kind.endswith("_parsing"):
            msg = f"{msg} (got {err.get('input')!r})"
        problems.append(ConfigProblem(loaded.path, line, col, key_path(loc), msg))
    return problems
