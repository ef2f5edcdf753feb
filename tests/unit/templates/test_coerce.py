"""coerce_value: the one place raw values (Discord options, CLI strings) become parameter values."""

from __future__ import annotations

import pytest

from bot.errors import InvalidParameter
from bot.templates import Choice, Param, ParamType, Target, coerce_value, file_name_problem, text_problem

T = (Target("1", "x"),)


def _param(kind: ParamType, **kwargs: object) -> Param:
    return Param("p", kind, "a parameter", T, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kind", "raw", "expected"),
    [
        (ParamType.INT, "30", 30),
        (ParamType.INT, " -4 ", -4),
        (ParamType.INT, 7.0, 7),
        (ParamType.FLOAT, "6.5", 6.5),
        (ParamType.FLOAT, 3, 3.0),
        (ParamType.BOOL, "true", True),
        (ParamType.BOOL, "Yes", True),
        (ParamType.BOOL, "off", False),
        (ParamType.BOOL, 0, False),
        (ParamType.BOOL, False, False),
        (ParamType.SEED, "18446744073709551615", 2**64 - 1),
        (ParamType.TEXT, "hello\nworld", "hello\nworld"),
        (ParamType.IMAGE, "comfycord/abc.png", "comfycord/abc.png"),
        (ParamType.MASK, "mask (1).png", "mask (1).png"),
        (ParamType.CHOICE, "any_model.safetensors", "any_model.safetensors"),
    ],
)
def test_accepted(kind: ParamType, raw: object, expected: object) -> None:
    value = coerce_value(_param(kind), raw)
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("kind", "raw"),
    [
        (ParamType.INT, "3.5"),
        (ParamType.INT, "1e3"),
        (ParamType.INT, None),
        (ParamType.FLOAT, "inf"),
        (ParamType.FLOAT, True),
        (ParamType.BOOL, "maybe"),
        (ParamType.BOOL, 2),
        (ParamType.SEED, "-1"),
        (ParamType.SEED, "0x10"),
        (ParamType.TEXT, b"bytes"),
        (ParamType.IMAGE, 5),
    ],
)
def test_refused(kind: ParamType, raw: object) -> None:
    with pytest.raises(InvalidParameter) as info:
        coerce_value(_param(kind), raw)
    assert info.value.param == "p"
    assert info.value.user_message.startswith("`p`: ")


def test_bounds_messages() -> None:
    ranged = _param(ParamType.INT, min=64, max=2048, step=8)
    assert coerce_value(ranged, "1024") == 1024
    with pytest.raises(InvalidParameter, match="multiple of 8 from 64"):
        coerce_value(ranged, 1001)
    with pytest.raises(InvalidParameter, match=r"at least 2 \(got 1\)"):
        coerce_value(_param(ParamType.INT, min=2), 1)
    with pytest.raises(InvalidParameter, match=r"at most 0.5 \(got 0.75\)"):
        coerce_value(_param(ParamType.FLOAT, max=0.5), 0.75)


def test_static_choice_accepts_labels_case_insensitively() -> None:
    param = _param(
        ParamType.CHOICE, choices=(Choice("Square", inputs=(("width", 1),)), Choice("wide", value=2))
    )
    assert coerce_value(param, "square") == "Square"
    assert coerce_value(param, "wide") == "wide"
    with pytest.raises(InvalidParameter, match="one of: Square, wide"):
        coerce_value(param, "2")


def test_text_and_file_name_checks() -> None:
    assert text_problem("fine\tand\nfine") is None
    assert text_problem("nul\x00") == "contains a NUL character"
    assert "U+001B" in (text_problem("\x1b") or "")
    assert file_name_problem("comfycord/abc.png") is None
    assert file_name_problem("../x.png") is not None
    assert file_name_problem("x" * 300) is not None
