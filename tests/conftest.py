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
    idle = sorted(TOTALS.operations_in_fake - TOTALS.operations_exercised)
    hits = ", ".join(f"{g.name} {TOTALS.gap_hits[g.name]}" for g in KNOWN_GAPS)
    terminalreporter.write_sep("-", "fake Discord vs Discord's OpenAPI spec")
    terminalreporter.write_line(
        f"{len(TOTALS.operations_exercised)} of {len(TOTALS.operations_in_fake)} operations of the fake "
        f"exercised; {TOTALS.requests_validated} requests ({TOTALS.queries_validated} query parameters) and "
        f"{TOTALS.responses_validated} answers validated in {TOTALS.seconds:.2f} s; "
        f"{TOTALS.violations} violations, {TOTALS.claimed} of them by tests that break rules on purpose"
    )
    terminalreporter.write_line(f"{len(KNOWN_GAPS)} allow-listed spec gaps, hits: {hits}")
    if idle:
        terminalreporter.write_line(f"not exercised in this run: {', '.join(idle)}")
