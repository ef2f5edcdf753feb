"""Integration tests."""

import pytest

# Helpers that assert (the transcript replayer) get pytest's detailed assertion messages.
pytest.register_assert_rewrite("tests.integration.comfyui_transcripts")
