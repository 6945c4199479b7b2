import datetime as dt

import pytest

from jotpay_app.services.sms import reminder_text, request_text, to_gsm7

GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
LINK = "https://pay.example.com/pay/AbCdEfGhIjKlMnOpQrStUv"


def test_request_text_has_practice_amount_due_and_link_and_fits_one_sms() -> None:
    text = request_text(
        practice_name="Riverside Counseling",
        amount_cents=18000,
        due_date=dt.date(2026, 12, 11),
        link=LINK,
    )
    assert text == (
        "Riverside Counseling: payment request of $180.00, due Dec 11. "
        f"Pay securely: {LINK} Reply STOP to opt out."
    )
    assert len(text) <= 160
    assert set(text) <= GSM7


@pytest.mark.parametrize("name", ["Ōtsuka “Mind” Clinic — NYC", "Zoë’s Practice…"])
def test_text_stays_in_gsm7_whatever_the_practice_name(name: str) -> None:
    text = reminder_text(practice_name=name, amount_cents=5000, link=LINK)
    assert set(text) <= GSM7
    assert "$50.00" in text and LINK in text


def test_to_gsm7_keeps_plain_text() -> None:
    assert to_gsm7("Hello, world! 100% (ok)") == "Hello, world! 100% (ok)"
