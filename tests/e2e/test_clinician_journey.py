"""A clinician's first visit: log in, find a patient, fix their mobile, look at the
Schedule, write a note, open Payment Settings, log out."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import RunningApp, log_in

pytestmark = pytest.mark.e2e


def test_logged_out_users_only_reach_the_login_page(page: Page, running_app: RunningApp) -> None:
    page.goto(f"{running_app.frontend_url}/schedule")
    page.wait_for_url(re.compile(r".*/login/?$"))
    page.fill("#login-email", "demo@jotpay.local")
    page.fill("#login-password", "not-the-password")
    page.click("#login-submit")
    expect(page.locator("#login-error")).to_have_text("Email or password is incorrect")


def test_patient_search_and_mobile_edit(page: Page, fresh_app: RunningApp) -> None:
    log_in(page, fresh_app)
    page.fill("#patient-search", "Garcia")
    expect(page.locator("#patient-table tbody tr")).to_have_count(1)
    page.get_by_role("link", name="Morgan Garcia").click()
    expect(page.locator("#patient-name")).to_have_text("Morgan Garcia")
    # Morgan has no mobile number in the demo data.
    expect(page.locator("#patient-mobile")).to_have_text("No mobile number")

    page.click("#edit-mobile")
    page.fill("#mobile-input", "555-12")
    page.click("#save-mobile")
    expect(page.locator("#mobile-error")).to_have_text(
        "This is not a valid phone number. Check the digits."
    )
    page.fill("#mobile-input", "(617) 555-0188")
    page.click("#save-mobile")
    expect(page.locator("#consent-error")).to_have_text(
        "Confirm that the patient agreed to receive payment texts."
    )
    page.click("#consent-checkbox")
    page.click("#consent-method")
    page.get_by_role("option", name="Verbally, in session").click()
    page.click("#save-mobile")
    expect(page.locator("#patient-mobile")).to_have_text("(617) 555-0188")
    expect(page.locator("#patient-consent")).to_contain_text("verbally, in session")
    page.reload()
    expect(page.locator("#patient-mobile")).to_have_text("(617) 555-0188")


def test_schedule_note_and_payment_settings(page: Page, fresh_app: RunningApp) -> None:
    log_in(page, fresh_app)
    page.click("#nav-schedule")
    title = page.locator("#calendar-title")
    expect(title).not_to_be_empty()
    this_week = title.inner_text()
    page.click("#calendar-prev")
    expect(title).not_to_have_text(this_week)
    expect(page.locator(".appointment-block").first).to_be_visible()
    page.click("#calendar-today")
    expect(title).to_have_text(this_week)
    # Demo data leaves the latest finished sessions without notes: this week's, or
    # last week's early on a Monday.
    without_note = page.locator(
        ".appointment-block[data-has-note='false'][data-status='completed']"
    )
    if without_note.count() == 0:
        page.click("#calendar-prev")
        expect(without_note.first).to_be_visible()
    without_note.first.click()
    details = page.locator("#session-details")
    expect(details).to_be_visible()
    patient_name = page.locator("#details-patient-link").inner_text()
    page.click("#details-write-note")

    page.wait_for_url(re.compile(r".*/notes"))
    expect(page.locator("#note-appointment")).not_to_have_value("")
    page.fill("#note-subjective", "Reports steadier mood this week.")
    page.click("#generate-note")
    expect(page.locator("#note-plan-error")).to_have_text("Enter the plan.")
    page.fill("#note-plan", "Continue weekly sessions.")
    page.click("#generate-note")
    expect(page.locator("#generated-note")).to_contain_text("Reports steadier mood this week.")

    page.click("#nav-patients")
    page.fill("#patient-search", patient_name.split()[-1])
    page.get_by_role("link", name=patient_name).click()
    expect(page.locator("#patient-notes")).to_contain_text("Reports steadier mood this week.")

    page.click("#account-menu")
    page.click("#menu-payment-settings")
    page.wait_for_url(re.compile(r".*/payment-settings"))
    # demo@ has not sent any request yet.
    expect(page.locator("#requests-empty")).to_be_visible()

    page.click("#account-menu")
    page.click("#menu-logout")
    page.wait_for_url(re.compile(r".*/login/?$"))
    page.goto(f"{fresh_app.frontend_url}/patients")
    page.wait_for_url(re.compile(r".*/login/?$"))


def test_other_practice_gets_not_found(page: Page, fresh_app: RunningApp) -> None:
    log_in(page, fresh_app, "other@jotpay.local")
    page.goto(f"{fresh_app.frontend_url}/patients/1")
    expect(page.locator("#patient-not-found")).to_be_visible()
    expect(page.locator("#patient-name")).to_have_count(0)


def test_connected_clinician_sees_own_requests(page: Page, fresh_app: RunningApp) -> None:
    log_in(page, fresh_app, "demo2@jotpay.local")
    page.click("#account-menu")
    page.click("#menu-payment-settings")
    expect(page.locator("#requests-table tbody tr")).to_have_count(11)
    expect(page.locator("#requests-table")).to_contain_text("Paid")
    expect(page.locator("#requests-table")).to_contain_text("$5.52")
