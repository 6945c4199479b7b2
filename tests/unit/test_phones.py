import pytest

from jotpay_app.services.phones import PhoneError, display_phone, masked_phone, normalize_mobile


@pytest.mark.parametrize(
    ("text", "e164"),
    [
        ("(617) 555-0142", "+16175550142"),
        ("617.555.0142", "+16175550142"),
        ("+1 617 555 0142", "+16175550142"),
        ("1-617-555-0142", "+16175550142"),
        ("+44 7400 123456", "+447400123456"),
    ],
)
def test_normalizes_to_e164_with_us_default(text: str, e164: str) -> None:
    assert normalize_mobile(text) == e164


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Enter a mobile number."),
        ("hello", "Enter a valid mobile number, like (617) 555-0142."),
        ("555-1234", "This is not a valid phone number. Check the digits."),
        ("+1 617 555 01", "This is not a valid phone number. Check the digits."),
        (
            "+44 20 7946 0958",
            "This looks like a landline. Enter a mobile number that can get texts.",
        ),
    ],
)
def test_rejects_with_a_message(text: str, message: str) -> None:
    with pytest.raises(PhoneError) as exc:
        normalize_mobile(text)
    assert str(exc.value) == message


def test_display_and_mask() -> None:
    assert display_phone("+16175550142") == "(617) 555-0142"
    assert display_phone("") == ""
    assert masked_phone("+16175550142").endswith("0142")
    assert "555" not in masked_phone("+16175550142")
