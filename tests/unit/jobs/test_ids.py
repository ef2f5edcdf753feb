"""Short job ids: format, decoding leniency, uniqueness."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from bot.jobmodel.ids import ALPHABET
from bot.jobs import new_job_id, normalize_job_id

FORMAT = re.compile(r"^[0-9A-HJKMNP-TV-Z]{8}$")


def test_format() -> None:
    for _ in range(200):
        assert FORMAT.match(new_job_id())


def test_ids_are_unique_in_practice() -> None:
    ids = {new_job_id() for _ in range(10_000)}
    assert len(ids) == 10_000


def test_alphabet_is_crockford() -> None:
    assert len(ALPHABET) == 32
    assert not set("ILOU") & set(ALPHABET)


@given(st.integers(min_value=0, max_value=2**40 - 1))
def test_every_40_bit_value_encodes_to_a_distinct_valid_id(value: int) -> None:
    job_id = new_job_id(lambda bits: value)
    assert FORMAT.match(job_id)
    decoded = 0
    for char in job_id:
        decoded = decoded * 32 + ALPHABET.index(char)
    assert decoded == value


def test_extremes() -> None:
    assert new_job_id(lambda bits: 0) == "00000000"
    assert new_job_id(lambda bits: 2**bits - 1) == "ZZZZZZZZ"


def test_normalize_forgives_what_people_type() -> None:
    assert normalize_job_id(" ab12-cd34 ") == "AB12CD34"
    assert normalize_job_id("oiL0abcd") == "0110ABCD"
    assert normalize_job_id("AB12CD3") is None
    assert normalize_job_id("AB12CD345") is None
    assert normalize_job_id("AB12CDU4") is None  # U is not in the alphabet
    assert normalize_job_id("../../x") is None


@given(st.integers(min_value=0, max_value=2**40 - 1))
def test_normalize_is_identity_on_generated_ids(value: int) -> None:
    job_id = new_job_id(lambda bits: value)
    assert normalize_job_id(job_id) == job_id
    assert normalize_job_id(job_id.lower()) == job_id
