"""https_request.structs: the value classes that replace dataclasses."""

from __future__ import annotations

import copy
import pickle
from functools import cached_property
from typing import ClassVar

import pytest

from https_request.structs import FrozenInstanceError, Struct, field, fields, replace


class Point(Struct):
    x: int
    y: int = 0
    tags: tuple[str, ...] = ()
    KIND: ClassVar[str] = "point"
    label = "unannotated class attribute"


class Point3(Point):
    z: int = 0


class Bag(Struct, frozen=False):
    items: list[int] = field(default_factory=list)
    note: str = field(default="", repr=False, compare=False)


class Cached(Struct, slots=False):
    value: int

    @cached_property
    def doubled(self) -> int:
        return self.value * 2


class Handle(Struct, eq=False):
    name: str


class Checked(Struct):
    n: int

    def __post_init__(self) -> None:
        if self.n < 0:
            raise ValueError("n must be >= 0")


def test_init_positional_keyword_and_defaults() -> None:
    assert Point(1) == Point(x=1, y=0, tags=())
    p = Point(1, 2, ("a",))
    assert (p.x, p.y, p.tags) == (1, 2, ("a",))
    assert Point(y=5, x=4).y == 5
    assert Point.KIND == "point" and Point.label == "unannotated class attribute"
    assert [f.name for f in fields(Point)] == ["x", "y", "tags"]
    assert Point.__match_args__ == ("x", "y", "tags")


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((), {}, "missing argument 'x'"),
        ((1, 2, (), 4), {}, "takes 3 positional arguments, 4 given"),
        ((1,), {"x": 2}, "multiple values for 'x'"),
        ((1,), {"w": 2}, "unexpected keyword argument 'w'"),
    ],
)
def test_init_errors(args: tuple[object, ...], kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(TypeError, match=message):
        Point(*args, **kwargs)  # type: ignore[arg-type]


def test_frozen_slotted_hashable() -> None:
    p = Point(1)
    with pytest.raises(FrozenInstanceError, match="cannot assign to field 'x'"):
        p.x = 2  # type: ignore[misc]
    with pytest.raises(FrozenInstanceError):
        del p.y  # type: ignore[misc]
    with pytest.raises(AttributeError):
        p.other = 1  # type: ignore[attr-defined]
    assert not hasattr(p, "__dict__")
    assert Point.__slots__ == ("x", "y", "tags")
    assert hash(Point(1, 2)) == hash(Point(1, 2))
    assert len({Point(1), Point(1), Point(2)}) == 2
    assert Point(1) != Point(2)
    assert Point(1) != Point3(1)  # another class is never equal, as with dataclasses
    assert Point(1).__eq__((1, 0, ())) is NotImplemented


def test_repr() -> None:
    assert repr(Point(1, tags=("a",))) == "Point(x=1, y=0, tags=('a',))"
    assert repr(Bag([1], note="hidden")) == "Bag(items=[1])"


def test_inheritance_adds_fields_after_the_base() -> None:
    p = Point3(1, 2, (), 3)
    assert (p.x, p.y, p.z) == (1, 2, 3)
    assert Point3.__slots__ == ("z",)
    assert [f.name for f in fields(p)] == ["x", "y", "tags", "z"]
    with pytest.raises(FrozenInstanceError):
        p.z = 1  # type: ignore[misc]


def test_mutable_with_factory_is_unhashable() -> None:
    a, b = Bag(), Bag()
    a.items.append(1)
    assert b.items == []  # a fresh list per instance
    a.items = [7]
    assert a == Bag([7], note="not compared")
    with pytest.raises(TypeError):
        hash(a)


def test_slots_false_allows_cached_property() -> None:
    c = Cached(21)
    assert c.doubled == 42 and c.__dict__["doubled"] == 42
    with pytest.raises(FrozenInstanceError):
        c.value = 1  # type: ignore[misc]


def test_eq_false_is_identity() -> None:
    a = Handle("a")
    assert a == a and a != Handle("a")
    assert len({a, Handle("a")}) == 2


def test_post_init_and_replace() -> None:
    with pytest.raises(ValueError, match="n must be >= 0"):
        Checked(-1)
    c = Checked(1)
    assert replace(c, n=2) == Checked(2)
    with pytest.raises(ValueError):
        replace(c, n=-2)  # __post_init__ runs again
    with pytest.raises(TypeError, match="has no field 'm'"):
        replace(c, m=1)
    assert replace(Point3(1), z=9) == Point3(1, 0, (), 9)


def test_copy_and_pickle() -> None:
    p = Point3(1, 2, ("t",), 3)
    for q in (copy.copy(p), copy.deepcopy(p), pickle.loads(pickle.dumps(p))):
        assert q == p and q is not p
    bag = pickle.loads(pickle.dumps(Bag([1, 2], note="n")))
    assert bag.items == [1, 2] and bag.note == "n"


def test_class_definition_errors() -> None:
    with pytest.raises(TypeError, match="field 'b' without a default follows 'a'"):

        class Bad(Struct):
            a: int = 1
            b: int

    with pytest.raises(TypeError, match="frozen and a mutable"):

        class Mixed(Point, frozen=False):
            pass

    with pytest.raises(ValueError, match="both default and default_factory"):
        field(default=1, default_factory=list)


def test_a_struct_cannot_define_init() -> None:
    with pytest.raises(TypeError, match="no __init__ of its own"):

        class Own(Struct):
            a: int

            def __init__(self, a: int) -> None:
                object.__setattr__(self, "a", a)


def test_options_are_not_inherited_from_another_kind_of_struct() -> None:
    class Identity(Struct, eq=False):
        a: int

    class Valued(Identity):
        b: int = 0

    assert Identity(1) != Identity(1)
    assert Valued(1) == Valued(1) and hash(Valued(1)) == hash(Valued(1))

    class NoFields(Struct):
        pass

    with pytest.raises(TypeError, match="frozen and a mutable"):

        class MutableChild(NoFields, frozen=False):
            x: int

    class MutableBase(Struct, frozen=False):
        pass

    with pytest.raises(TypeError, match="frozen and a mutable"):

        class FrozenChild(MutableBase):
            x: int


def test_internal_names_leave_field_names_free() -> None:
    class Keyed(Struct):
        _key: int
        _field_names: str = "f"
        ClassVarish: int = 0  # a field, though its name starts like ClassVar

    k = Keyed(1)
    assert k == Keyed(1) and hash(k) == hash(Keyed(1)) and k.ClassVarish == 0
    assert [f.name for f in fields(k)] == ["_key", "_field_names", "ClassVarish"]


def test_post_init_of_a_mixin_runs() -> None:
    class Validates:
        def __post_init__(self) -> None:
            if getattr(self, "n", 0) < 0:
                raise ValueError("negative")

    class Counted(Validates, Struct):
        n: int

    with pytest.raises(ValueError, match="negative"):
        Counted(-1)


def test_class_shapes_dataclasses_also_reject() -> None:
    with pytest.raises(ValueError, match="mutable default for field 'items'"):

        class Shared(Struct):
            items: list[int] = []  # noqa: RUF012

    with pytest.raises(TypeError, match="makes its own __slots__"):

        class OwnSlots(Struct):
            __slots__ = ("cache",)
            a: int

    with pytest.raises(TypeError, match="may not start with '__'"):

        class Dunder(Struct):
            __secret__: int


def test_signature_shows_the_fields() -> None:
    """inspect.signature (editors, help()) shows a Struct's fields, not (*args, **kwargs):
    issue 15 found EspTlsCfg's signature unreadable."""
    import inspect

    from https_request.esp_tls.config import EspTlsCfg

    class Point(Struct):
        x: int
        y: int = 2
        tags: list[str] = field(default_factory=list)

    sig = inspect.signature(Point)
    assert list(sig.parameters) == ["x", "y", "tags"]
    assert sig.parameters["x"].default is inspect.Parameter.empty
    assert sig.parameters["y"].default == 2
    assert repr(sig.parameters["tags"].default) == "<factory>"
    assert sig.parameters["x"].annotation == "int"
    assert sig.bind(1, y=3).arguments == {"x": 1, "y": 3}
    with pytest.raises(TypeError):
        sig.bind(1, z=3)
    cfg_params = inspect.signature(EspTlsCfg).parameters
    assert list(cfg_params)[:3] == ["cacert", "use_global_ca_store", "crt_bundle"]
    assert cfg_params["profile"].default == "default" and cfg_params["timeout_ms"].default == 0
    assert "args" not in cfg_params and "kwargs" not in cfg_params


class _DictOnSlots(Point, slots=False):  # Point's fields are in its slots, w in the __dict__
    w: int = 0


def test_fields_land_where_the_class_keeps_them() -> None:
    """Positional construction (with or without trailing defaults) stores a slots=False
    class's fields in its __dict__, and a slotted base's fields in the base's slots."""
    c = Cached(3)
    assert vars(c) == {"value": 3} and c.doubled == 6
    d = _DictOnSlots(1, 2, ("t",), 4)
    assert vars(d) == {"w": 4}
    assert (d.x, d.y, d.tags, d.w) == (1, 2, ("t",), 4)
    assert Point.x.__get__(d) == 1  # (the slot itself holds x, not a shadowed __dict__ entry)
    e = _DictOnSlots(5)
    assert (e.x, e.y, e.tags, e.w, vars(e)) == (5, 0, (), 0, {"w": 0})
    assert d == _DictOnSlots(1, 2, ("t",), 4) and hash(d) == hash(_DictOnSlots(1, 2, ("t",), 4))
    with pytest.raises(FrozenInstanceError):
        d.w = 5  # type: ignore[misc]
