"""Numbers as people type them: what int() and float() would also accept is refused, with the value shown
as it was typed."""

from __future__ import annotations

import pytest

from bot.config import load_settings
from bot.errors import ConfigError, InvalidParameter
from bot.numbers import NumberOutOfRange, parse_plain_float, parse_plain_int
from bot.templates import Param, ParamType, Target, coerce_value

T = (Target("1", "x"),)


@pytest.mark.parametrize(("text", "value"), [("30", 30), (" -4 ", -4), ("+7", 7), ("0", 0), ("007", 7)])
def test_plain_ints(text: str, value: int) -> None:
    assert parse_plain_int(text) == value


@pytest.mark.parametrize(
    "text",
    ["1_000", "١٠", "٣٠", "１２", "0x10", "1e3", "3.0", "", " ", "+", "--1", "1 000", "²", "9" * 41],
)
def test_python_int_quirks_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a plain whole number"):
        parse_plain_int(text)


@pytest.mark.parametrize(
    ("text", "value"),
    [("2.5", 2.5), (".5", 0.5), ("5.", 5.0), ("-1e-3", -0.001), (" 4 ", 4.0), ("1E2", 100.0)],
)
def test_plain_floats(text: str, value: float) -> None:
    assert parse_plain_float(text) == value


@pytest.mark.parametrize("text", ["1_0.5", "٣.٥", "nan", "inf", "-Infinity", "0x1p3", "1,5", "1.2.3", "e5"])
def test_python_float_quirks_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a plain number"):
        parse_plain_float(text)


def test_a_float_too_large_is_out_of_range() -> None:
    with pytest.raises(NumberOutOfRange):
        parse_plain_float("1e999")


def _param(kind: ParamType, **kwargs: object) -> Param:
    return Param("p", kind, "a parameter", T, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kind", "bounds", "raw", "message"),
    [
        (
            ParamType.INT,
            {},
            "1_0_0_0",
            "`p`: must be a whole number written with the digits 0-9 (got '1_0_0_0')",
        ),
        (ParamType.INT, {}, "٣٠", "`p`: must be a whole number written with the digits 0-9 (got '٣٠')"),
        (ParamType.SEED, {}, "１２", "`p`: must be a whole number written with the digits 0-9 (got '１２')"),
        (ParamType.FLOAT, {}, "٣.٥", "`p`: must be a number like 7 or 2.5, with the digits 0-9 (got '٣.٥')"),
        (
            ParamType.FLOAT,
            {},
            "1_0.5",
            "`p`: must be a number like 7 or 2.5, with the digits 0-9 (got '1_0.5')",
        ),
        (ParamType.FLOAT, {}, "NaN", "`p`: must be a finite number (got 'NaN')"),
        (ParamType.FLOAT, {}, "1e999", "`p`: is far too large (got '1e999')"),
        (
            ParamType.FLOAT,
            {"min": 0.25, "max": 4.0},
            "4.0000001",
            "`p`: must be between 0.25 and 4 (got 4.0000001)",
        ),
        (
            ParamType.FLOAT,
            {"min": 0.25, "max": 4.0},
            4.0000001,
            "`p`: must be between 0.25 and 4 (got 4.0000001)",
        ),
        (
            ParamType.FLOAT,
            {"min": 0.25, "max": 4.0},
            "4.00000010",
            "`p`: must be between 0.25 and 4 (got 4.00000010)",
        ),
        (
            ParamType.FLOAT,
            {"min": 0.1234567, "max": 1},
            0.1,
            "`p`: must be between 0.1234567 and 1 (got 0.1)",
        ),
        (ParamType.INT, {"min": 1, "max": 50}, " 51 ", "`p`: must be between 1 and 50 (got 51)"),
        (
            ParamType.INT,
            {"min": 1, "max": 50},
            1e20,
            "`p`: must be between 1 and 50 (got 100000000000000000000)",
        ),
        (ParamType.INT, {}, 2.5, "`p`: must be a whole number (got 2.5)"),
        (ParamType.INT, {}, float("nan"), "`p`: must be a whole number (got nan)"),
        (ParamType.FLOAT, {"max": 1}, 10**400, "`p`: is far too large"),
    ],
)
def test_messages_show_the_value_as_typed(kind: ParamType, bounds: dict, raw: object, message: str) -> None:
    with pytest.raises(InvalidParameter) as info:
        coerce_value(_param(kind, **bounds), raw)
    assert info.value.user_message == message


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({"MAX_QUEUED_PER_USER": "1_0"}, "MAX_QUEUED_PER_USER must be a whole number >= 1, got '1_0'"),
        ({"COMFYUI_MAX_IN_FLIGHT": "٢"}, "COMFYUI_MAX_IN_FLIGHT must be a whole number >= 1, got '٢'"),
        ({"COMFYUI_TIMEOUT": "nan"}, "COMFYUI_TIMEOUT must be a number >= 1, got 'nan'"),
        ({"OWNER_IDS": "12,1_3"}, "OWNER_IDS must be comma-separated Discord user ids, got '12,1_3'"),
        ({"WORKFLOW_MAX_MB": "0"}, "WORKFLOW_MAX_MB must be a number between 0.001 and 1024, got '0'"),
        ({"IMAGE_MAX_SIDE": "10"}, "IMAGE_MAX_SIDE must be a whole number between 64 and 65535, got '10'"),
        ({"COMFYUI_AUTH_١": "bearer:x"}, None),  # not an auth variable at all: ignored
    ],
)
def test_settings_parse_numbers_plainly(env: dict[str, str], problem: str | None) -> None:
    if problem is None:
        assert load_settings(env, require_discord=False).backends[0].auth.kind == "none"
        return
    with pytest.raises(ConfigError) as info:
        load_settings(env, require_discord=False)
    assert info.value.problems == [problem]


def test_new_settings_have_their_defaults_and_units() -> None:
    settings = load_settings({"WORKFLOW_MAX_MB": "0.5", "IMAGE_MAX_SIDE": "2048"}, require_discord=False)
    assert settings.workflow_max_bytes == 512 * 1024
    assert settings.image_max_side == 2048
    defaults = load_settings({}, require_discord=False)
    assert defaults.workflow_max_bytes == 4 * 1024 * 1024
    assert defaults.image_max_side == 4096
