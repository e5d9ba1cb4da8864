"""Typed dataclasses to and from JSON, strictly: the dataclasses are the schema.

`load(cls, value)` accepts exactly what the annotations say and raises a one-line `BadInput` naming the
path of the first problem (`report.variants.original.size: expected a whole number`):
- an unknown key, a missing key, or a value of the wrong type is an error;
- a field annotated `X | Absent` may be left out (a key the writer omits in some cases, or one added
  after the schema's first release); with the default `ABSENT`, `dump` leaves it out again, so a document
  survives the round trip unchanged;
- `int` refuses booleans, `float` takes any finite number, `Literal[...]` is a fixed set of values;
- `Annotated[str, Pattern(r"...")]` and `Annotated[int, OneOf(...)]` narrow a value further.

Supported annotations: str, int, float, bool, None, Literal, unions (`X | None`), list[X], dict[str, X],
nested dataclasses and Annotated. Anything else is a programming error (TypeError), not bad input.
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from functools import cache
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin

from ..errors import BadInput

MAX_LIST = 20_000  # items in one list: far above a real report, far below what would exhaust a reader
MAX_DEPTH = 12

T = TypeVar("T")


class _Absent:
    """The type of ABSENT, the value of an optional field that isn't in the document."""

    _instance = None

    def __new__(cls):
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "ABSENT"

    def __bool__(self) -> Literal[False]:
        return False


ABSENT: Any = _Absent()
Absent = _Absent  # for annotations: `user: str | Absent = ABSENT`


@dataclasses.dataclass(frozen=True)
class Pattern:
    """Annotated[str, Pattern(regex)]: the whole string must match."""

    regex: str
    what: str = "has an unexpected form"

    def check(self, value: str) -> bool:
        return re.fullmatch(self.regex, value) is not None


@dataclasses.dataclass(frozen=True)
class OneOf:
    """Annotated[int, OneOf(values, "a documented exit code")]."""

    values: tuple
    what: str

    def check(self, value) -> bool:
        return value in self.values


def dump(obj: Any) -> Any:
    """A dataclass tree as plain JSON values; ABSENT fields are left out. Keys come in field order, or in the
    order of the class's ORDER tuple when it has one (optional fields must follow required ones in a
    dataclass, but a document may want them elsewhere)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        names = [f.name for f in dataclasses.fields(obj)]
        order = getattr(type(obj), "ORDER", ())
        names = [name for name in order if name in names] + [name for name in names if name not in order]
        return {name: dump(getattr(obj, name)) for name in names if getattr(obj, name) is not ABSENT}
    if isinstance(obj, list):
        return [dump(item) for item in obj]
    if isinstance(obj, dict):
        return {key: dump(value) for key, value in obj.items()}
    return obj


def load(cls: type[T], value: Any, where: str = "") -> T:
    """`value` (parsed JSON) as an instance of dataclass `cls`; BadInput on the first mismatch."""
    return _load(cls, value, where or cls.__name__, 0)


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls, include_extras=True)


def _load(tp: Any, value: Any, where: str, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise BadInput(f"{where}: nested too deeply")
    origin = get_origin(tp)
    if origin is Annotated:
        inner, *checks = get_args(tp)
        loaded = _load(inner, value, where, depth)
        for check in checks:
            if isinstance(check, (Pattern, OneOf)) and not check.check(loaded):
                raise BadInput(f"{where}: {_short(value)} {check.what if isinstance(check, Pattern) else 'is not ' + check.what}")
        return loaded
    if origin in (Union, types.UnionType):
        options = [option for option in get_args(tp) if option is not _Absent]
        if value is None and type(None) in options:
            return None
        rest = [option for option in options if option is not type(None)]
        if len(rest) == 1:
            return _load(rest[0], value, where, depth)
        errors = []
        for option in rest:
            try:
                return _load(option, value, where, depth)
            except BadInput as err:
                errors.append(str(err))
        raise BadInput(errors[0] if errors else f"{where}: unexpected value")
    if origin is Literal:
        allowed = get_args(tp)
        if isinstance(value, bool) or value not in allowed:
            raise BadInput(f"{where}: {_short(value)} is not one of {', '.join(map(str, allowed))}")
        return value
    if origin is list:
        (item,) = get_args(tp)
        if not isinstance(value, list) or len(value) > MAX_LIST:
            raise BadInput(f"{where}: expected a list of at most {MAX_LIST} items")
        return [_load(item, element, f"{where}[{index}]", depth + 1) for index, element in enumerate(value)]
    if origin is dict:
        key_type, item = get_args(tp)
        if key_type is not str:
            raise TypeError(f"{where}: only dict[str, X] is supported")
        if not isinstance(value, dict) or len(value) > MAX_LIST:
            raise BadInput(f"{where}: expected an object")
        return {key: _load(item, element, f"{where}.{key}", depth + 1) for key, element in value.items()}
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _load_dataclass(tp, value, where, depth)
    if tp is type(None):
        if value is not None:
            raise BadInput(f"{where}: expected null")
        return None
    if tp is bool:
        if not isinstance(value, bool):
            raise BadInput(f"{where}: expected true or false")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise BadInput(f"{where}: expected a whole number")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise BadInput(f"{where}: expected a number")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise BadInput(f"{where}: expected a string")
        return value
    raise TypeError(f"{where}: unsupported annotation {tp!r}")


def _load_dataclass(cls: type, value: Any, where: str, depth: int) -> Any:
    if not isinstance(value, dict):
        raise BadInput(f"{where}: expected an object")
    hints = _hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = [key for key in value if key not in fields]
    if unknown:
        raise BadInput(f"{where}.{_short(unknown[0], 60, quote=False)}: unknown field")
    kwargs = {}
    for name, spec in fields.items():
        if name not in value:
            if spec.default is ABSENT or _Absent in get_args(hints[name]):
                continue  # the dataclass default applies
            raise BadInput(f"{where}.{name}: missing")
        kwargs[name] = _load(hints[name], value[name], f"{where}.{name}", depth + 1)
    return cls(**kwargs)


def _short(value: Any, limit: int = 40, quote: bool = True) -> str:
    text = str(value)[:limit]
    return repr(text) if quote else text
