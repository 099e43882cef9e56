from __future__ import annotations

import pytest

from otel_scale.timefmt import TimestampError, format_rfc3339_ns, format_rfc3339_s, parse_rfc3339_ns

BASE = 1_689_954_333 * 1_000_000_000  # 2023-07-21T15:45:33Z


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2023-07-21T15:45:33Z", BASE),
        ("2023-07-21T15:45:33.5Z", BASE + 500_000_000),
        ("2023-07-21T15:45:33.91368314Z", BASE + 913_683_140),
        ("2023-07-21T15:45:33.532811081Z", BASE + 532_811_081),
        ("2023-07-21T15:45:33.000000001Z", BASE + 1),
        ("2023-07-21T17:45:33.000000001+02:00", BASE + 1),
        ("2023-07-21T10:15:33-05:30", BASE),
        ("2023-07-21t15:45:33z", BASE),
    ],
)
def test_parse_keeps_every_digit(text: str, expected: int) -> None:
    assert parse_rfc3339_ns(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "yesterday",
        "2023-07-21",
        "2023-07-21T15:45:33",
        "2023-02-30T00:00:00Z",
        "2023-13-01T00:00:00Z",
        "2023-07-21T15:45:33.1234567891Z",
        "2023-07-21T25:00:00Z",
        " 2023-07-21T15:45:33Z",
    ],
)
def test_parse_rejects(text: str) -> None:
    with pytest.raises(TimestampError):
        parse_rfc3339_ns(text)


def test_parse_rejects_non_strings() -> None:
    with pytest.raises(TimestampError, match="expected an RFC 3339 string, got int"):
        parse_rfc3339_ns(1689954333)  # type: ignore[arg-type]


@pytest.mark.parametrize("ns", [BASE, BASE + 1, BASE + 500_000_000, BASE + 913_683_140, BASE + 999_999_999])
def test_format_round_trips_like_go(ns: int) -> None:
    text = format_rfc3339_ns(ns)
    assert parse_rfc3339_ns(text) == ns
    assert text.endswith("Z")
    assert not text.split(".")[-1].rstrip("Z").endswith("0") or "." not in text


def test_format_trims_trailing_zeros() -> None:
    assert format_rfc3339_ns(BASE + 913_683_140) == "2023-07-21T15:45:33.91368314Z"
    assert format_rfc3339_ns(BASE) == "2023-07-21T15:45:33Z"
    assert format_rfc3339_s(BASE + 999_999_999) == "2023-07-21T15:45:33Z"
