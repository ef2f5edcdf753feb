"""The settings registry: one key per GuildPolicy field, parsers with clear errors, JSON round trips."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from bot.moderation.errors import SettingError
from bot.moderation.limits import RoleLimits
from bot.moderation.settings import (
    DEFAULT_POLICY,
    SETTINGS,
    GuildPolicy,
    ReviewMode,
    ScreeningAction,
    parse_setting,
    setting_key,
    with_value,
)


def test_every_policy_field_has_exactly_one_key() -> None:
    assert list(SETTINGS) == [f.name for f in dataclasses.fields(GuildPolicy)]


@pytest.mark.parametrize("name", list(SETTINGS))
def test_every_key_is_described_and_its_default_round_trips(name: str) -> None:
    key = SETTINGS[name]
    assert key.description.endswith(".")
    assert key.kind.type_name
    assert key.default == getattr(DEFAULT_POLICY, name)
    stored = json.loads(json.dumps(key.kind.dump(key.default)))
    assert key.kind.load(stored) == key.default
    assert key.show(key.default)


@pytest.mark.parametrize(
    ("name", "text", "value"),
    [
        ("allowed_channels", "<#123> 456, 789", frozenset({123, 456, 789})),
        ("allowed_channels", "none", frozenset()),
        ("moderator_roles", "<@&42>", frozenset({42})),
        ("moderators_exempt", "off", False),
        ("moderators_exempt", "Yes", True),
        ("review_mode", "New-Members", ReviewMode.NEW_MEMBERS),
        ("review_mode", "everyone", ReviewMode.EVERYONE),
        ("new_member_account_days", "30", 30),
        ("new_member_guild_days", "off", 0),
        ("new_member_role", "<@&99>", 99),
        ("new_member_role", "none", None),
        ("review_channel", "<#5>", 5),
        ("mod_log_channel", "-", None),
        ("max_queued_per_user", "unlimited", 0),
        ("cooldown_seconds", "30", 30),
        ("daily_jobs", "1_000", 1000),
        ("daily_gpu_seconds", "3600", 3600),
        (
            "role_overrides",
            "<@&7> lane=priority daily_jobs=300 cooldown=0; 8 max_queued=10",
            {
                7: RoleLimits(lane="priority", daily_jobs=300, cooldown_seconds=0),
                8: RoleLimits(max_queued=10),
            },
        ),
        ("role_overrides", "none", {}),
        (
            "template_channels",
            "imagine=<#1>,<#2>; /upscale=3",
            {"imagine": frozenset({1, 2}), "upscale": frozenset({3})},
        ),
        ("template_roles", "video=<@&4>", {"video": frozenset({4})}),
        ("template_roles", "video=none", {}),
        ("nsfw_output_action", "spoiler", ScreeningAction.SPOILER),
        ("use_builtin_blocklist", "false", False),
        ("blocked_terms", "nud*, gore, re:\\bx{2,3}\\b, gore", ("nud*", "gore", "re:\\bx{2,3}\\b")),
        ("review_terms", "clear", ()),
    ],
)
def test_parse_and_round_trip(name: str, text: str, value: Any) -> None:
    key, parsed = parse_setting(name, text)
    assert parsed == value
    stored = json.loads(json.dumps(key.kind.dump(parsed)))
    assert key.kind.load(stored) == value
    assert with_value(DEFAULT_POLICY, name, parsed).__getattribute__(name) == value


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("allowed_channels", "general", "'general' is not a channel id or mention"),
        ("allowed_channels", "<@&5>", "not a channel id"),
        ("moderator_roles", "0", "'0' is not a role id"),
        ("moderators_exempt", "maybe", "expected on or off, got 'maybe'"),
        ("review_mode", "sometimes", "expected one of off | flagged | new_members | everyone"),
        ("new_member_account_days", "400", "from 0 to 365"),
        ("cooldown_seconds", "ten", "got 'ten'"),
        ("max_queued_per_user", "-1", "got -1"),
        ("review_channel", "#general", "not a channel id"),
        ("role_overrides", "<@&7>", "give at least one limit"),
        ("role_overrides", "<@&7> speed=fast", "'speed=fast' should be limit=value"),
        ("role_overrides", "<@&7> lane=vip", "lane must be one of priority, default"),
        ("role_overrides", "<@&7> daily_jobs=lots", "daily_jobs: expected a whole number"),
        ("template_channels", "imagine", "should look like template=channels"),
        ("template_channels", "bad name!=1", "should look like template=channels"),
        ("nsfw_output_action", "blur", "expected one of spoiler | review | block"),
        ("blocked_terms", r"re:(a)\1", "back-references"),
        ("blocked_terms", "re:nude(?!s)", "look-ahead"),
        ("blocked_terms", "ok, *", "at least two"),
    ],
)
def test_parse_errors_are_clear(name: str, text: str, message: str) -> None:
    with pytest.raises(SettingError) as caught:
        parse_setting(name, text)
    assert caught.value.user_message.startswith(f"`{name}`: ")
    assert message in caught.value.user_message


def test_unknown_keys_suggest_a_close_one() -> None:
    with pytest.raises(SettingError, match="Did you mean `cooldown_seconds`"):
        setting_key("cooldown_secs")
    with pytest.raises(SettingError, match="no such setting"):
        setting_key("zzz")
    assert setting_key(" Review-Mode ").name == "review_mode"


def test_stored_values_of_the_wrong_shape_are_refused() -> None:
    with pytest.raises((TypeError, ValueError)):
        SETTINGS["moderators_exempt"].kind.load("yes")
    with pytest.raises(ValueError, match="out of range"):
        SETTINGS["cooldown_seconds"].kind.load(-5)
    with pytest.raises(ValueError, match="not a list of ids"):
        SETTINGS["allowed_channels"].kind.load([1, "x"])
    with pytest.raises(ValueError, match="bad lane"):
        SETTINGS["role_overrides"].kind.load({"7": {"lane": "vip"}})
    with pytest.raises(ValueError, match="is not a valid ReviewMode"):
        SETTINGS["review_mode"].kind.load("sometimes")


def test_values_are_shown_as_moderators_write_them() -> None:
    assert SETTINGS["allowed_channels"].show(frozenset()) == "none"
    assert SETTINGS["allowed_channels"].show(frozenset({2, 1})) == "<#1>, <#2>"
    assert SETTINGS["daily_gpu_seconds"].show(0) == "no limit"
    assert SETTINGS["cooldown_seconds"].show(30) == "30 seconds"
    assert SETTINGS["role_overrides"].show({7: RoleLimits(lane="priority")}) == "<@&7> lane=priority"
    assert SETTINGS["blocked_terms"].show(("a*", "b")) == "`a*`, `b`"
