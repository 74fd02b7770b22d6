"""Value classes: what ``@dataclass(frozen=True, slots=True)`` gives, at a
fraction of its class-creation cost.

Why not :mod:`dataclasses`: it compiles five or six functions per class with
``exec`` when the class is created (and ``slots=True`` builds the class twice),
and ``get`` creates some fifty value classes at every start. Measured
end to end by ``bench/cold_get.py``'s ``https-request, dataclasses`` row (the
same ``get`` with this module swapped for its dataclasses twin,
``bench/dataclass_structs.py``): dataclasses add ~40 ms to a ~120 ms cold
``get``, taking it from ~1.0x to ~1.3x of ``requests.get``'s wall time, far over
the 1.0x budget. A :class:`Struct` class is built in ~30 microseconds: the
field table is read from the annotations once, and ``__init__``,
``__repr__``, ``__eq__`` and ``__hash__`` are shared functions that walk it
(``==`` and ``hash`` read the compared fields through one
``operator.attrgetter`` per class, in C; an instance is built about as fast as
a dataclass's when its fields are given positionally, those left out having
plain defaults, a little slower with keywords or a ``default_factory``; a
``slots=False`` class's fields go into its ``__dict__`` in one update).

Usage mirrors dataclasses (type checkers see one, through
:func:`typing.dataclass_transform`)::

    class Extension(Struct):                 # frozen, slotted, eq, hash, repr
        type: int
        data: bytes = b""

    class State(Struct, frozen=False):       # mutable, unhashable
        seen: list[int] = field(default_factory=list)

    class Config(Struct, slots=False):       # has a __dict__ (cached_property)
        ...

    class Handle(Struct, eq=False):          # == and hash by identity
        ...

Fields are the class's annotations that are not ``ClassVar``, after those of
its Struct bases; a field without a default may not follow one with a default,
and a mutable default (a list, a dict...) needs ``field(default_factory=...)``
(ValueError otherwise). The options are each class's own: a subclass of an
``eq=False`` Struct has value equality unless it says ``eq=False`` too; frozen
and mutable Structs cannot inherit from each other (TypeError).
``__post_init__`` runs after ``__init__`` when a class defines it (a Struct
may not define ``__init__`` itself: TypeError at class creation). A frozen
class's ``__setattr__``/``__delattr__`` raise :class:`FrozenInstanceError`.
:func:`replace` and :func:`fields` are the counterparts of dataclasses'.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from operator import attrgetter
from types import MemberDescriptorType
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, dataclass_transform, overload

__all__ = ["Field", "FrozenInstanceError", "Struct", "field", "fields", "replace"]

_T = TypeVar("_T")


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


class _Factory:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<factory>"


_FACTORY = _Factory()  # a field's default in a signature, when a factory makes it


class FrozenInstanceError(AttributeError):
    """Assignment to a field of a frozen :class:`Struct`."""


class Field:
    """One field: its name, default or default factory, and whether it is
    shown by ``repr`` and compared by ``==`` (and hashed)."""

    __slots__ = ("compare", "default", "default_factory", "name", "repr")

    def __init__(
        self, default: Any = MISSING, default_factory: Any = MISSING, repr: bool = True, compare: bool = True
    ) -> None:
        if default is not MISSING and default_factory is not MISSING:
            raise ValueError("a field cannot have both default and default_factory")
        self.name = ""
        self.default = default
        self.default_factory = default_factory
        self.repr = repr
        self.compare = compare

    @property
    def required(self) -> bool:
        return self.default is MISSING and self.default_factory is MISSING

    def __repr__(self) -> str:
        return f"Field({self.name!r}, default={self.default!r}, default_factory={self.default_factory!r})"


@overload
def field(*, default: _T, repr: bool = True, compare: bool = True) -> _T: ...
@overload
def field(*, default_factory: Callable[[], _T], repr: bool = True, compare: bool = True) -> _T: ...
@overload
def field(*, repr: bool = True, compare: bool = True) -> Any: ...
def field(*, default: Any = MISSING, default_factory: Any = MISSING, repr: bool = True, compare: bool = True) -> Any:
    """A field with options, as ``dataclasses.field``.

    Raises ValueError when both ``default`` and ``default_factory`` are given.
    """
    return Field(default, default_factory, repr, compare)


_CLASSVAR = re.compile(r"(?:\w+\.)?ClassVar(?:\[|$)")


def _is_classvar(annotation: object) -> bool:
    if isinstance(annotation, str):  # from __future__ import annotations
        return _CLASSVAR.match(annotation) is not None
    return annotation is ClassVar or getattr(annotation, "__origin__", None) is ClassVar


def _key_function(names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    """A function returning the tuple of ``names``' values of an instance (==, hash):
    ``operator.attrgetter`` reads them in C."""
    if len(names) > 1:
        return attrgetter(*names)
    if names:
        one = attrgetter(names[0])
        return lambda obj: (one(obj),)
    return lambda obj: ()


def _frozen_setattr(self: object, name: str, value: object) -> None:
    raise FrozenInstanceError(f"cannot assign to field {name!r} of frozen {type(self).__qualname__}")


def _frozen_delattr(self: object, name: str) -> None:
    raise FrozenInstanceError(f"cannot delete field {name!r} of frozen {type(self).__qualname__}")


@dataclass_transform(frozen_default=True, field_specifiers=(field, Field))
class _StructMeta(type):
    """Collects the fields at class creation and adds ``__slots__``."""

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
    ) -> _StructMeta:
        struct_bases = [b for b in bases if isinstance(b, _StructMeta)]
        if not struct_bases:  # the root, Struct itself
            return super().__new__(mcs, name, bases, ns, **kwargs)
        if "__annotations__" not in ns and any(k.startswith("__annotate") for k in ns):
            raise TypeError(f"{name}: Struct modules need 'from __future__ import annotations' (Python 3.14+)")
        if "__init__" in ns:
            raise TypeError(f"{name}: a Struct has no __init__ of its own (use __post_init__)")
        if "__slots__" in ns:
            raise TypeError(f"{name}: a Struct makes its own __slots__ (use slots=False for a __dict__)")
        table: dict[str, Field] = {}
        for base in reversed(struct_bases):
            if base.__struct_frozen__ != frozen and base is not Struct:  # type: ignore[attr-defined]
                raise TypeError(f"{name}: a frozen and a mutable Struct cannot inherit from each other")
            for f in base.__struct_fields__:  # type: ignore[attr-defined]
                table[f.name] = f
        own: list[str] = []
        for fname, annotation in ns.get("__annotations__", {}).items():
            if _is_classvar(annotation):
                continue
            if fname.startswith("__"):
                raise TypeError(f"{name}: field names may not start with '__' ({fname!r})")
            value = ns.pop(fname, MISSING)
            f = value if isinstance(value, Field) else Field(value)
            if type(f.default).__hash__ is None:  # list, dict, set...: shared by every instance
                raise ValueError(f"{name}: mutable default for field {fname!r}: use field(default_factory=...)")
            f.name = fname
            if fname not in table:
                own.append(fname)
            table[fname] = f
        all_fields = tuple(table.values())
        names = tuple(table)
        seen_default = ""
        for f in all_fields:
            if f.default is not MISSING or f.default_factory is not MISSING:
                seen_default = f.name
            elif seen_default:
                raise TypeError(f"{name}: field {f.name!r} without a default follows {seen_default!r} with one")
        tail: list[Any] = []  # the plain defaults of the last fields (a factory or a required field ends them)
        for f in reversed(all_fields):
            if f.default is MISSING:
                break
            tail.append(f.default)
        ns["__init__"] = _init
        if slots:
            ns["__slots__"] = tuple(own)
        # Each class states its own behaviour (a class's own methods win): inheriting
        # from a Struct made with other options must not carry those options over.
        ns.setdefault("__setattr__", _frozen_setattr if frozen else object.__setattr__)
        ns.setdefault("__delattr__", _frozen_delattr if frozen else object.__delattr__)
        if eq:
            ns.setdefault("__eq__", Struct.__eq__)
            ns.setdefault("__hash__", Struct.__hash__ if frozen else None)  # mutable with ==: unhashable
        else:  # identity, as dataclass(eq=False) on a base class
            ns.setdefault("__eq__", object.__eq__)
            ns.setdefault("__hash__", object.__hash__)
        # Class attributes go in before the class is made: no type-cache churn afterwards.
        ns["__struct_fields__"] = all_fields
        ns["__struct_frozen__"] = frozen
        ns["__match_args__"] = names
        ns["__struct_names__"] = names
        ns["__struct_setters__"] = None  # each class its own (_setters: made at its first instance)
        ns["__struct_defaults__"] = tuple(reversed(tail))
        # fields kept in the instance's __dict__ (slots=False, and no Struct base has them in slots)
        ns["__struct_in_dict__"] = not slots and not any(
            isinstance(getattr(b, n, None), MemberDescriptorType) for b in bases for n in names
        )
        ns["__struct_post_init__"] = "__post_init__" in ns or any(hasattr(b, "__post_init__") for b in bases)
        compared = tuple(f.name for f in all_fields if f.compare)
        ns["__struct_compare__"] = compared
        ns["__struct_values__"] = staticmethod(_key_function(compared))
        cls = super().__new__(mcs, name, bases, ns, **kwargs)
        return cls

    @property
    def __signature__(cls) -> Any:
        """What :func:`inspect.signature` (and so editors and ``help()``) shows for the class:
        its fields as parameters, with their annotations and defaults, instead of the shared
        ``__init__``'s ``(*args, **kwargs)``. Made when asked: :mod:`inspect` is imported then."""
        fields = cls.__dict__.get("__struct_fields__", ())
        if not fields:
            return None  # Struct itself: inspect's own answer
        import inspect

        annotations: dict[str, Any] = {}
        for klass in reversed(cls.__mro__):
            annotations.update(inspect.get_annotations(klass))
        params = []
        for f in fields:
            if f.default is not MISSING:
                default = f.default
            elif f.default_factory is not MISSING:
                default = _FACTORY
            else:
                default = inspect.Parameter.empty
            kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
            params.append(inspect.Parameter(f.name, kind, default=default, annotation=annotations.get(f.name, "Any")))
        return inspect.Signature(params, return_annotation=None)


class Struct(metaclass=_StructMeta):
    """Base of the value classes (see the module docstring)."""

    __slots__ = ()
    __struct_fields__: ClassVar[tuple[Field, ...]] = ()
    __struct_frozen__: ClassVar[bool] = True
    __struct_names__: ClassVar[tuple[str, ...]] = ()
    __struct_defaults__: ClassVar[tuple[Any, ...]] = ()
    __struct_in_dict__: ClassVar[bool] = False
    __struct_setters__: ClassVar[tuple[Callable[[Any, Any], None], ...] | None] = None  # (_setters)
    __struct_compare__: ClassVar[tuple[str, ...]] = ()
    __struct_post_init__: ClassVar[bool] = False

    def __repr__(self) -> str:
        shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in self.__struct_fields__ if f.repr)
        return f"{type(self).__qualname__}({shown})"

    __struct_values__: ClassVar[Callable[[Any], tuple[Any, ...]]] = staticmethod(lambda obj: ())

    def __struct_key__(self) -> tuple[Any, ...]:
        """The compared fields' values."""
        return type(self).__struct_values__(self)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, Struct)
        values = type(self).__struct_values__
        return values(self) == values(other)

    def __hash__(self) -> int:
        return hash(type(self).__struct_values__(self))

    def __getstate__(self) -> tuple[Any, ...]:
        return tuple(getattr(self, f.name) for f in self.__struct_fields__)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        for f, value in zip(self.__struct_fields__, state, strict=True):
            object.__setattr__(self, f.name, value)


def _init(self: Struct, *args: Any, **kwargs: Any) -> None:
    """Every Struct class's ``__init__``: the fields in order, positional or by
    keyword, defaults for those not given, then ``__post_init__``.

    Raises TypeError for too many, missing, repeated or unknown arguments.
    """
    cls = type(self)
    put = object.__setattr__
    names = cls.__struct_names__
    left = len(names) - len(args)
    if left > 0 and not kwargs and left <= len(cls.__struct_defaults__):  # the last fields' plain defaults
        args += cls.__struct_defaults__[-left:]
        left = 0
    if not left and not kwargs:  # the common case
        if cls.__struct_in_dict__:  # one C call (each object.__setattr__ costs more than a dict update)
            self.__dict__.update(zip(names, args))  # noqa: B905 (equal lengths, just compared)
        else:
            setters = cls.__struct_setters__
            if setters is None:
                setters = _setters(cls)
            for set_field, value in zip(setters, args):  # noqa: B905 (equal lengths, just compared; a keyword costs 40%)
                set_field(self, value)
    else:
        table = cls.__struct_fields__
        if len(args) > len(table):
            raise TypeError(f"{cls.__qualname__}() takes {len(table)} positional arguments, {len(args)} given")
        for name, value in zip(names, args, strict=False):  # args may be fewer
            put(self, name, value)
        for f in table[len(args) :]:
            value = kwargs.pop(f.name, MISSING)
            if value is MISSING:
                if f.default is not MISSING:
                    value = f.default
                elif f.default_factory is not MISSING:
                    value = f.default_factory()
                else:
                    raise TypeError(f"{cls.__qualname__}() missing argument {f.name!r}")
            put(self, f.name, value)
        if kwargs:
            what = "multiple values for" if set(kwargs) & set(names) else "unexpected keyword argument"
            raise TypeError(f"{cls.__qualname__}() got {what} {sorted(kwargs)[0]!r}")
    if cls.__struct_post_init__:
        self.__post_init__()  # type: ignore[attr-defined]


def _setters(cls: type[Struct]) -> tuple[Callable[[Any, Any], None], ...]:
    """``(instance, value) -> None`` per field, kept on the class at its first instance: a slot's
    member descriptor's ``__set__`` (a third cheaper than ``object.__setattr__``, which looks the
    name up again), ``object.__setattr__`` by name for a field kept in the ``__dict__``."""

    def by_name(name: str) -> Callable[[Any, Any], None]:
        return lambda obj, value: object.__setattr__(obj, name, value)

    setters = []
    for name in cls.__struct_names__:
        where = getattr(cls, name, None)
        setters.append(where.__set__ if isinstance(where, MemberDescriptorType) else by_name(name))
    made = tuple(setters)
    type.__setattr__(cls, "__struct_setters__", made)
    return made


def fields(obj: Struct | type[Struct]) -> tuple[Field, ...]:
    """The fields of a Struct class or instance, in order."""
    return obj.__struct_fields__


if TYPE_CHECKING:
    # mypy checks a dataclasses.replace call's keywords against the fields, for
    # dataclass_transform classes too; the runtime function is the one below.
    from dataclasses import replace
else:

    def replace(obj, /, **changes):
        """A copy of Struct ``obj`` with ``changes`` (``__post_init__`` runs again).

        Raises TypeError for a name that is not a field.
        """
        table = obj.__struct_fields__
        unknown = set(changes) - {f.name for f in table}
        if unknown:
            raise TypeError(f"{type(obj).__qualname__} has no field {sorted(unknown)[0]!r}")
        values = {f.name: getattr(obj, f.name) for f in table}
        values.update(changes)
        return type(obj)(**values)
