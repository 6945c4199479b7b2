"""Payment Settings as a connected clinician uses it: filter, sort and page the table,
read a request's timeline, download its invoice, export CSV, cancel, refund, and watch
a payment arrive live."""

from __future__ import annotations

import datetime as dt
import re
import secrets
import uuid
import zlib

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect
from sqlmodel import Session, select

from jotpay_app.models import Clinician, Patient, PaymentRequest
from jotpay_app.services.db import make_engine
from jotpay_app.services.invoices import take_invoice_number
from jotpay_app.services.money import breakdown
from tests.e2e.conftest import RunningApp, log_in
from tests.e2e.test_schedule_and_card import pay_in_another_tab

pytestmark = pytest.mark.e2e


def open_settings(page: Page, app: RunningApp) -> None:
    log_in(page, app, "demo2@jotpay.local")
    page.click("#account-menu")
    page.click("#menu-payment-settings")
    expect(page.locator("#requests-table")).to_be_visible()


def add_sent_requests(app: RunningApp, count: int, amount_cents: int = 1234) -> list[str]:
    """Requests made earlier by demo2 (for paging), returning their pay links' tokens."""
    engine = make_engine(app.database_url)
    tokens = []
    with Session(engine) as s:
        clinician = s.exec(select(Clinician).where(Clinician.email == "demo2@jotpay.local")).one()
        patient = s.exec(select(Patient).where(Patient.last_name == "Nguyen")).one()
        for n in range(count):
            fees = breakdown(amount_cents)
            token = secrets.token_urlsafe(16)
            s.add(
                PaymentRequest(
                    practice_id=clinician.practice_id,
                    clinician_id=clinician.id,
                    patient_id=patient.id,
                    invoice_number=take_invoice_number(s, clinician.practice_id),
                    amount_cents=amount_cents,
                    fee_cents=fees.fee_cents,
                    net_cents=fees.net_cents,
                    reason=f"Outstanding balance {n}",
                    status="sent",
                    pay_token=token,
                    due_date=dt.date.today() + dt.timedelta(days=7),
                    submit_key=uuid.uuid4().hex,
                )
            )
            tokens.append(token)
        s.commit()
    engine.dispose()
    return tokens


def pdf_text(pdf: bytes) -> str:
    """Text of an fpdf2 PDF: inflate its content streams."""
    chunks = []
    for match in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            chunks.append(zlib.decompress(match.group(1)).decode("latin-1"))
        except zlib.error:
            chunks.append(match.group(1).decode("latin-1"))
    return "".join(chunks)


def test_filter_sort_page_timeline_invoice_and_csv(page: Page, fresh_app: RunningApp) -> None:
    add_sent_requests(fresh_app, 20)
    open_settings(page, fresh_app)
    rows = page.locator("#requests-table tbody tr")
    expect(page.locator("#requests-page-info")).to_contain_text("Page 1 of 2 · 31 requests")
    expect(rows).to_have_count(25)
    page.click("#requests-next")
    expect(page.locator("#requests-page-info")).to_contain_text("Page 2 of 2")
    expect(rows).to_have_count(6)

    page.select_option("#filter-status", "paid")
    expect(page.locator("#requests-page-info")).to_contain_text("Page 1 of 1")
    for status in rows.evaluate_all("rs => rs.map(r => r.dataset.status)"):
        assert status == "paid"

    page.select_option("#filter-status", "all")
    page.click("#sort-amount")  # largest first
    expect(page.locator("th[aria-sort='descending']")).to_contain_text("Amount")
    amounts = [
        float(a.strip("$").replace(",", ""))
        for a in rows.locator("td:nth-child(3)").all_inner_texts()
    ]
    assert amounts == sorted(amounts, reverse=True) and amounts[0] > 12.34
    page.click("#sort-amount")  # then smallest first
    expect(page.locator("th[aria-sort='ascending']")).to_contain_text("Amount")
    expect(rows.first.locator("td").nth(1)).to_have_text("$12.34")

    page.fill("#filter-search", "nguyen")
    names = page.locator("#requests-table tbody th")
    expect(names.filter(has_not_text="Jordan Nguyen")).to_have_count(0)
    expect(names.first).to_have_text("Jordan Nguyen")
    page.click("#filter-clear")

    page.select_option("#filter-status", "paid")
    rows.first.click()
    expect(page.locator("#request-detail")).to_be_visible()
    timeline = page.locator("#request-timeline .timeline-entry")
    expect(timeline.first).to_be_visible()
    assert timeline.count() >= 3
    expect(page.locator("#request-timeline")).to_contain_text("Paid")
    invoice_title = page.locator("#detail-title").inner_text()
    number = re.search(r"#(\d+)", invoice_title).group(1)

    href = page.locator("#action-download-invoice").get_attribute("href")
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    pdf = httpx.get(href, cookies=cookies).content
    assert pdf.startswith(b"%PDF")
    text = pdf_text(pdf)
    assert f"INV-{int(number):05d}" in text
    assert "Riverside Counseling" in text and "Sam Ortiz" in text
    assert "Fee" in text or "fee" in text
    assert httpx.get(href).status_code == 401  # logged-out: nothing

    csv_href = page.locator("#export-csv").get_attribute("href")
    csv = httpx.get(csv_href, cookies=cookies).text
    lines = csv.strip().splitlines()
    # The current filter (Paid): the same rows as the table, amounts as decimal dollars.
    assert lines[0].startswith("Invoice,Patient,Amount")
    assert len(lines) == 1 + rows.count()
    assert all(",Paid," in line for line in lines[1:])
    assert all(re.search(r",\d+\.\d{2},", line) for line in lines[1:])


def test_cancel_makes_the_link_invalid(page: Page, fresh_app: RunningApp) -> None:
    (token,) = add_sent_requests(fresh_app, 1, amount_cents=7777)
    open_settings(page, fresh_app)
    page.locator("#requests-table tbody tr", has_text="$77.77").click()
    page.click("#action-cancel")
    page.click("#confirm-cancel")
    expect(page.locator("#detail-status")).to_have_attribute("data-status", "canceled")
    answer = httpx.get(f"{fresh_app.backend_url}/pay/{token}", follow_redirects=False)
    assert answer.status_code == 410
    assert "no longer valid" in answer.text


def test_refund_and_live_payment(page: Page, browser: Browser, fresh_app: RunningApp) -> None:
    (token,) = add_sent_requests(fresh_app, 1, amount_cents=6000)
    open_settings(page, fresh_app)
    row = page.locator("#requests-table tbody tr", has_text="$60.00")
    expect(row).to_have_attribute("data-status", "sent")

    # The patient pays in the stand-in: the row turns Paid without a reload.
    pay_in_another_tab(browser, f"{fresh_app.backend_url}/pay/{token}")
    expect(row).to_have_attribute("data-status", "paid", timeout=10_000)

    row.click()
    page.click("#action-refund")
    expect(page.get_by_text("is not returned")).to_be_visible()
    page.fill("#refund-amount", "70")
    page.click("#confirm-refund")
    expect(page.locator("#refund-error")).to_be_visible()
    page.fill("#refund-amount", "20")
    page.click("#confirm-refund")
    expect(page.locator("#detail-status")).to_have_attribute(
        "data-status", "partially_refunded", timeout=10_000
    )
    expect(page.locator("#request-timeline")).to_contain_text("efund")
