"""Shared fixtures: the fake ComfyUI servers and the fake Discord."""

import pytest

from tests.fakes.comfyui.fixtures import fake_comfy, fake_comfy_factory
from tests.fakes.discord.fixtures import fake_discord, fake_discord_factory, fake_discord_options

__all__ = ["fake_comfy", "fake_comfy_factory", "fake_discord", "fake_discord_factory", "fake_discord_options"]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The fake Discord's conformance counts for this run (issue 19): what was held to Discord's spec."""
    from tests.fakes.discord.conformance import TOTALS
    from tests.fakes.discord.spec_gaps import KNOWN_GAPS

    if not TOTALS.operations_in_fake:
        return  # no test started a fake Discord
    gaps = ", ".join(f"{g.name} {TOTALS.gap_hits[g.name]}" for g in KNOWN_GAPS)
    terminalreporter.write_line(
        f"fake Discord vs Discord's OpenAPI spec: {len(TOTALS.operations_exercised)} of "
        f"{len(TOTALS.operations_in_fake)} operations exercised; {TOTALS.requests_validated} requests "
        f"({TOTALS.queries_validated} query parameters) and {TOTALS.responses_validated} responses validated "
        f"in {TOTALS.seconds:.1f} s; {TOTALS.violations} violations; {len(KNOWN_GAPS)} allow-listed gaps "
        f"(hits: {gaps})"
    )
