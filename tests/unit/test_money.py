import pytest

from jotpay_app.services.money import (
    AmountError,
    breakdown,
    cents_to_input,
    fee_cents,
    format_cents,
    parse_dollars,
)

MAX = 1_000_000


@pytest.mark.parametrize(
    ("amount", "fee"),
    [
        (50, 31),  # $0.50 -> 1.45c rounds to 1c, + 30c
        (5000, 175),  # $50.00 -> $1.75
        (1_000_000, 29030),  # $10,000.00 -> $290.30
        (1000, 59),  # 29.0c exactly
        # half-cent cases: 2.9% of these lands on .5 of a cent and rounds up
        (1050, 60),  # 30.45c -> 30c (below half)
        (1550, 75),  # 44.95c -> 45c
        (500, 45),  # 14.5c -> 15c (exact half rounds up)
        (1500, 74),  # 43.5c -> 44c
        (0, 30),
    ],
)
def test_fee_is_round_half_up_of_2_9_percent_plus_30_cents(amount: int, fee: int) -> None:
    assert fee_cents(amount) == fee


def test_breakdown_of_fifty_dollars() -> None:
    b = breakdown(5000)
    assert (b.gross_cents, b.fee_cents, b.net_cents) == (5000, 175, 4825)


def test_fee_rejects_negative() -> None:
    with pytest.raises(ValueError):
        fee_cents(-1)


@pytest.mark.parametrize(
    ("text", "cents"),
    [
        ("50", 5000),
        ("50.00", 5000),
        ("$1,250.5", 125050),
        (" 0.50 ", 50),
        ("10000", 1_000_000),
        ("99.99", 9999),
        (".75", 75),
        ("7.", 700),
    ],
)
def test_parse_dollars_accepts_what_people_type(text: str, cents: int) -> None:
    assert parse_dollars(text, max_cents=MAX) == cents


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Enter an amount."),
        ("abc", "Enter an amount in dollars, like 50 or 50.00."),
        ("-5", "Enter an amount in dollars, like 50 or 50.00."),
        ("1e3", "Enter an amount in dollars, like 50 or 50.00."),
        ("12.345", "Use at most 2 decimals (cents)."),
        ("0.49", "The minimum is $0.50."),
        ("0", "The minimum is $0.50."),
        ("10000.01", "The maximum is $10,000.00."),
    ],
)
def test_parse_dollars_explains_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(AmountError) as exc:
        parse_dollars(text, max_cents=MAX)
    assert str(exc.value) == message


@pytest.mark.parametrize(
    ("cents", "text"), [(0, "$0.00"), (5, "$0.05"), (123456, "$1,234.56"), (-500, "-$5.00")]
)
def test_format_cents(cents: int, text: str) -> None:
    assert format_cents(cents) == text


def test_cents_to_input_round_trips() -> None:
    assert cents_to_input(18000) == "180.00"
    assert parse_dollars(cents_to_input(12345), max_cents=MAX) == 12345
