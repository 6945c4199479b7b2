"""The pages Stripe would host: Checkout, Express onboarding, the Express dashboard, receipts.

Plain server-rendered HTML forms (no JavaScript needed), small enough to read on a phone.
Field ids follow Stripe Checkout's (email, cardNumber, cardExpiry, cardCvc, billingName,
billingPostalCode, submitButton) so browser tests read the same way against either.
"""

from __future__ import annotations

import datetime as dt
from html import escape
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from jotpay_app.sandbox.stripe_cards import CardForm
from jotpay_app.sandbox.stripe_ledger import StripeLedger
from jotpay_app.sandbox.stripe_objects import format_amount

STYLE = """
*{box-sizing:border-box}
body{margin:0;font:16px/1.45 -apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,sans-serif;
color:#1a1f36;background:#f6f8fa}
main{max-width:480px;margin:0 auto;padding:20px 16px 40px}
.sandbox{background:#fff4d6;color:#7a5600;font-size:13px;padding:6px 10px;border-radius:6px;
margin-bottom:16px}
h1{font-size:20px;margin:0 0 4px}
.amount{font-size:34px;font-weight:600;margin:0 0 16px}
.muted{color:#6a7383;font-size:14px}
label{display:block;font-size:14px;font-weight:500;margin:14px 0 4px}
input[type=text],input[type=email],input[type=tel],input[type=date]{width:100%;padding:11px 12px;
font-size:16px;border:1px solid #d5dbe1;border-radius:6px;background:#fff}
input[aria-invalid=true]{border-color:#df1b41}
.row{display:flex;gap:12px}.row>div{flex:1}
.field-error{color:#df1b41;font-size:13px;margin-top:4px}
.banner{background:#fde8ec;color:#a41c3a;border-radius:6px;padding:10px 12px;margin:14px 0}
button{width:100%;margin-top:20px;padding:14px;font-size:17px;font-weight:600;border:0;
border-radius:6px;background:#635bff;color:#fff;cursor:pointer}
a.secondary{display:block;text-align:center;margin-top:14px;color:#635bff}
table{width:100%;border-collapse:collapse;font-size:14px;background:#fff}
th,td{text-align:left;padding:8px 6px;border-bottom:1px solid #e3e8ee}
td.num,th.num{text-align:right;white-space:nowrap}
section{margin-top:22px}
.check{display:flex;gap:8px;align-items:flex-start;margin-top:16px;font-size:14px}
"""


def page(title: str, body: str, *, status: int = 200) -> HTMLResponse:
    html = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<style>{STYLE}</style>
</head>
<body><main>
<div class="sandbox">Test mode &middot; local Stripe sandbox, no real money moves</div>
{body}
</main></body></html>"""
    return HTMLResponse(html, status_code=status)


def message_page(title: str, text: str, *, link: str | None = None, status: int = 200) -> Response:
    back = f'<a class="secondary" href="{escape(link)}">Return</a>' if link else ""
    return page(title, f"<h1>{escape(title)}</h1><p>{escape(text)}</p>{back}", status=status)


def field(
    field_id: str,
    label: str,
    value: str,
    errors: dict[str, str],
    *,
    input_type: str = "text",
    placeholder: str = "",
    autocomplete: str = "",
    extra: str = "",
) -> str:
    error = errors.get(field_id)
    error_html = (
        f'<div class="field-error" id="{field_id}-error" role="alert">{escape(error)}</div>'
        if error
        else ""
    )
    invalid = ' aria-invalid="true"' if error else ""
    described = f' aria-describedby="{field_id}-error"' if error else ""
    return (
        f'<div><label for="{field_id}">{escape(label)}</label>'
        f'<input type="{input_type}" id="{field_id}" name="{field_id}" '
        f'value="{escape(value)}" placeholder="{escape(placeholder)}" '
        f'autocomplete="{autocomplete}"{invalid}{described} {extra}>'
        f"{error_html}</div>"
    )


class StripePages:
    def __init__(self, ledger: StripeLedger) -> None:
        self.ledger = ledger
        self.store = ledger.store

    def routes(self) -> list[Route]:
        return [
            Route("/sandbox/checkout/{session_id}", self.checkout, methods=["GET", "POST"]),
            Route("/sandbox/connect/onboard/{token}", self.open_onboarding, methods=["GET"]),
            Route(
                "/sandbox/connect/onboarding/{session}", self.onboarding, methods=["GET", "POST"]
            ),
            Route("/sandbox/connect/dashboard/{token}", self.open_dashboard, methods=["GET"]),
            Route("/sandbox/connect/express/{session}", self.dashboard, methods=["GET"]),
            Route("/sandbox/receipts/{token}", self.receipt, methods=["GET"]),
        ]

    # -- Checkout -----------------------------------------------------------------------------
    async def checkout(self, request: Request) -> Response:
        session_id = request.path_params["session_id"]
        form_data = await request.form() if request.method == "POST" else None
        with self.store.transaction():
            session = self.store.get(session_id)
            if session is None or session.get("object") != "checkout.session":
                return message_page(
                    "Page not found",
                    "This checkout link is not valid.",
                    status=404,
                )
            self.ledger.expire_if_overdue(session)
            if session["status"] == "expired":
                return message_page(
                    "This checkout session has expired",
                    "The payment link is no longer active. Ask for a new link to pay.",
                    link=session["cancel_url"],
                )
            if session["status"] == "complete":
                return message_page(
                    "Payment complete",
                    "This payment has already been made. Thank you!",
                    link=_success_url(session),
                )
            form = CardForm(
                email=session["customer_email"] or "",
                card_number="",
                card_expiry="",
                card_cvc="",
                billing_name="",
                billing_postal_code="",
            )
            errors: dict[str, str] = {}
            payment_error: str | None = None
            if form_data is not None:

                def value(name: str) -> str:
                    raw = form_data.get(name)
                    return raw if isinstance(raw, str) else ""

                form = CardForm(
                    email=session["customer_email"] or value("email"),
                    card_number=value("cardNumber"),
                    card_expiry=value("cardExpiry"),
                    card_cvc=value("cardCvc"),
                    billing_name=value("billingName"),
                    billing_postal_code=value("billingPostalCode"),
                )
                today = dt.date.fromtimestamp(self.store.now())
                errors = form.check(this_year=today.year, this_month=today.month)
                if not errors:
                    error = self.ledger.pay_checkout_session(
                        session,
                        form.card(),
                        email=form.email.strip(),
                        name=form.billing_name.strip(),
                    )
                    if error is None:
                        target = _success_url(session)
                        if target:
                            return RedirectResponse(target, status_code=303)
                        return message_page("Payment complete", "Thank you! You paid.")
                    payment_error = error.message
            return self._checkout_page(session, form, errors, payment_error)

    def _checkout_page(
        self,
        session: dict[str, Any],
        form: CardForm,
        errors: dict[str, str],
        payment_error: str | None,
    ) -> Response:
        amount = format_amount(session["amount_total"], session["currency"])
        items = self.ledger.checkout_line_items(session["id"])
        merchant = self._merchant_name(session)
        item_rows = "".join(
            f"<li>{escape(item['description'])}"
            + (f" &times; {item['quantity']}" if item["quantity"] > 1 else "")
            + f" &middot; {escape(format_amount(item['amount_total'], item['currency']))}</li>"
            for item in items
        )
        email_extra = "readonly" if session["customer_email"] else ""
        banner = (
            f'<div class="banner" id="paymentError" role="alert">{escape(payment_error)}</div>'
            if payment_error
            else ""
        )
        cancel = (
            f'<a class="secondary" id="cancelLink" href="{escape(session["cancel_url"])}">'
            "Cancel and return</a>"
            if session["cancel_url"]
            else ""
        )
        body = f"""
<p class="muted" id="merchantName">{escape(merchant)}</p>
<h1 id="productName">{escape(items[0]["description"] if items else "Payment")}</h1>
<p class="amount" id="amountTotal">{escape(amount)}</p>
<ul class="muted">{item_rows}</ul>
<form method="post" novalidate>
{
            field(
                "email",
                "Email",
                form.email,
                errors,
                input_type="email",
                autocomplete="email",
                extra=email_extra,
            )
        }
{
            field(
                "cardNumber",
                "Card number",
                form.card_number,
                errors,
                placeholder="1234 1234 1234 1234",
                autocomplete="cc-number",
                extra='inputmode="numeric"',
            )
        }
<div class="row">
{
            field(
                "cardExpiry",
                "Expiration MM / YY",
                form.card_expiry,
                errors,
                placeholder="MM / YY",
                autocomplete="cc-exp",
                extra='inputmode="numeric"',
            )
        }
{
            field(
                "cardCvc",
                "CVC",
                form.card_cvc,
                errors,
                placeholder="CVC",
                autocomplete="cc-csc",
                extra='inputmode="numeric"',
            )
        }
</div>
{field("billingName", "Name on card", form.billing_name, errors, autocomplete="cc-name")}
{
            field(
                "billingPostalCode",
                "ZIP",
                form.billing_postal_code,
                errors,
                placeholder="12345",
                autocomplete="postal-code",
                extra='inputmode="numeric"',
            )
        }
{banner}
<button type="submit" id="submitButton">Pay {escape(amount)}</button>
</form>
{cancel}
<p class="muted">Test cards: 4242 4242 4242 4242 pays; 4000 0000 0000 0002 is declined;
4000 0000 0000 9995 has insufficient funds. Any future date, any CVC.</p>
"""
        return page(f"Pay {merchant}", body)

    def _merchant_name(self, session: dict[str, Any]) -> str:
        intent_data = self.store.private(session["id"]).get("intent_data") or {}
        account_id = intent_data.get("destination") or self.store.owner_of(session["id"])
        acct = self.store.get(account_id) if account_id else None
        if acct:
            return (
                acct["business_profile"]["name"]
                or acct["settings"]["dashboard"]["display_name"]
                or acct["email"]
                or acct["id"]
            )
        return "Sandbox merchant"

    # -- Express onboarding -------------------------------------------------------------------
    async def open_onboarding(self, request: Request) -> Response:
        with self.store.transaction():
            session_token, link = self.ledger.open_link(
                "account_links", request.path_params["token"]
            )
        if link is None:
            return message_page("Link not found", "This onboarding link is not valid.", status=404)
        if session_token is None:
            # Stripe sends used or expired links to refresh_url so the platform makes a new one.
            return RedirectResponse(link["refresh_url"], status_code=302)
        return RedirectResponse(f"/sandbox/connect/onboarding/{session_token}", status_code=303)

    async def onboarding(self, request: Request) -> Response:
        session_token = request.path_params["session"]
        form_data = await request.form() if request.method == "POST" else None
        with self.store.transaction():
            found = self.ledger.page_session("account_links", session_token)
            if found is None:
                link = self.ledger.link_for_session("account_links", session_token)
                if link is None:
                    return message_page(
                        "Link not found", "This onboarding page is not valid.", status=404
                    )
                return RedirectResponse(link["refresh_url"], status_code=302)
            session, link = found
            acct = self.store.get(session["account"])
            assert acct is not None
            values = _onboarding_defaults(acct)
            errors: dict[str, str] = {}
            if form_data is not None:
                values = {key: str(form_data.get(key) or "") for key in values}
                values["tos"] = str(form_data.get("tos") or "")
                client = request.client.host if request.client else "127.0.0.1"
                target, errors = self.ledger.submit_onboarding(
                    session_token,
                    values,
                    ip=client,
                    user_agent=request.headers.get("user-agent"),
                )
                if target:
                    return RedirectResponse(target, status_code=303)
            return self._onboarding_page(acct, link, values, errors)

    def _onboarding_page(
        self,
        acct: dict[str, Any],
        link: dict[str, Any],
        values: dict[str, str],
        errors: dict[str, str],
    ) -> Response:
        def text_field(name: str, label: str, **kwargs: Any) -> str:
            return field(name, label, values.get(name, ""), errors, **kwargs)

        tos_checked = "checked" if values.get("tos") == "accepted" else ""
        tos_error = (
            f'<div class="field-error" role="alert">{escape(errors["tos"])}</div>'
            if "tos" in errors
            else ""
        )
        banner = (
            '<div class="banner" role="alert">Please correct the highlighted fields.</div>'
            if errors
            else ""
        )
        body = f"""
<h1>Set up payouts</h1>
<p class="muted">Verify your identity and add the bank account that receives your payouts.
Account {escape(acct["id"])}.</p>
{banner}
<form method="post" novalidate>
<section><h2 class="muted">Personal details</h2>
<div class="row">{text_field("first_name", "First name", autocomplete="given-name")}
{text_field("last_name", "Last name", autocomplete="family-name")}</div>
{text_field("email", "Email", input_type="email", autocomplete="email")}
{text_field("phone", "Phone number", input_type="tel", autocomplete="tel")}
{text_field("dob", "Date of birth", input_type="date", autocomplete="bday")}
{text_field("address_line1", "Home address", autocomplete="address-line1")}
<div class="row">{text_field("address_city", "City", autocomplete="address-level2")}
{text_field("address_state", "State", autocomplete="address-level1")}</div>
{text_field("address_postal_code", "ZIP", autocomplete="postal-code")}
{text_field("ssn_last_4", "Last 4 digits of SSN", extra='inputmode="numeric" maxlength="4"')}
{text_field("business_url", "Practice website (optional)", autocomplete="url")}
</section>
<section><h2 class="muted">Bank account for payouts</h2>
{text_field("routing_number", "Routing number", extra='inputmode="numeric"')}
{text_field("account_number", "Account number", extra='inputmode="numeric"')}
{text_field("account_number_confirm", "Confirm account number", extra='inputmode="numeric"')}
</section>
<div class="check"><input type="checkbox" id="tos" name="tos" value="accepted" {tos_checked}>
<label for="tos" style="margin:0">I agree to the Stripe Connected Account Agreement.</label></div>
{tos_error}
<button type="submit" id="submit">Submit</button>
</form>
<a class="secondary" id="saveAndExit" href="{escape(link["return_url"])}">Save and exit</a>
"""
        return page("Set up payouts", body)

    # -- Express dashboard --------------------------------------------------------------------
    async def open_dashboard(self, request: Request) -> Response:
        with self.store.transaction():
            session_token, link = self.ledger.open_link("login_links", request.path_params["token"])
        if link is None:
            return message_page("Link not found", "This dashboard link is not valid.", status=404)
        if session_token is None:
            return message_page(
                "Link expired",
                "This login link has expired or was already used. Open the dashboard again "
                "from the app.",
                status=410,
            )
        return RedirectResponse(f"/sandbox/connect/express/{session_token}", status_code=303)

    async def dashboard(self, request: Request) -> Response:
        with self.store.transaction():
            found = self.ledger.page_session("login_links", request.path_params["session"])
            if found is None:
                return message_page(
                    "Session expired", "Open the dashboard again from the app.", status=410
                )
            session, _link = found
            data = self.ledger.dashboard(session["account"])
        acct = data["account"]
        name = acct["business_profile"]["name"] or acct["email"] or acct["id"]
        balance = data["balance"] or {acct["default_currency"]: 0}
        balance_html = "".join(
            f'<p class="amount">{escape(format_amount(amount, currency))}</p>'
            for currency, amount in balance.items()
        )
        bank = (acct["external_accounts"]["data"] or [None])[0]
        bank_text = (
            f"{escape(bank['bank_name'])} &bull;&bull;&bull;&bull;{escape(bank['last4'])}"
            if bank
            else "no bank account"
        )
        payment_rows = (
            "".join(
                "<tr>"
                f"<td>{_date(p['created'])}</td>"
                f"<td>{escape(p['customer'] or '')}</td>"
                f"<td>{escape(p['description'] or '')}</td>"
                f'<td class="num">{escape(format_amount(p["gross"], p["currency"]))}</td>'
                f'<td class="num">'
                f"{escape(format_amount(-p['application_fee'], p['currency']))}</td>"
                f'<td class="num">{escape(format_amount(p["net"], p["currency"]))}</td>'
                f'<td class="num">{escape(format_amount(p["refunded"], p["currency"]))}</td>'
                f"<td>{escape(p['status'])}</td>"
                "</tr>"
                for p in data["payments"]
            )
            or '<tr><td colspan="8">No payments yet.</td></tr>'
        )
        refund_rows = (
            "".join(
                "<tr>"
                f"<td>{_date(r['created'])}</td>"
                f"<td>{escape(r['payment'])}</td>"
                f'<td class="num">{escape(format_amount(r["amount"], r["currency"]))}</td>'
                f'<td class="num">'
                f"{escape(format_amount(-r['taken_from_balance'], r['currency']))}</td>"
                "</tr>"
                for r in data["refunds"]
            )
            or '<tr><td colspan="4">No refunds.</td></tr>'
        )
        body = f"""
<h1>{escape(name)}</h1>
<p class="muted">Express dashboard &middot; {escape(acct["id"])}</p>
<section id="balance"><h2 class="muted">Balance</h2>{balance_html}
<p class="muted">Payouts: daily, 2-day delay, to {bank_text}. The sandbox sends no payouts.</p>
</section>
<section id="payments"><h2 class="muted">Payments</h2>
<table><thead><tr><th>Date</th><th>Customer</th><th>Description</th><th class="num">Gross</th>
<th class="num">Application fee</th><th class="num">Net</th><th class="num">Refunded</th>
<th>Status</th></tr></thead><tbody>{payment_rows}</tbody></table></section>
<section id="refunds"><h2 class="muted">Refunds</h2>
<table><thead><tr><th>Date</th><th>Payment</th><th class="num">Refunded to customer</th>
<th class="num">Taken from your balance</th></tr></thead><tbody>{refund_rows}</tbody></table>
</section>
"""
        return page(f"{name} - Express dashboard", body)

    # -- receipts -----------------------------------------------------------------------------
    async def receipt(self, request: Request) -> Response:
        with self.store.transaction():
            charge = self.ledger.receipt(request.path_params["token"])
        if charge is None:
            return message_page("Receipt not found", "This receipt link is not valid.", status=404)
        card = (charge["payment_method_details"] or {}).get("card") or {}
        refunded = (
            f"<p>Refunded: {escape(format_amount(charge['amount_refunded'], charge['currency']))}"
            "</p>"
            if charge["amount_refunded"]
            else ""
        )
        body = f"""
<h1>Receipt</h1>
<p class="amount">{escape(format_amount(charge["amount"], charge["currency"]))}</p>
<p>Paid {_date(charge["created"])} with {escape(str(card.get("brand", "card")).title())}
&bull;&bull;&bull;&bull;{escape(str(card.get("last4", "")))}</p>
<p>{escape(charge["description"] or "")}</p>
{refunded}
"""
        return page("Receipt", body)


def _success_url(session: dict[str, Any]) -> str | None:
    url = session["success_url"]
    return url.replace("{CHECKOUT_SESSION_ID}", session["id"]) if url else None


def _date(timestamp: int) -> str:
    return dt.datetime.fromtimestamp(timestamp, tz=dt.UTC).strftime("%b %d, %Y")


def _onboarding_defaults(acct: dict[str, Any]) -> dict[str, str]:
    # Stripe's documented test values: they verify instantly in test mode.
    return {
        "first_name": "Jenny",
        "last_name": "Rosen",
        "email": acct["email"] or "jenny.rosen@example.com",
        "phone": "000 000 0000",
        "dob": "1901-01-01",
        "address_line1": "address_full_match",
        "address_city": "San Francisco",
        "address_state": "CA",
        "address_postal_code": "94103",
        "ssn_last_4": "0000",
        "business_url": "",
        "routing_number": "110000000",
        "account_number": "000123456789",
        "account_number_confirm": "000123456789",
        "tos": "accepted",
    }
