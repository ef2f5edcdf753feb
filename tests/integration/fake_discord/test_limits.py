"""The fake's validators on their own (payloads discord.py's helpers would not even let us build)."""

from __future__ import annotations

from typing import Any

from tests.fakes.discord.errors import FieldErrors
from tests.fakes.discord.limits import validate_command_list, validate_message_body


def button(custom_id: str, label: str = "ok") -> dict[str, Any]:
    return {"type": 2, "style": 1, "label": label, "custom_id": custom_id}


def row(*components: dict[str, Any]) -> dict[str, Any]:
    return {"type": 1, "components": list(components)}


def paths(body: dict[str, Any]) -> list[str]:
    errors = FieldErrors()
    validate_message_body(body, errors)
    return [path for path, _code, _message in errors.flat]


def test_component_layout_limits() -> None:
    assert paths({"components": [row(button("a"))]}) == []
    six_rows = [row(button(f"b{i}")) for i in range(6)]
    assert paths({"components": six_rows}) == ["components"]
    assert paths({"components": [row(*(button(f"b{i}") for i in range(6)))]}) == ["components.0.components"]
    assert paths({"components": [row(button("same")), row(button("same"))]}) == [
        "components.1.components.0.custom_id"
    ]
    assert paths({"components": [row(button("x" * 101))]}) == ["components.0.components.0.custom_id"]
    assert paths({"components": [row(button(""))]}) == ["components.0.components.0.custom_id"]
    assert paths({"components": [button("top-level")]}) == ["components.0.type"]
    link = {"type": 2, "style": 5, "label": "docs", "url": "https://example.com", "custom_id": "nope"}
    assert paths({"components": [row(link)]}) == ["components.0.components.0.custom_id"]


def test_embed_limits() -> None:
    assert paths({"embeds": [{"title": "t"}] * 11}) == ["embeds"]
    assert paths({"embeds": [{"fields": [{"name": "", "value": "v"}]}]}) == ["embeds.0.fields.0.name"]
    assert paths({"embeds": [{"description": "d" * 4097}]}) == ["embeds.0.description"]
    assert paths(
        {"embeds": [{"description": "d" * 4000}, {"title": "t" * 200, "description": "d" * 1801}]}
    ) == ["embeds"]


def test_command_definition_limits() -> None:
    def errors_of(command: dict[str, Any]) -> list[str]:
        return [path for path, _code, _message in validate_command_list([command]).flat]

    ok = {"name": "imagine", "description": "d", "options": [{"name": "p", "description": "d", "type": 3}]}
    assert errors_of(ok) == []
    assert errors_of({**ok, "name": "x" * 33}) == ["0.name"]
    assert errors_of({**ok, "name": "has space"}) == ["0.name"]
    assert errors_of({**ok, "name": "ünïcode-ok"}) == []
    assert errors_of({**ok, "description": ""}) == ["0.description"]
    choices = [{"name": str(i), "value": str(i)} for i in range(26)]
    assert errors_of(
        {**ok, "options": [{"name": "c", "description": "d", "type": 3, "choices": choices}]}
    ) == ["0.options.0.choices"]
    long_choice = [{"name": "n" * 101, "value": "v" * 101}]
    assert errors_of(
        {**ok, "options": [{"name": "c", "description": "d", "type": 3, "choices": long_choice}]}
    ) == [
        "0.options.0.choices.0.name",
        "0.options.0.choices.0.value",
    ]
    assert errors_of({**ok, "options": [{"name": "c", "description": "d", "type": 12}]}) == [
        "0.options.0.type"
    ]
    assert validate_command_list([ok, ok]).flat[0][1] == "APPLICATION_COMMANDS_DUPLICATE_NAME"


def test_command_and_option_names_follow_the_documented_rule() -> None:
    from tests.fakes.discord.limits import chat_input_name_problem

    for good in ("imagine", "img2img", "don't", "नमस्ते", "สวัสดี", "描く", "ünïcode-ok", "a_b-c"):
        assert chat_input_name_problem(good) is None, good
    assert "lowercase" in (chat_input_name_problem("Imagine") or "")
    assert "lowercase" in (chat_input_name_problem("ÜBER") or "")
    assert "not a letter" in (chat_input_name_problem("has space") or "")
    assert "not a letter" in (chat_input_name_problem("draw🎨") or "")
    assert chat_input_name_problem("x" * 33) is not None
    assert chat_input_name_problem("") is not None


def test_command_size_counts_the_longest_localization_up_to_4000() -> None:
    def command(description: str, **extra: Any) -> dict[str, Any]:
        options = [
            {
                "name": f"o{i:02d}",
                "description": "d" * 97,
                "type": 3,
                "choices": [{"name": "c" * 99, "value": "v"}],
            }
            for i in range(19)
        ]  # 19 x (3 + 97 + 99 + 1) = 3,800 characters
        options.append({"name": "pp", "description": "d" * 96, "type": 3})  # 98 more: 3,898
        return {"name": "big", "description": description, "options": options, **extra}

    def size_errors(cmd: dict[str, Any]) -> list[str]:
        return [code for _path, code, _message in validate_command_list([cmd]).flat]

    assert size_errors(command("d" * 99)) == []  # 3 + 99 + 3,898 = 4,000: the limit itself
    assert size_errors(command("d" * 100)) == ["APPLICATION_COMMAND_TOO_LARGE"]
    # a localization longer than the default counts instead of it
    assert size_errors(command("d" * 99, description_localizations={"fr": "x" * 99})) == []
    longer = command("d" * 99, description_localizations={"fr": "x" * 100})
    assert size_errors(longer) == ["APPLICATION_COMMAND_TOO_LARGE"]
