"""``https_request.structs`` rebuilt on stdlib :mod:`dataclasses`, for the
``https-request, dataclasses`` row of ``bench/cold_get.py``.

What it answers: what would ``get``'s cold start cost if every value class
were ``@dataclass(frozen=True, slots=True)`` (or whatever options the class
asks for) instead of a :class:`https_request.structs.Struct`? Rather than
estimating from a per-class figure, the row runs the real ``get`` with this
module installed as ``https_request.structs`` before the package is imported:
``Struct``'s metaclass hands every subclass to ``dataclasses.dataclass(frozen=,
eq=, slots=)`` with the options the class gives, and ``field``, ``fields``,
``replace`` and ``FrozenInstanceError`` are dataclasses' own. Nothing else in
the project changes, so the row's difference to the ``https-request`` row is
the price of dataclasses (their per-class ``exec`` of ``__init__``,
``__repr__``, ``__eq__``, ``__hash__``, ``__setattr__``, ``__delattr__``,
and the second class that ``slots=True`` builds).

Use: ``python -c "import dataclass_structs; dataclass_structs.install(); ..."``
with this directory on ``sys.path`` (``cold_get.py`` does it). Bench only:
the project itself never imports this module.
"""

from __future__ import annotations

import dataclasses
import sys
import types
from typing import Any

__all__ = ["install"]


class _DataclassMeta(type):
    """Turns each subclass of ``Struct`` into a dataclass with its class options."""

    def __new__(
        mcs,
        name: str,
        bases: tuple[type, ...],
        ns: dict[str, Any],
        *,
        frozen: bool = True,
        eq: bool = True,
        slots: bool = True,
        **kwargs: Any,
    ) -> _DataclassMeta:
        cls = super().__new__(mcs, name, bases, ns, **kwargs)
        if not any(isinstance(b, _DataclassMeta) for b in bases) or "__dataclass_params__" in ns:
            return cls  # the root Struct, or the copy that dataclass(slots=True) makes
        return dataclasses.dataclass(frozen=frozen, eq=eq, slots=slots)(cls)  # type: ignore[return-value]


class Struct(metaclass=_DataclassMeta):
    __slots__ = ()


def install() -> None:
    """Make ``https_request.structs`` this dataclasses version (call before importing https_request)."""
    if "https_request" in sys.modules:
        raise RuntimeError("install() must run before https_request is imported")
    module = types.ModuleType("https_request.structs", __doc__)
    module.__dict__.update(
        Struct=Struct,
        field=dataclasses.field,
        fields=dataclasses.fields,
        replace=dataclasses.replace,
        FrozenInstanceError=dataclasses.FrozenInstanceError,
        __all__=["FrozenInstanceError", "Struct", "field", "fields", "replace"],
    )
    sys.modules["https_request.structs"] = module
