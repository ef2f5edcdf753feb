"""Settings: defaults, every problem at once, secrets hidden, .env.example in sync."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import VARIABLES, load_settings
from bot.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "MTA" + "x" * 21 + ".GabcDE." + "y" * 38


def test_defaults_need_only_a_token() -> None:
    settings = load_settings({"DISCORD_TOKEN": TOKEN})
    assert [b.base_url for b in settings.backends] == ["http://127.0.0.1:8188"]
    assert settings.max_in_flight == 2
    assert settings.data_dir == Path("./data")


def test_audit_retention_has_a_default_and_must_cover_stored_results() -> None:
    assert load_settings({"DISCORD_TOKEN": TOKEN}).audit_retention_days == 90
    assert load_settings({"DISCORD_TOKEN": TOKEN, "AUDIT_RETENTION_DAYS": "30"}).audit_retention_days == 30
    with pytest.raises(ConfigError) as info:
        load_settings({"DISCORD_TOKEN": TOKEN, "AUDIT_RETENTION_DAYS": "0.5"})
    assert info.value.problems == ["AUDIT_RETENTION_DAYS must be a number >= 1, got '0.5'"]
    with pytest.raises(ConfigError) as info:
        load_settings({"DISCORD_TOKEN": TOKEN, "AUDIT_RETENTION_DAYS": "2", "RETENTION_HOURS": "72"})
    assert info.value.problems == [
        "AUDIT_RETENTION_DAYS (2) must cover RETENTION_HOURS (72 hours): the audit log holds the "
        "screening decisions for stored results"
    ]


def test_cli_mode_does_not_need_a_token() -> None:
    settings = load_settings({}, require_discord=False)
    assert not settings.discord_token


def test_every_problem_is_reported_at_once() -> None:
    env = {
        "COMFYUI_URLS": "ftp://x, http://ok:8188, http://ok:8188",
        "COMFYUI_TIMEOUT": "soon",
        "LOG_LEVEL": "LOUD",
        "MAX_QUEUED_PER_USER": "0",
        "COMFYUI_AUTH_7": "bearer:x",
    }
    with pytest.raises(ConfigError) as info:
        load_settings(env)
    text = "\n".join(info.value.problems)
    for expected in (
        "DISCORD_TOKEN",
        "COMFYUI_URLS entry 1",
        "more than once",
        "COMFYUI_TIMEOUT",
        "LOG_LEVEL",
        "MAX_QUEUED_PER_USER",
        "COMFYUI_AUTH_7",
    ):
        assert expected in text
    assert len(info.value.problems) == 7


def test_backend_auth_kinds_and_secrets_never_print() -> None:
    env = {
        "DISCORD_TOKEN": TOKEN,
        "COMFYUI_URLS": "https://alice:s3cret-pw@gpu.example:8443/comfy/, http://b:8188, http://c:8188",
        "COMFYUI_AUTH_2": "bearer:tok-en-123",
        "COMFYUI_AUTH_3": "header:X-Api-Key:key-456",
    }
    settings = load_settings(env)
    first, second, third = settings.backends
    assert first.base_url == "https://gpu.example:8443/comfy"
    assert first.ws_url("cid") == "wss://gpu.example:8443/comfy/ws?clientId=cid"
    assert first.auth.headers()["Authorization"].startswith("Basic ")
    assert second.auth.headers() == {"Authorization": "Bearer tok-en-123"}
    assert third.auth.headers() == {"X-Api-Key": "key-456"}
    shown = repr(settings) + str(settings)
    for secret in ("s3cret-pw", "tok-en-123", "key-456", TOKEN):
        assert secret not in shown


def test_bad_secret_value_is_not_echoed() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings({"DISCORD_TOKEN": "not-a-token-but-secret", "COMFYUI_AUTH_1": "bogus:zzz-secret"})
    text = info.value.user_message
    assert "not-a-token-but-secret" not in text
    assert "zzz-secret" not in text


def test_env_example_lists_exactly_the_declared_variables() -> None:
    example = (ROOT / ".env.example").read_text()
    names = re.findall(r"^([A-Z][A-Z0-9_]*)=", example, flags=re.MULTILINE)
    assert names == [v.name for v in VARIABLES]
    # ... each under its own documentation, with its default (secrets are left empty).
    for variable in VARIABLES:
        default = "" if variable.secret else variable.default
        assert f"# {variable.doc}\n{variable.name}={default}\n" in example, variable.name


def test_bad_config_exits_2_without_network(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot"],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "COMFYUI_TIMEOUT": "-1"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "DISCORD_TOKEN" in result.stderr
    assert "COMFYUI_TIMEOUT" in result.stderr


# --- backend display names ------------------------------------------------------------------------


def test_backends_are_named_gpu_1_2_in_url_order_by_default() -> None:
    env = {"DISCORD_TOKEN": TOKEN, "COMFYUI_URLS": "http://b:8188, https://a.example/comfy"}
    first, second = load_settings(env).backends
    assert (first.display_name, second.display_name) == ("GPU 1", "GPU 2")
    # The address stays the backend's key, whatever it is called.
    assert (first.name, second.name) == ("b:8188", "a.example/comfy")


def test_comfyui_names_name_the_backends_in_order() -> None:
    env = {
        "DISCORD_TOKEN": TOKEN,
        "COMFYUI_URLS": "http://b:8188,http://a:8188",
        "COMFYUI_NAMES": "  Big\tGPU ,Laptop (RTX 3060) ",
    }
    first, second = load_settings(env).backends
    assert (first.display_name, second.display_name) == ("Big GPU", "Laptop (RTX 3060)")
    assert (first.name, second.name) == ("b:8188", "a:8188")


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("@everyone", "start with a letter"),
        ("Big <@123456789012345678>", "'<'"),
        ("**Big** GPU", "start with a letter"),
        ("Big_GPU_", "'_'"),
        ("Big [GPU](https://evil.example)", "'['"),
        ("Big `GPU`", "'`'"),
        ("Big ~~GPU~~", "'~'"),
        ("Big ||GPU||", "'|'"),
        ("# Heading", "start with a letter"),
        ("> quote", "start with a letter"),
        ("-# subtext", "start with a letter"),
        ("gpu.example:8188", "':'"),
        ("Big\\GPU", "'\\\\'"),
        ("Big\u200bGPU", "'\\u200b'"),
        ("G" * 33, "33 characters long; the limit is 32"),
    ],
)
def test_a_name_that_could_inject_markdown_or_mentions_is_refused(name: str, why: str) -> None:
    env = {"DISCORD_TOKEN": TOKEN, "COMFYUI_URLS": "http://a:8188", "COMFYUI_NAMES": name}
    with pytest.raises(ConfigError) as info:
        load_settings(env)
    (problem,) = info.value.problems
    assert problem.startswith("COMFYUI_NAMES entry 1")
    assert why in problem


def test_names_may_use_other_scripts_emoji_and_plain_punctuation() -> None:
    names = "Große Karte,ラップトップ,🔥 Render box,Bob's RTX 4090 + 3090,A/B - test & co. (2)"
    env = {"DISCORD_TOKEN": TOKEN, "COMFYUI_URLS": ",".join(f"http://h{i}:8188" for i in range(5))}
    settings = load_settings({**env, "COMFYUI_NAMES": names})
    assert [b.display_name for b in settings.backends] == names.split(",")


def test_name_problems_are_all_reported_with_the_url_count() -> None:
    env = {
        "DISCORD_TOKEN": TOKEN,
        "COMFYUI_URLS": "http://a:8188,http://b:8188,http://c:8188,http://d:8188",
        "COMFYUI_NAMES": "Big GPU,,big gpu",
    }
    with pytest.raises(ConfigError) as info:
        load_settings(env)
    problems = info.value.problems
    assert problems == [
        "COMFYUI_NAMES has 3 name(s) for 4 URL(s) in COMFYUI_URLS; give one name per URL, in the same order",
        "COMFYUI_NAMES entry 2 ('') is empty",
        "COMFYUI_NAMES entries 1 and 3 are both 'big gpu'; members could not tell the backends apart",
    ]
