"""Typed config loading: YAML + dotted overrides -> frozen dataclasses, and back to YAML.

The dataclasses are the schema. Loading is strict: an unknown key is an error (with a "did you mean"),
a value of the wrong type is an error naming the dotted key, the expected type and the value got, and a
duplicate key in a YAML file is an error. The only coercions are lossless ones: int -> float,
list -> tuple, and a string that spells a float (``1e-4``: YAML 1.1 reads it as a string) -> float.

    cfg = load_config(RunConfig, "configs/stage1.yaml", ["data.max_duration=20", "training.lr=1e-4"])
    save_config(cfg, run_dir / "config.yaml")   # the resolved config, next to the checkpoint
"""

from __future__ import annotations

import dataclasses
import difflib
import io
import os
import re
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar, Union

import yaml

from soundwave.atomic import write_text
from soundwave.errors import ConfigError

T = TypeVar("T")

# YAML 1.2 floats that PyYAML's YAML 1.1 resolver misses: 1e-4, 5E3, .5e1, 1.e2 (a dot is not required).
_FLOAT_RE = re.compile(r"^[-+]?(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)[eE][-+]?\d+$")
# A number written as a string ("1e-4", "0.5" in quotes): coerced for float fields.
_NUMBER_RE = re.compile(r"^[-+]?(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][-+]?\d+)?$")


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that reads ``1e-4`` as a float and rejects duplicate keys."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            line = key_node.start_mark.line + 1
            if not isinstance(key, typing.Hashable):
                continue  # SafeLoader itself reports unhashable keys
            if key in seen:
                raise ConfigError(
                    f"{key_node.start_mark.name}:{line}: duplicate key {key!r} (first at line {seen[key]})"
                )
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


_StrictLoader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT_RE, list("-+0123456789."))


def parse_yaml(text: str, name: str = "<string>") -> Any:
    """Parse YAML text with the strict loader (``1e-4`` is a float; duplicate keys raise ConfigError).

    Args:
        text: the YAML document.
        name: what to call it in error messages (a file name, or the override being parsed).
    """
    stream = io.StringIO(text)
    stream.name = name  # PyYAML puts it in its marks, so errors name the file
    try:
        return yaml.load(stream, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as err:
        raise ConfigError(f"{name}: not valid YAML ({err})") from err


def read_yaml(path: str | os.PathLike) -> dict:
    """Read a YAML file whose top level is a mapping (an empty file reads as {}).

    Raises:
        ConfigError: the file is missing, is not valid YAML, has a duplicate key or is not a mapping.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file")
    raw = parse_yaml(path.read_text(encoding="utf-8"), name=str(path))
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys, got {type(raw).__name__}")
    return raw


def apply_overrides(raw: dict, overrides: Sequence[str]) -> dict:
    """Apply ``a.b.c=value`` overrides to a nested dict in place; values are parsed as YAML.

    A list element is addressed by its index: ``data.datasets.0.weight=2`` or ``data.datasets[0].weight=2``.

    Raises:
        ConfigError: on an override without ``=``, an empty key part, or a path through a non-mapping.
    """
    for item in overrides:
        key, sep, text = item.partition("=")
        key = re.sub(r"\[(\d+)\]", r".\1", key.strip())
        parts = key.split(".")
        if not sep or not key or any(not p for p in parts):
            raise ConfigError(f"override must look like key.sub=value, got {item!r}")
        value = parse_yaml(text, name=f"override {item!r}")
        node: Any = raw
        for depth, part in enumerate(parts):
            here = ".".join(parts[: depth + 1])
            last = depth == len(parts) - 1
            if isinstance(node, list):
                if not part.isdigit() or int(part) >= len(node):
                    raise ConfigError(f"override {item!r}: {here!r} is not an index of a {len(node)}-item list")
                part = int(part)  # type: ignore[assignment]
            elif isinstance(node, dict):
                if not last and node.get(part) is None:
                    node[part] = {}
            else:
                parent = ".".join(parts[:depth])
                raise ConfigError(f"override {item!r}: {parent!r} is {node!r}, not a mapping")
            if last:
                node[part] = value
            else:
                node = node[part]
    return raw


def _describe(value: Any) -> str:
    return f"{value!r} ({type(value).__name__})"


def _type_name(tp: Any) -> str:
    if isinstance(tp, type):
        return tp.__name__
    return str(tp).replace("typing.", "")


def _coerce(tp: Any, value: Any, key: str) -> Any:
    """Check `value` against the annotation `tp` and return it converted (lossless conversions only)."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any or tp is object:
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _coerce(arg, value, key)
            except ConfigError as err:
                errors.append(str(err))
        if len(errors) == 1:
            raise ConfigError(errors[0])
        raise ConfigError(f"{key}: expected {_type_name(tp)}, got {_describe(value)}")
    if origin is Literal:
        if any(value == a and type(value) is type(a) for a in args):  # 1 is not True
            return value
        raise ConfigError(f"{key}: expected one of {list(args)}, got {_describe(value)}")
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, Mapping):
            raise ConfigError(f"{key}: expected a mapping of {tp.__name__} fields, got {_describe(value)}")
        return build_config(tp, value, prefix=key)
    if tp in (tuple, list):  # bare `list` / `tuple`: items unchecked
        origin, args = tp, ()
    if origin in (tuple, list):
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{key}: expected a list, got {_describe(value)}")
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(args) != len(value):
                raise ConfigError(f"{key}: expected a list of {len(args)} items, got {len(value)}: {value!r}")
            items = [_coerce(a, v, f"{key}[{i}]") for i, (a, v) in enumerate(zip(args, value, strict=True))]
        else:
            item_tp = args[0] if args else Any
            items = [_coerce(item_tp, v, f"{key}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict or tp is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{key}: expected a mapping, got {_describe(value)}")
        key_tp, value_tp = args or (Any, Any)
        return {_coerce(key_tp, k, f"{key} key"): _coerce(value_tp, v, f"{key}.{k}") for k, v in value.items()}
    if tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str) and _NUMBER_RE.match(value.strip()):
            return float(value)
        raise ConfigError(f"{key}: expected float, got {_describe(value)}")
    if tp is Path:
        if isinstance(value, str | Path):
            return Path(value)
        raise ConfigError(f"{key}: expected a path string, got {_describe(value)}")
    if tp in (int, str, bool):
        if isinstance(value, tp) and not (tp is int and isinstance(value, bool)):
            return value
        hint = " (quote it in YAML to make it a string)" if tp is str and isinstance(value, int | float) else ""
        raise ConfigError(f"{key}: expected {tp.__name__}, got {_describe(value)}{hint}")
    raise ConfigError(f"{key}: the schema uses a type the loader does not handle: {_type_name(tp)}")


def _unknown_key_error(cls: type, unknown: list[str], names: list[str], prefix: str) -> ConfigError:
    parts = []
    for key in unknown:
        dotted = f"{prefix}.{key}" if prefix else str(key)
        close = difflib.get_close_matches(str(key), names, n=1)
        guess = f"{prefix}.{close[0]}" if prefix and close else (close[0] if close else "")
        parts.append(f"{dotted!r} (did you mean {guess!r}?)" if guess else repr(dotted))
    return ConfigError(f"unknown key {', '.join(parts)} in {cls.__name__}; valid keys: {', '.join(names)}")


def build_config(cls: type[T], raw: Mapping, prefix: str = "") -> T:
    """Build dataclass `cls` from a mapping, checking keys and types recursively.

    Args:
        cls: a dataclass type (normally frozen).
        raw: field name -> value; nested dataclasses as nested mappings.
        prefix: the dotted key of `raw` inside the whole config, for error messages.

    Raises:
        ConfigError: unknown key, missing required key, wrong type, or a failed `__post_init__` check.
    """
    hints = typing.get_type_hints(cls)
    fields = [f for f in dataclasses.fields(cls) if f.init]  # type: ignore[arg-type]
    names = [f.name for f in fields]
    unknown = [k for k in raw if k not in names]
    if unknown:
        raise _unknown_key_error(cls, unknown, names, prefix)
    kwargs = {}
    for f in fields:
        dotted = f"{prefix}.{f.name}" if prefix else f.name
        if f.name in raw:
            kwargs[f.name] = _coerce(hints[f.name], raw[f.name], dotted)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"missing required key {dotted!r} ({_type_name(hints[f.name])})")
    try:
        return cls(**kwargs)
    except ConfigError as err:
        raise ConfigError(f"{prefix}: {err}" if prefix else str(err)) from None


def load_config(
    cls: type[T],
    source: str | os.PathLike | Mapping | None = None,
    overrides: Sequence[str] = (),
    *,
    section: str | None = None,
) -> T:
    """Load a typed config from a YAML file or a mapping, with dotted overrides.

    Args:
        cls: the dataclass to build (e.g. RunConfig, DataConfig).
        source: a YAML path, an already-parsed mapping (copied, not modified), or None (defaults only).
        overrides: ``key.sub=value`` strings applied before building; values are parsed as YAML.
        section: build `cls` from this top-level key only (e.g. ``"data"`` of a whole run YAML).
            Override keys are still full dotted keys from the top (``data.max_duration=20``).

    Returns:
        A `cls` instance.

    Raises:
        ConfigError: naming the file, dotted key and problem.
    """
    if source is None:
        raw: dict = {}
    elif isinstance(source, Mapping):
        raw = _copy_tree(source)
    else:
        raw = read_yaml(source)
    apply_overrides(raw, overrides)
    where = f"{source}: " if isinstance(source, str | os.PathLike) else ""
    try:
        if section is None:
            return build_config(cls, raw)
        node = raw.get(section)
        if node is None:
            raise ConfigError(f"no {section!r} section (top-level keys: {', '.join(map(str, raw)) or 'none'})")
        if not isinstance(node, Mapping):
            raise ConfigError(f"{section}: expected a mapping, got {_describe(node)}")
        return build_config(cls, node, prefix=section)
    except ConfigError as err:
        raise ConfigError(f"{where}{err}") from None


def _copy_tree(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _copy_tree(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_copy_tree(v) for v in value]
    return value


def config_to_dict(obj: Any) -> Any:
    """A dataclass config as plain YAML-ready data (tuples -> lists, Paths -> str); undoes `build_config`."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: config_to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj) if f.init}
    if isinstance(obj, Mapping):
        return {k: config_to_dict(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [config_to_dict(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    return obj


def dump_config(obj: Any) -> str:
    """A dataclass config as YAML text, in field order."""
    return yaml.safe_dump(config_to_dict(obj), sort_keys=False, allow_unicode=True, default_flow_style=False)


def save_config(obj: Any, path: str | os.PathLike) -> None:
    """Atomically write a dataclass config as YAML that `load_config` reads back equal."""
    write_text(path, dump_config(obj))
