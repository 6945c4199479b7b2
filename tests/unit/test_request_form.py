import datetime as dt

import pytest
from sqlmodel import Session

from jotpay_app.services.errors import FieldErrors
from jotpay_app.services.reminders import update_practice_reminders
from jotpay_app.services.requests import RequestForm, validate_form, validate_new_mobile
from tests import factories

TODAY = dt.date(2026, 12, 4)
MAX = 1_000_000


def form(**changes: str) -> RequestForm:
    values = {"amount": "50", "reason": "Session fee", "due_date": "2026-12-11"} | changes
    return RequestForm(**values)


def test_a_good_form() -> None:
    valid = validate_form(form(reason="  Session   fee "), max_cents=MAX, today=TODAY)
    assert (valid.amount_cents, valid.reason, valid.due_date) == (
        5000,
        "Session fee",
        dt.date(2026, 12, 11),
    )


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"amount": "0.49"}, "amount", "The minimum is $0.50."),
        ({"amount": "12.345"}, "amount", "Use at most 2 decimals (cents)."),
        ({"amount": "10000.01"}, "amount", "The maximum is $10,000.00."),
        ({"reason": "   "}, "reason", "Enter a reason for the payment."),
        ({"reason": "x" * 201}, "reason", "Keep the reason under 200 characters."),
        ({"due_date": "2026-12-03"}, "due_date", "The due date can't be in the past."),
        ({"due_date": ""}, "due_date", "Choose a due date."),
        ({"due_date": "2028-01-01"}, "due_date", "Choose a due date within a year."),
    ],
)
def test_each_bad_field_gets_its_message(changes: dict, field: str, message: str) -> None:
    with pytest.raises(FieldErrors) as exc:
        validate_form(form(**changes), max_cents=MAX, today=TODAY)
    assert exc.value.errors == {field: message}


def test_due_today_is_allowed_and_errors_are_reported_together() -> None:
    assert validate_form(form(due_date="2026-12-04"), max_cents=MAX, today=TODAY)
    with pytest.raises(FieldErrors) as exc:
        validate_form(form(amount="", reason="", due_date="x"), max_cents=MAX, today=TODAY)
    assert set(exc.value.errors) == {"amount", "reason", "due_date"}


def test_new_mobile_needs_a_valid_number_and_consent() -> None:
    assert validate_new_mobile(form(mobile="12", consent_given=False)) == {
        "mobile": "This is not a valid phone number. Check the digits.",
        "consent": "Confirm that the patient agreed to receive payment texts.",
    }
    assert validate_new_mobile(
        form(mobile="(617) 555-0142", consent_given=True, consent_method="nope")
    ) == {"consent": "Choose how the patient agreed."}
    assert (
        validate_new_mobile(
            form(mobile="(617) 555-0142", consent_given=True, consent_method="Verbally, in session")
        )
        == {}
    )


def test_practice_reminder_settings(session: Session) -> None:
    practice = factories.practice(session)
    update_practice_reminders(session, practice.id, days="7, 1,3,3", hour="9", max_reminders="2")
    assert (practice.reminder_days, practice.reminder_hour, practice.max_reminders) == (
        "1,3,7",
        9,
        2,
    )
    with pytest.raises(FieldErrors) as exc:
        update_practice_reminders(session, practice.id, days="0,x", hour="21", max_reminders="11")
    assert set(exc.value.errors) == {"days", "hour", "max"}
    assert practice.reminder_days == "1,3,7"
