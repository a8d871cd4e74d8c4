"""The one way a setting is declared, by the core and by every channel.

A `Setting` names its place in inbox.toml, its type, default, help, environment variable,
whether it is a secret, and how it is checked. From the declarations come the values
(TOML tables, then INBOX_* variables, which win), errors that name the key, the
`inbox init` template and the README's settings table. Secrets never appear in errors.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import math
import re
import textwrap
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from inbox.errors import ConfigError

Check = Callable[[Any], Any]
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
_TYPE_NAMES: dict[type, str] = {str: "text", int: "a whole number", float: "a number",
                                bool: "true or false", list: "a list of text", dict: "a table"}
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_UNSHOWN = "<secret>"


@dataclass(frozen=True, slots=True)
class Setting:
    """One setting.

    key: its dotted place in inbox.toml; ``name[]`` is an array of tables and ``<name>``
    stands for any table name: "web.port", "email.mailboxes[].url", "forms.<slug>.title".
    type: str, int, float, bool, list (of text; one item per line in the environment) or
    dict (a table, checked as a whole by `check`).
    env: the variable that overrides the file (a blank value does not).
    secret: never shown in errors, reprs or logs; better set in the environment.
    check: takes the typed value and returns it (maybe normalised), or raises ValueError
    saying what is wrong and how to fix it.
    example: shown by the template and in type errors when there is no default.
    """

    key: str
    type: type
    default: Any
    help: str
    env: str | None = None
    secret: bool = False
    check: Check | None = field(default=None, compare=False)
    example: Any = None

    def __post_init__(self) -> None:
        if self.type not in _TYPE_NAMES:
            raise TypeError(f"{self.key}: type must be one of {', '.join(map(str, _TYPE_NAMES))}")

    @property
    def name(self) -> str:
        """The last part of the key: the field name in its table."""
        return self.key.rpartition(".")[2]

    @property
    def table(self) -> str:
        """The key of the table it lives in ("" for top-level keys)."""
        return self.key.rpartition(".")[0]

    def read(self, table: Mapping[str, Any], env: Mapping[str, str],
             where: str | None = None) -> Any:
        """Its value: the variable if set, else the table's, else the default; typed, checked.

        `where` is the concrete key errors name, e.g. "email.mailboxes[2].url".
        """
        origin = ""
        raw = table.get(self.name)
        if self.env and env.get(self.env, "").strip():
            raw, origin = env[self.env], self.env
        if raw is None:
            return self.default
        try:
            value = self.convert(raw, from_env=bool(origin))
            return self.check(value) if self.check is not None else value
        except ValueError as exc:
            note = f" (set by {origin})" if origin else ""
            raise ConfigError(where or self.key, f"{exc}{note}") from None

    def convert(self, raw: Any, from_env: bool = False) -> Any:
        """The raw TOML (or environment) value as this setting's type; ValueError if it isn't."""
        kind, shown = self.type, "the value" if self.secret else _show(raw)
        if kind is list:
            if from_env and isinstance(raw, str):
                return tuple(line.strip() for line in raw.splitlines() if line.strip())
            if isinstance(raw, list | tuple) and all(isinstance(i, str | dt.date) for i in raw):
                return tuple(i if isinstance(i, str) else i.isoformat() for i in raw)
        elif kind is dict:
            if isinstance(raw, Mapping):
                return dict(raw)
        elif kind is str:
            if isinstance(raw, str):
                return raw
            if isinstance(raw, int | float) and not isinstance(raw, bool):
                return str(raw)
        elif kind is bool:
            if isinstance(raw, bool):
                return raw
            if isinstance(raw, str) and raw.strip().lower() in _TRUE | _FALSE:
                return raw.strip().lower() in _TRUE
            raise ValueError(f"{shown} is not true/false")
        elif kind is int:
            number = _number(raw)
            if number is not None and number.is_integer():
                return int(number)
            raise ValueError(f"{shown} is not a whole number")
        else:  # float
            number = _number(raw)
            if number is not None:
                return number
            raise ValueError(f"{shown} is not a number")
        sample = self.example if self.example is not None else self.default
        hint = f", e.g. {self.name} = {toml_value(sample)}" if sample not in (None, (), {}) else ""
        raise ValueError(f"must be {_TYPE_NAMES[kind]}{hint}")


def _number(raw: Any) -> float | None:
    if isinstance(raw, bool):
        return None
    try:
        number = float(raw.strip()) if isinstance(raw, str) else float(raw)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _show(raw: Any) -> str:
    text = str(raw)
    return repr(text if len(text) <= 60 else text[:57] + "...")


def read_table(settings: Iterable[Setting], table: Mapping[str, Any],
               env: Mapping[str, str], where: str | None = None) -> dict[str, Any]:
    """The values of settings that live in one table, by name; `where` is the table's key."""
    return {s.name: s.read(table, env, f"{where}.{s.name}" if where else None)
            for s in settings}


def table_at(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """The table at a dotted key ({} when absent); ConfigError when it isn't a table."""
    table: Any = data
    for depth, part in enumerate(key.split(".")):
        table = table.get(part, {})
        if not isinstance(table, Mapping):
            where = ".".join(key.split(".")[:depth + 1])
            raise ConfigError(where, f"must be a table: write it as [{where}]")
    return table


def secret(values: Mapping[str, Any], env: Mapping[str, str], name: str,
           where: str) -> str | None:
    """A secret given directly (`name`) or by `name_env`, the variable that holds it."""
    if values.get(name) is not None:
        return str(values[name])
    var = values.get(f"{name}_env")
    if var is None:
        return None
    if not env.get(var, "").strip():
        raise ConfigError(f"{where}.{name}_env", f"environment variable {var!r} is not set; "
                                                 f"export it or set {name}")
    return env[var]


# --- unknown keys -------------------------------------------------------------------------

Tree = dict[str, "Tree | Setting"]


def _tree(settings: Iterable[Setting]) -> Tree:
    root: Tree = {}
    for s in settings:
        node = root
        for part in s.key.split(".")[:-1]:
            child = node.setdefault(part, {})
            assert isinstance(child, dict), f"{s.key} lives inside the setting {part}"
            node = child
        node[s.name] = s
    return root


def check_keys(data: Mapping[str, Any], settings: Iterable[Setting]) -> None:
    """ConfigError naming the first key of `data` that no setting declares (typos)."""
    _check_table(data, _tree(settings), "")


def _check_table(table: Mapping[str, Any], node: Tree, where: str) -> None:
    for key, value in table.items():
        path = f"{where}.{key}" if where else key
        if key in node:
            child = node[key]
            if isinstance(child, dict):
                if not isinstance(value, Mapping):
                    raise ConfigError(path, f"must be a table: write it as [{path}]")
                _check_table(value, child, path)
            continue
        if f"{key}[]" in node:
            items = value if isinstance(value, list) else None
            if items is None or not all(isinstance(i, Mapping) for i in items):
                raise ConfigError(path, f"must be an array of tables: write each as [[{path}]]")
            child = node[f"{key}[]"]
            assert isinstance(child, dict)
            for i, item in enumerate(items):
                _check_table(item, child, f"{path}[{i}]")
            continue
        pattern = next((k for k in node if k.startswith("<")), None)
        if pattern is not None and isinstance(value, Mapping):
            child = node[pattern]
            assert isinstance(child, dict)
            _check_table(value, child, path)
            continue
        raise ConfigError(path, _unknown(key, node))


def _unknown(key: str, node: Tree) -> str:
    known = [k.removesuffix("[]") for k in node if not k.startswith("<")]
    close = difflib.get_close_matches(key, known, n=1)
    tables = [f"[{k}]" for k in node if k.startswith("<")]
    return ("unknown key" + (f"; did you mean {close[0]}?" if close else "")
            + f" Known keys: {', '.join(known + tables)}")


# --- the template and the README table ----------------------------------------------------

def toml_value(value: Any) -> str:
    """A value written as TOML."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        items = (f"{_toml_key(k)} = {toml_value(v)}" for k, v in value.items())
        return "{ " + ", ".join(items) + " }"
    return json.dumps(str(value), ensure_ascii=False)  # JSON string escapes are TOML's too


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.match(key) else json.dumps(key, ensure_ascii=False)


def _shown(s: Setting) -> Any:
    """What the template shows: the default, else an example (secrets: a placeholder)."""
    if s.default not in (None, (), {}):
        return s.default
    if s.secret:
        return _UNSHOWN
    return s.example if s.example is not None else s.default


def _grouped(settings: Sequence[Setting]) -> dict[str, list[Setting]]:
    """Settings by table: tables of one top-level section together, in declaration order."""
    tops: dict[str, dict[str, list[Setting]]] = {}
    for s in settings:
        tops.setdefault(s.key.split(".")[0], {}).setdefault(s.table, []).append(s)
    return {table: found for top in tops.values() for table, found in top.items()}


def _header(table: str) -> tuple[str, bool]:
    """The table's TOML header, and whether it is written commented out (arrays, patterns)."""
    if table.endswith("[]"):
        return f"[[{table.removesuffix('[]')}]]", True
    return f"[{table}]", "<" in table or "[]" in table


def _env_note(s: Setting, code: str = "") -> str:
    """The variable that sets it (`code` quotes it); for a setting of repeated tables it
    stands for one table's worth."""
    if not s.env:
        return ""
    if "[]" in s.table:
        return f"{code}{s.env}{code} when the file has no [[{s.table.removesuffix('[]')}]]"
    return f"{code}{s.env}{code}"


def _about(s: Setting) -> str:
    env = _env_note(s)
    if s.secret:
        return f"{s.help} (secret: {f'env {env}' if env else 'better in the environment'})"
    return f"{s.help} (env {env})" if env else s.help


def _comment(text: str) -> list[str]:
    return [f"# {line}" for line in textwrap.wrap(text, 88, break_on_hyphens=False)]


def template(settings: Sequence[Setting], intro: Sequence[str] = ()) -> str:
    """A commented inbox.toml: every setting with its help, variable and default.

    Every value line is commented out, so the file as written means the defaults; people
    uncomment what they change.
    """
    lines = [f"# {line}" if line else "#" for line in intro]
    for table, found in _grouped(settings).items():
        header, commented = _header(table)
        lines += ["", f"# {header}" if commented else header] if table else [""]
        tables = [s for s in found if s.type is dict]
        for s in (s for s in found if s.type is not dict):
            lines += [*_comment(_about(s)), f"# {s.name} = {toml_value(_shown(s))}"]
        for s in tables:  # a table-valued setting: its own block after the plain keys
            lines += ["", *_comment(_about(s)), f"# [{s.key}]"]
            lines += [f"# {_toml_key(k)} = {toml_value(v)}" for k, v in _shown(s).items()]
    return "\n".join(lines).lstrip("\n") + "\n"


def markdown_table(settings: Sequence[Setting]) -> str:
    """The README's settings table: key, variable, default and what it sets."""
    rows = ["| Setting | Environment | Default | What it sets |", "|---|---|---|---|"]
    for s in settings:
        default = "" if s.default in (None, (), {}) else f"`{toml_value(s.default)}`"
        text = (s.help + (" (secret)" if s.secret else "")).replace("|", "\\|")
        text = text.replace("<", "&lt;").replace(">", "&gt;")
        rows.append(f"| `{s.key}` | {_env_note(s, '`')} | {default} | {text} |")
    return "\n".join(rows)
