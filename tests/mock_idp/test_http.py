"""http.py's form parser gives what urllib.parse.parse_qsl gives, for every input."""

from __future__ import annotations

import random
from urllib.parse import parse_qsl

import pytest

from mock_idp.http import parse_form

TRICKY = [
    "",
    "a=1",
    "a=1&b=2&a=3",
    "a=&b",
    "&&a=1&",
    "a==1",
    "=1",
    "a+b=c+d",
    "a%20b=c%2Bd",
    "x=%zz&y=%e9",
    "x=%C3%A9t%C3%A9",
    "k=v=w",
    "é=ü",
    "a;b=1",
]
ALPHABET = ["a", "b", "=", "&", "+", "%", "2", "0", "F", "G", "%41", "%e9", "%C3%A9", "é", ";", " "]


@pytest.mark.parametrize("qs", TRICKY)
def test_tricky_inputs_parse_as_parse_qsl_does(qs: str) -> None:
    assert parse_form(qs, 64) == parse_qsl(qs, keep_blank_values=False, max_num_fields=64)


def test_random_inputs_parse_as_parse_qsl_does() -> None:
    rng = random.Random(20261122)
    for _ in range(3000):
        qs = "".join(rng.choice(ALPHABET) for _ in range(rng.randrange(0, 24)))
        assert parse_form(qs, 64) == parse_qsl(qs, keep_blank_values=False, max_num_fields=64), qs


def test_too_many_fields_is_refused_like_parse_qsl() -> None:
    qs = "&".join(f"f{i}=1" for i in range(65))
    with pytest.raises(ValueError):
        parse_qsl(qs, max_num_fields=64)
    with pytest.raises(ValueError):
        parse_form(qs, 64)
    assert len(parse_form(qs[: qs.rindex("&")], 64)) == 64
