"""What happens in the sandbox: accounts, Checkout, payments, refunds, balances and events.

Every method runs inside `store.transaction()` (the caller opens it). Methods that take
`Params` validate everything before changing anything, so a raised StripeError leaves no trace;
a card decline is a result, not an exception, because Stripe keeps the failed attempt.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from jotpay_app.sandbox import stripe_objects as objects
from jotpay_app.sandbox.stripe_cards import TEST_PAYMENT_METHODS, Card, CardBehaviour
from jotpay_app.sandbox.stripe_errors import (
    StripeError,
    invalid_request,
    missing_param,
    no_such,
)
from jotpay_app.sandbox.stripe_forms import Params
from jotpay_app.sandbox.stripe_store import StripeStore, random_token
from jotpay_app.sandbox.stripe_webhooks import WebhookDispatcher

ACCOUNT_LINK_TTL = 300  # Stripe's account links expire after a few minutes
LOGIN_LINK_TTL = 300
PAGE_SESSION_TTL = 3600  # onboarding / dashboard pages stay usable this long once opened
CHECKOUT_MIN_TTL = 30 * 60
CHECKOUT_MAX_TTL = 24 * 3600
MAX_AMOUNT = 99_999_999
BUSINESS_PROFILE_FIELDS = (
    "name",
    "url",
    "mcc",
    "product_description",
    "support_email",
    "support_phone",
)
URL_RE = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)

# Names Stripe uses in "No such ..." messages.
KIND_NAMES = {
    "account": "account",
    "checkout.session": "checkout.session",
    "payment_intent": "payment_intent",
    "charge": "charge",
    "refund": "refund",
    "event": "event",
    "transfer": "transfer",
    "application_fee": "application fee",
    "balance_transaction": "balance transaction",
}
PREFIX_KINDS = {
    "acct": "account",
    "cs": "checkout.session",
    "pi": "payment_intent",
    "ch": "charge",
    "py": "charge",
    "re": "refund",
    "evt": "event",
    "tr": "transfer",
    "fee": "application_fee",
    "txn": "balance_transaction",
}


@dataclass(frozen=True)
class RequestContext:
    """Who is asking: the platform, or a connected account via `Stripe-Account`."""

    account: str | None = None
    request_id: str | None = None
    idempotency_key: str | None = None


PAGE_CONTEXT = RequestContext()  # hosted pages act for the platform, outside any API request


def stripe_fee(amount: int) -> int:
    """Stripe's US card pricing, 2.9% + 30 cents, charged to whoever owns the charge."""
    return round(amount * 0.029) + 30


def _check_url(params: Params, key: str, *, required: bool = False) -> str | None:
    value = params.text(key, required=required, max_length=5000)
    if value is not None and not URL_RE.match(value):
        raise invalid_request("Not a valid URL", param=params.name(key), code="url_invalid")
    return value


class StripeLedger:
    def __init__(self, store: StripeStore, webhooks: WebhookDispatcher, public_url: str) -> None:
        self.store = store
        self.webhooks = webhooks
        self.public_url = public_url.rstrip("/")

    # -- lookups ------------------------------------------------------------------------------
    def find(
        self, ctx: RequestContext, kind: str, object_id: str, *, param: str = "id"
    ) -> dict[str, Any]:
        """An object of `kind` visible to the caller, or Stripe's 404."""
        obj = self.store.get(object_id)
        if obj is None or obj.get("object") != kind or not self._visible(ctx, object_id, obj):
            raise no_such(KIND_NAMES.get(kind, kind), object_id, param=param)
        if kind == "checkout.session":
            self.expire_if_overdue(obj)
        return obj

    def _visible(self, ctx: RequestContext, object_id: str, obj: dict[str, Any]) -> bool:
        if obj.get("object") == "account":
            # The platform sees its connected accounts; an account sees only itself.
            return ctx.account is None or ctx.account == object_id
        return self.store.owner_of(object_id) == ctx.account

    def retrieve_any(self, ctx: RequestContext, kind: str, object_id: str) -> dict[str, Any]:
        return self.find(ctx, kind, object_id)

    def expand(self, ctx: RequestContext, obj: dict[str, Any], paths: list[str]) -> dict[str, Any]:
        """Replace id fields named in `expand[]` (dotted paths) by the objects, as Stripe does."""
        result = copy.deepcopy(obj)
        for path in paths:
            self._expand_path(ctx, result, path.split("."), path)
        return result

    def _expand_path(self, ctx: RequestContext, node: Any, parts: list[str], path: str) -> None:
        if not parts or not isinstance(node, dict):
            return
        head, rest = parts[0], parts[1:]
        if head == "data" and isinstance(node.get("data"), list):
            for item in node["data"]:
                self._expand_path(ctx, item, rest, path)
            return
        if head not in node:
            raise invalid_request(f"This property cannot be expanded ({path}).", param="expand")
        value = node[head]
        if isinstance(value, str):
            target = self.store.get(value)
            if target is not None and self._visible(ctx, value, target):
                node[head] = value = copy.deepcopy(target)
        if rest:
            self._expand_path(ctx, value, rest, path)

    def paginate(
        self, items: list[dict[str, Any]], params: Params, url: str, kind: str
    ) -> dict[str, Any]:
        """Newest-first list with `limit`, `starting_after`, `ending_before`, like Stripe's."""
        limit = params.integer("limit", minimum=1)
        limit = 10 if limit is None else limit
        if limit > 100:
            raise invalid_request(
                f"This value must be less than or equal to 100 (it currently is '{limit}').",
                param="limit",
            )
        newest_first = sorted(
            enumerate(items), key=lambda pair: (pair[1].get("created", 0), pair[0]), reverse=True
        )
        ordered = [item for _, item in newest_first]
        ids = [item["id"] for item in ordered]
        starting_after = params.text("starting_after")
        ending_before = params.text("ending_before")
        if starting_after:
            if starting_after not in ids:
                raise no_such(KIND_NAMES.get(kind, kind), starting_after, param="starting_after")
            window = ordered[ids.index(starting_after) + 1 :]
            page, has_more = window[:limit], len(window) > limit
        elif ending_before:
            if ending_before not in ids:
                raise no_such(KIND_NAMES.get(kind, kind), ending_before, param="ending_before")
            window = ordered[: ids.index(ending_before)]
            page, has_more = window[-limit:], len(window) > limit
        else:
            page, has_more = ordered[:limit], len(ordered) > limit
        return {"object": "list", "data": page, "has_more": has_more, "url": url}

    # -- events -------------------------------------------------------------------------------
    def emit(
        self,
        ctx: RequestContext,
        event_type: str,
        data_object: dict[str, Any],
        *,
        account_id: str | None,
        previous_attributes: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        event = objects.event(
            event_id=self.store.new_id("evt"),
            created=self.store.now(),
            event_type=event_type,
            data_object=copy.deepcopy(data_object),
            previous_attributes=previous_attributes,
            account_id=account_id,
            request_id=ctx.request_id,
            idempotency_key=ctx.idempotency_key,
            pending_webhooks=0,
        )
        self.store.put(event, owner=account_id)
        event["pending_webhooks"] = self.webhooks.enqueue(event)
        return event

    def list_events(self, ctx: RequestContext, params: Params) -> dict[str, Any]:
        types = params.strings("types")
        single = params.text("type")
        if single:
            types.append(single)
        created = params.child("created")
        bounds: dict[str, int] = {}
        if created is not None:
            for op in ("gt", "gte", "lt", "lte"):
                value = created.integer(op)
                if value is not None:
                    bounds[op] = value
        params.ignore("delivery_success")

        def matches(event: dict[str, Any]) -> bool:
            if types and not any(_type_matches(pattern, event["type"]) for pattern in types):
                return False
            when = event["created"]
            return (
                when > bounds.get("gt", when - 1)
                and when >= bounds.get("gte", when)
                and when < bounds.get("lt", when + 1)
                and when <= bounds.get("lte", when)
            )

        events = [e for e in self.store.objects_of("event", ctx.account) if matches(e)]
        return self.paginate(events, params, "/v1/events", "event")

    # -- accounts -----------------------------------------------------------------------------
    def create_account(self, ctx: RequestContext, params: Params) -> dict[str, Any]:
        if ctx.account:
            raise invalid_request("Connected accounts cannot create other accounts.")
        account_type = params.text("type")
        controller = params.child("controller")
        if controller is not None:
            dashboard = controller.child("stripe_dashboard")
            if dashboard is not None:
                account_type = account_type or dashboard.text("type")
            controller.ignore("fees", "losses", "requirement_collection")
        if account_type is None:
            raise missing_param("type")
        if account_type != "express":
            raise invalid_request(
                "The local Stripe sandbox only supports Express accounts (type=express).",
                param="type",
            )
        country = (params.text("country") or "US").upper()
        if country not in objects.COUNTRY_CURRENCIES:
            raise invalid_request(
                f"Country '{country}' is not supported by the local Stripe sandbox "
                f"(use one of {', '.join(objects.COUNTRY_CURRENCIES)}).",
                param="country",
            )
        email = params.text("email")
        if email is not None and "@" not in email:
            raise invalid_request("Invalid email address: " + email, param="email")
        business_type = params.text(
            "business_type", choices=["individual", "company", "non_profit", "government_entity"]
        )
        capabilities: list[str] = []
        capability_params = params.child("capabilities")
        if capability_params is not None:
            for name in ("card_payments", "transfers"):
                capability = capability_params.child(name)
                if capability is not None and capability.boolean("requested"):
                    capabilities.append(name)
        profile_fields: dict[str, str | None] = {}
        profile = params.child("business_profile")
        if profile is not None:
            profile_fields = {key: profile.text(key) for key in BUSINESS_PROFILE_FIELDS}
        business_name = profile_fields.pop("name", None)
        metadata = params.metadata()
        params.ignore("default_currency", "settings")
        account_id = self.store.new_id("acct", 16)
        acct = objects.account(
            account_id=account_id,
            created=self.store.now(),
            email=email,
            country=country,
            metadata=metadata,
            requested_capabilities=capabilities,
            business_type=business_type,
            business_name=business_name,
        )
        acct["business_profile"].update(profile_fields)
        return self.store.put(acct)

    def update_account(
        self, ctx: RequestContext, params: Params, account_id: str
    ) -> dict[str, Any]:
        acct = self.find(ctx, "account", account_id, param="account")
        before = copy.deepcopy(acct)
        email = params.text("email")
        metadata_update = params.raw("metadata")
        metadata = params.metadata()
        profile = params.child("business_profile")
        profile_update: dict[str, str | None] = {}
        if profile is not None:
            for key in BUSINESS_PROFILE_FIELDS:
                if profile.has(key):
                    profile_update[key] = profile.text(key)
        if email is not None:
            acct["email"] = email
        if metadata_update == "":
            acct["metadata"] = {}
        elif isinstance(metadata_update, dict):
            merged = {**acct["metadata"], **metadata}
            for key, value in metadata_update.items():
                if value == "":
                    merged.pop(key, None)
            acct["metadata"] = merged
        if profile_update:
            acct["business_profile"] = {**acct["business_profile"], **profile_update}
            if "name" in profile_update:
                acct["settings"]["dashboard"]["display_name"] = profile_update["name"]
        self.store.put(acct)
        self._account_updated(acct, before, ctx)
        return acct

    def _account_updated(
        self, acct: dict[str, Any], before: dict[str, Any], ctx: RequestContext = PAGE_CONTEXT
    ) -> None:
        previous = {key: before[key] for key in acct if acct[key] != before.get(key)}
        if previous:
            self.emit(
                ctx,
                "account.updated",
                acct,
                account_id=acct["id"],
                previous_attributes=previous,
            )

    def list_accounts(self, ctx: RequestContext, params: Params) -> dict[str, Any]:
        accounts = self.store.objects_of("account", None)
        if ctx.account:
            accounts = [a for a in accounts if a["id"] == ctx.account]
        return self.paginate(accounts, params, "/v1/accounts", "account")

    def create_account_link(self, ctx: RequestContext, params: Params) -> dict[str, Any]:
        account_id = params.text("account", required=True)
        assert account_id is not None
        link_type = params.text(
            "type", required=True, choices=["account_onboarding", "account_update"]
        )
        refresh_url = _check_url(params, "refresh_url", required=True)
        return_url = _check_url(params, "return_url", required=True)
        params.ignore("collect", "collection_options")
        self.find(ctx, "account", account_id, param="account")
        now = self.store.now()
        token = random_token(32)
        self.store.state["account_links"][token] = {
            "account": account_id,
            "type": link_type,
            "refresh_url": refresh_url,
            "return_url": return_url,
            "created": now,
            "expires_at": now + ACCOUNT_LINK_TTL,
            "used": False,
        }
        self.store.mark_dirty()
        return objects.account_link(
            created=now,
            expires_at=now + ACCOUNT_LINK_TTL,
            url=f"{self.public_url}/sandbox/connect/onboard/{token}",
        )

    def create_login_link(
        self, ctx: RequestContext, params: Params, account_id: str
    ) -> dict[str, Any]:
        params.ignore("redirect_url")
        acct = self.find(ctx, "account", account_id, param="account")
        if not acct["details_submitted"]:
            raise invalid_request(
                "Cannot create a login link for an account that has not completed onboarding.",
                param="account",
            )
        now = self.store.now()
        token = random_token(32)
        self.store.state["login_links"][token] = {
            "account": account_id,
            "created": now,
            "expires_at": now + LOGIN_LINK_TTL,
            "used": False,
        }
        self.store.mark_dirty()
        return objects.login_link(
            created=now, url=f"{self.public_url}/sandbox/connect/dashboard/{token}"
        )

    # -- hosted onboarding and dashboard (single-use links that open a page session) ----------
    def open_link(self, table: str, token: str) -> tuple[str | None, dict[str, Any] | None]:
        """Use a single-use link: returns (page session token, link); (None, link) when the
        link is used or expired; (None, None) when it never existed."""
        link = self.store.state[table].get(token)
        if link is None:
            return None, None
        now = self.store.now()
        if link["used"] or now > link["expires_at"]:
            return None, link
        link["used"] = True
        session_token = random_token(32)
        self.store.state["page_sessions"][session_token] = {
            "kind": table,
            "link": token,
            "account": link["account"],
            "expires_at": now + PAGE_SESSION_TTL,
            "finished": False,
        }
        self.store.mark_dirty()
        return session_token, link

    def page_session(self, kind: str, session_token: str) -> tuple[dict, dict] | None:
        """The live page session and the link that opened it, if still usable."""
        session = self.store.state["page_sessions"].get(session_token)
        if (
            session is None
            or session["kind"] != kind
            or session["finished"]
            or self.store.now() > session["expires_at"]
        ):
            return None
        link = self.store.state[kind][session["link"]]
        return session, link

    def link_for_session(self, kind: str, session_token: str) -> dict[str, Any] | None:
        session = self.store.state["page_sessions"].get(session_token)
        if session is None or session["kind"] != kind:
            return None
        return self.store.state[kind][session["link"]]

    def submit_onboarding(
        self,
        session_token: str,
        form: dict[str, str],
        *,
        ip: str,
        user_agent: str | None,
    ) -> tuple[str | None, dict[str, str]]:
        """Check the onboarding form; on success enable the account and return return_url."""
        found = self.page_session("account_links", session_token)
        if found is None:
            link = self.link_for_session("account_links", session_token)
            return (link["refresh_url"] if link else None), {}
        session, link = found
        errors = check_onboarding_form(form, today=dt.date.fromtimestamp(self.store.now()))
        if errors:
            return None, errors
        acct = self.store.get(session["account"])
        assert acct is not None
        before = copy.deepcopy(acct)
        bank = objects.bank_account(
            bank_id=self.store.new_id("ba"),
            account_id=acct["id"],
            country=acct["country"],
            routing_number=form["routing_number"].strip(),
            account_number=form["account_number"].strip(),
        )
        acct.update(
            objects.onboarded_account_changes(
                acct,
                now=self.store.now(),
                ip=ip,
                user_agent=user_agent,
                bank_account=bank,
                business_url=form.get("business_url", "").strip() or None,
            )
        )
        self.store.put(acct, individual=_individual_from_form(form))
        session["finished"] = True
        self.store.mark_dirty()
        self._account_updated(acct, before)
        return link["return_url"], {}

    # -- Checkout -----------------------------------------------------------------------------
    def create_checkout_session(self, ctx: RequestContext, params: Params) -> dict[str, Any]:
        mode = params.text("mode", required=True)
        if mode != "payment":
            raise invalid_request(
                "The local Stripe sandbox only supports Checkout in mode=payment.", param="mode"
            )
        ui_mode = params.text("ui_mode")
        if ui_mode not in (None, "hosted"):
            raise invalid_request("Only ui_mode=hosted is supported.", param="ui_mode")
        methods = params.strings("payment_method_types")
        if any(method != "card" for method in methods):
            raise invalid_request("Only card payments are supported.", param="payment_method_types")
        items = params.children("line_items")
        if not items:
            raise missing_param("line_items")
        line_items: list[dict[str, Any]] = []
        currency: str | None = None
        for item in items:
            if item.has("price"):
                price_id = item.text("price") or ""
                raise no_such("price", price_id, param=item.name("price"))
            price_data = item.child("price_data")
            if price_data is None:
                raise missing_param(item.name("price_data"))
            item_currency = _currency(price_data, "currency")
            unit_amount = price_data.integer("unit_amount", required=True, minimum=0)
            product = price_data.child("product_data")
            if product is None:
                raise missing_param(price_data.name("product_data"))
            name = product.text("name", required=True, max_length=250)
            product.ignore("description", "images", "metadata")
            quantity = item.integer("quantity", required=True, minimum=1)
            assert unit_amount is not None and quantity is not None and name is not None
            if currency and item_currency != currency:
                raise invalid_request(
                    "All line items must use the same currency.",
                    param=price_data.name("currency"),
                )
            currency = item_currency
            line_items.append(
                objects.line_item(
                    item_id=self.store.new_id("li"),
                    name=name,
                    unit_amount=unit_amount,
                    quantity=quantity,
                    currency=item_currency,
                )
            )
        assert currency is not None
        amount_total = sum(item["amount_total"] for item in line_items)
        _check_amount(amount_total, currency, "line_items")

        intent_params = params.child("payment_intent_data")
        intent_data = self._intent_data(ctx, intent_params, amount_total)

        now = self.store.now()
        expires_at = params.integer("expires_at")
        if expires_at is None:
            expires_at = now + CHECKOUT_MAX_TTL
        elif expires_at < now + CHECKOUT_MIN_TTL:
            raise invalid_request(
                "The `expires_at` timestamp must be at least 30 minutes from Checkout Session "
                "creation.",
                param="expires_at",
            )
        elif expires_at > now + CHECKOUT_MAX_TTL:
            raise invalid_request(
                "The `expires_at` timestamp must be less than 24 hours from Checkout Session "
                "creation.",
                param="expires_at",
            )
        success_url = _check_url(params, "success_url")
        cancel_url = _check_url(params, "cancel_url")
        customer_email = params.text("customer_email")
        client_reference_id = params.text("client_reference_id", max_length=200)
        locale = params.text("locale")
        submit_type = params.text("submit_type", choices=["auto", "book", "donate", "pay"])
        metadata = params.metadata()
        params.ignore("customer_creation", "billing_address_collection")

        session_id = "cs_test_" + random_token(58)
        session = objects.checkout_session(
            session_id=session_id,
            created=now,
            expires_at=expires_at,
            url=f"{self.public_url}/sandbox/checkout/{session_id}",
            amount_total=amount_total,
            currency=currency,
            success_url=success_url,
            cancel_url=cancel_url,
            customer_email=customer_email,
            client_reference_id=client_reference_id,
            metadata=metadata,
            locale=locale,
            submit_type=submit_type,
        )
        return self.store.put(
            session, owner=ctx.account, line_items=line_items, intent_data=intent_data
        )

    def _intent_data(
        self, ctx: RequestContext, intent_params: Params | None, amount: int
    ) -> dict[str, Any]:
        """Validated PaymentIntent settings (shared by Checkout and /v1/payment_intents)."""
        if intent_params is None:
            return {
                "application_fee_amount": None,
                "destination": None,
                "metadata": {},
                "description": None,
                "receipt_email": None,
                "statement_descriptor_suffix": None,
            }
        fee = intent_params.integer("application_fee_amount", minimum=0)
        destination = None
        transfer = intent_params.child("transfer_data")
        if transfer is not None:
            destination = transfer.text("destination", required=True)
            if transfer.has("amount"):
                raise invalid_request(
                    "transfer_data[amount] is not supported by the local Stripe sandbox.",
                    param=transfer.name("amount"),
                )
        capture_method = intent_params.text("capture_method")
        if capture_method not in (None, "automatic", "automatic_async"):
            raise invalid_request(
                "Only automatic capture is supported.",
                param=intent_params.name("capture_method"),
            )
        data = {
            "application_fee_amount": fee,
            "destination": destination,
            "metadata": intent_params.metadata(),
            "description": intent_params.text("description", max_length=1000),
            "receipt_email": intent_params.text("receipt_email"),
            "statement_descriptor_suffix": intent_params.text(
                "statement_descriptor_suffix", max_length=22
            ),
        }
        self._check_connect(ctx, data, amount, intent_params.prefix)
        return data

    def _check_connect(
        self, ctx: RequestContext, data: dict[str, Any], amount: int, prefix: str
    ) -> None:
        def name(key: str) -> str:
            return f"{prefix}[{key}]" if prefix else key

        destination = data["destination"]
        fee = data["application_fee_amount"]
        if destination:
            if ctx.account:
                raise invalid_request(
                    "transfer_data cannot be used with the Stripe-Account header.",
                    param=name("transfer_data") + "[destination]",
                )
            acct = self.store.get(destination)
            if acct is None or acct.get("object") != "account":
                raise invalid_request(
                    f"No such destination: '{destination}'",
                    param=name("transfer_data") + "[destination]",
                    code="resource_missing",
                )
            if acct["capabilities"].get("transfers") != "active":
                raise invalid_request(
                    "Your destination account needs to have at least one of the following "
                    "capabilities enabled: transfers, crypto_transfers, legacy_payments",
                    param=name("transfer_data") + "[destination]",
                    code="insufficient_capabilities_for_transfer",
                )
        if fee is not None:
            if not destination and not ctx.account:
                raise invalid_request(
                    "Can only apply an application_fee_amount when the PaymentIntent is "
                    "attempting a direct payment (using an OAuth key or Stripe-Account header) "
                    "or destination payment (using `transfer_data[destination]`).",
                    param=name("application_fee_amount"),
                )
            if fee > amount:
                raise invalid_request(
                    "The application fee amount cannot be greater than the amount.",
                    param=name("application_fee_amount"),
                )

    def expire_if_overdue(self, session: dict[str, Any]) -> None:
        if session["status"] == "open" and self.store.now() >= session["expires_at"]:
            self._expire(session)

    def _expire(self, session: dict[str, Any], ctx: RequestContext = PAGE_CONTEXT) -> None:
        session["status"] = "expired"
        intent_id = session["payment_intent"]
        if intent_id:
            intent = self.store.get(intent_id)
            if intent and intent["status"] != "succeeded":
                # Stripe cancels the PaymentIntent of an abandoned session.
                intent.update(
                    status="canceled",
                    canceled_at=self.store.now(),
                    cancellation_reason="abandoned",
                )
                self.store.put(intent)
        self.store.put(session)
        self.emit(
            ctx,
            "checkout.session.expired",
            session,
            account_id=self.store.owner_of(session["id"]),
        )

    def expire_overdue_sessions(self) -> None:
        now = self.store.now()
        for session in list(self.store.state["objects"].values()):
            if (
                session.get("object") == "checkout.session"
                and session["status"] == "open"
                and now >= session["expires_at"]
            ):
                self._expire(session)

    def expire_checkout_session(
        self, ctx: RequestContext, params: Params, session_id: str
    ) -> dict[str, Any]:
        session = self.find(ctx, "checkout.session", session_id)
        if session["status"] != "open":
            raise invalid_request(
                'Only Checkout Sessions with a status in ["open"] can be expired. This '
                f'Checkout Session has a status of "{session["status"]}".',
            )
        self._expire(session, ctx)
        return session

    def list_checkout_sessions(self, ctx: RequestContext, params: Params) -> dict[str, Any]:
        intent_filter = params.text("payment_intent")
        status_filter = params.text("status", choices=["open", "complete", "expired"])
        sessions = []
        for session in self.store.objects_of("checkout.session", ctx.account):
            self.expire_if_overdue(session)
            if intent_filter and session["payment_intent"] != intent_filter:
                continue
            if status_filter and session["status"] != status_filter:
                continue
            sessions.append(session)
        return self.paginate(sessions, params, "/v1/checkout/sessions", "checkout.session")

    def list_line_items(
        self, ctx: RequestContext, params: Params, session_id: str
    ) -> dict[str, Any]:
        self.find(ctx, "checkout.session", session_id)
        items = self.store.private(session_id).get("line_items", [])
        limit = params.integer("limit", minimum=1) or 10
        params.ignore("starting_after", "ending_before")  # sessions hold few items
        return {
            "object": "list",
            "data": items[:limit],
            "has_more": len(items) > limit,
            "url": f"/v1/checkout/sessions/{session_id}/line_items",
        }

    def checkout_line_items(self, session_id: str) -> list[dict[str, Any]]:
        return list(self.store.private(session_id).get("line_items", []))

    def pay_checkout_session(
        self, session: dict[str, Any], card: Card, *, email: str, name: str
    ) -> StripeError | None:
        """Charge the card for an open session; a decline leaves it open for another try."""
        owner = self.store.owner_of(session["id"])
        ctx = RequestContext(account=owner)
        intent_id = session["payment_intent"]
        intent = self.store.get(intent_id) if intent_id else None
        if intent is None:
            data = self.store.private(session["id"])["intent_data"]
            intent = self._new_intent(
                ctx, amount=session["amount_total"], currency=session["currency"], data=data
            )
            session["payment_intent"] = intent["id"]
        details = objects.customer_details(
            email=email, name=name, postal_code=card.postal_code or "", country="US"
        )
        error = self._attempt(ctx, intent, card, billing_name=name, billing_email=email)
        if error is None:
            session.update(
                status="complete",
                payment_status="paid",
                customer_details=details,
                collected_information={
                    "business_name": None,
                    "individual_name": None,
                    "shipping_details": None,
                },
            )
            self.store.put(session)
            self.emit(ctx, "checkout.session.completed", session, account_id=owner)
        else:
            self.store.put(session)
        return error

    # -- PaymentIntents -----------------------------------------------------------------------
    def _new_intent(
        self, ctx: RequestContext, *, amount: int, currency: str, data: dict[str, Any]
    ) -> dict[str, Any]:
        intent_id = self.store.new_id("pi")
        intent = objects.payment_intent(
            intent_id=intent_id,
            client_secret=f"{intent_id}_secret_{random_token(25)}",
            created=self.store.now(),
            amount=amount,
            currency=currency,
            metadata=dict(data["metadata"]),
            description=data["description"],
            application_fee_amount=data["application_fee_amount"],
            destination=data["destination"],
            receipt_email=data["receipt_email"],
            statement_descriptor_suffix=data["statement_descriptor_suffix"],
        )
        return self.store.put(intent, owner=ctx.account)

    def create_payment_intent(
        self, ctx: RequestContext, params: Params
    ) -> dict[str, Any] | StripeError:
        amount = params.integer("amount", required=True, minimum=1)
        currency = _currency(params, "currency")
        assert amount is not None
        _check_amount(amount, currency, "amount")
        confirm = params.boolean("confirm")
        payment_method = params.text("payment_method")
        card = _card_for_payment_method(payment_method) if payment_method else None
        methods = params.strings("payment_method_types")
        if any(method != "card" for method in methods):
            raise invalid_request("Only card payments are supported.", param="payment_method_types")
        automatic = params.child("automatic_payment_methods")
        if automatic is not None:
            automatic.ignore("enabled", "allow_redirects")
        params.ignore("return_url", "off_session", "error_on_requires_action")
        data = self._intent_data(ctx, params, amount)
        if confirm and card is None:
            raise invalid_request(
                "You cannot confirm this PaymentIntent because it's missing a payment method.",
                param="payment_method",
                code="payment_intent_unexpected_state",
            )
        intent = self._new_intent(ctx, amount=amount, currency=currency, data=data)
        if card is not None:
            intent["payment_method"] = payment_method
            intent["status"] = "requires_confirmation"
        if confirm and card is not None:
            error = self._attempt(ctx, intent, card, billing_name=None, billing_email=None)
            if error is not None:
                return error
        return intent

    def confirm_payment_intent(
        self, ctx: RequestContext, params: Params, intent_id: str
    ) -> dict[str, Any] | StripeError:
        intent = self.find(ctx, "payment_intent", intent_id)
        payment_method = params.text("payment_method") or intent["payment_method"]
        params.ignore("return_url", "off_session", "error_on_requires_action")
        if intent["status"] not in ("requires_payment_method", "requires_confirmation"):
            raise invalid_request(
                f"This PaymentIntent's status is {intent['status']}, so it cannot be confirmed.",
                code="payment_intent_unexpected_state",
            )
        if not payment_method:
            raise invalid_request(
                "You cannot confirm this PaymentIntent because it's missing a payment method.",
                param="payment_method",
                code="payment_intent_unexpected_state",
            )
        card = _card_for_payment_method(payment_method)
        intent["payment_method"] = payment_method
        error = self._attempt(ctx, intent, card, billing_name=None, billing_email=None)
        return error or intent

    def list_payment_intents(self, ctx: RequestContext, params: Params) -> dict[str, Any]:
        intents = self.store.objects_of("payment_intent", ctx.account)
        return self.paginate(intents, params, "/v1/payment_intents", "payment_intent")

    def _attempt(
        self,
        ctx: RequestContext,
        intent: dict[str, Any],
        card: Card,
        *,
        billing_name: str | None,
        billing_email: str | None,
    ) -> StripeError | None:
        """One charge attempt for the PaymentIntent; money moves only if the card succeeds."""
        behaviour = card.behaviour
        owner = ctx.account
        now = self.store.now()
        charge_id = self.store.new_id("ch")
        method_id = self.store.new_id("pm")
        succeeded = behaviour.error_code is None
        charge = objects.charge(
            charge_id=charge_id,
            created=now,
            amount=intent["amount"],
            currency=intent["currency"],
            paid=succeeded,
            payment_intent_id=intent["id"],
            payment_method_id=method_id,
            card=card.as_details(),
            billing_name=billing_name,
            billing_email=billing_email,
            billing_postal_code=card.postal_code,
            metadata=dict(intent["metadata"]),
            description=intent["description"],
            application_fee_amount=intent["application_fee_amount"],
            destination=(intent["transfer_data"] or {}).get("destination"),
            outcome=(
                objects.approved_outcome()
                if succeeded
                else objects.declined_outcome(behaviour.decline_code or "generic_decline")
            ),
            failure_code=behaviour.error_code,
            failure_message=behaviour.message,
            receipt_url=None,
            receipt_email=billing_email or intent["receipt_email"],
        )
        if succeeded:
            receipt_token = random_token(32)
            charge["receipt_url"] = f"{self.public_url}/sandbox/receipts/{receipt_token}"
            self.store.state["receipts"][receipt_token] = charge_id
        self.store.put(charge, owner=owner)
        intent["latest_charge"] = charge_id
        if not succeeded:
            return self._decline(ctx, intent, charge, method_id, card, behaviour)
        self._move_money(ctx, intent, charge)
        intent.update(
            status="succeeded",
            amount_received=intent["amount"],
            payment_method=method_id,
            last_payment_error=None,
        )
        self.store.put(intent)
        self.emit(ctx, "payment_intent.succeeded", intent, account_id=owner)
        return None

    def _decline(
        self,
        ctx: RequestContext,
        intent: dict[str, Any],
        charge: dict[str, Any],
        method_id: str,
        card: Card,
        behaviour: CardBehaviour,
    ) -> StripeError:
        method = {
            "id": method_id,
            "object": "payment_method",
            "billing_details": charge["billing_details"],
            "card": {
                key: value
                for key, value in card.as_details().items()
                if key in ("brand", "exp_month", "exp_year", "funding", "last4", "fingerprint")
            },
            "created": charge["created"],
            "customer": None,
            "livemode": False,
            "metadata": {},
            "type": "card",
        }
        error = StripeError(
            402,
            "card_error",
            behaviour.message or "Your card was declined.",
            code=behaviour.error_code,
            decline_code=behaviour.decline_code,
            param="cvc" if behaviour.error_code == "incorrect_cvc" else None,
        )
        last_error = error.to_body()["error"]
        last_error.update(charge=charge["id"], payment_method=method)
        intent.update(
            status="requires_payment_method",
            last_payment_error=last_error,
            payment_method=None,
        )
        self.store.put(intent)
        self.emit(ctx, "payment_intent.payment_failed", intent, account_id=ctx.account)
        error.extra = {
            "charge": charge["id"],
            "payment_intent": copy.deepcopy(intent),
            "payment_method": method,
        }
        return error

    def _txn(
        self,
        owner: str | None,
        *,
        amount: int,
        currency: str,
        source: str,
        txn_type: str,
        category: str,
        fee_details: list[dict[str, Any]] | None = None,
        description: str | None = None,
    ) -> str:
        details = fee_details or []
        txn = objects.balance_transaction(
            txn_id=self.store.new_id("txn"),
            created=self.store.now(),
            amount=amount,
            currency=currency,
            fee=sum(detail["amount"] for detail in details),
            fee_details=details,
            source=source,
            txn_type=txn_type,
            reporting_category=category,
            description=description,
        )
        self.store.put(txn, owner=owner)
        return txn["id"]

    def _move_money(
        self, ctx: RequestContext, intent: dict[str, Any], charge: dict[str, Any]
    ) -> None:
        """Balances after a successful charge (Stripe's destination/direct charge flows)."""
        owner = ctx.account
        amount, currency = charge["amount"], charge["currency"]
        fee_amount = intent["application_fee_amount"]
        destination = (intent["transfer_data"] or {}).get("destination")
        processing = {
            "amount": stripe_fee(amount),
            "application": None,
            "currency": currency,
            "description": "Stripe processing fees",
            "type": "stripe_fee",
        }
        fee_details = [processing]
        if owner and fee_amount:
            # Direct charge: the connected account pays the platform's fee out of the charge.
            fee_details.append(
                {
                    "amount": fee_amount,
                    "application": "ca_sandbox",
                    "currency": currency,
                    "description": "Application fee",
                    "type": "application_fee",
                }
            )
        charge["balance_transaction"] = self._txn(
            owner,
            amount=amount,
            currency=currency,
            source=charge["id"],
            txn_type="charge",
            category="charge",
            fee_details=fee_details,
        )
        fee_account = owner
        if destination:
            fee_account = destination
            transfer_id = self.store.new_id("tr")
            payment_id = self.store.new_id("py")
            transfer = objects.transfer(
                transfer_id=transfer_id,
                created=self.store.now(),
                amount=amount,
                currency=currency,
                destination=destination,
                destination_payment_id=payment_id,
                source_transaction=charge["id"],
            )
            transfer["balance_transaction"] = self._txn(
                None,
                amount=-amount,
                currency=currency,
                source=transfer_id,
                txn_type="transfer",
                category="transfer",
            )
            self.store.put(transfer)
            payment = objects.destination_payment(
                payment_id=payment_id,
                created=self.store.now(),
                amount=amount,
                currency=currency,
                transfer_id=transfer_id,
            )
            payment_fees = []
            if fee_amount:
                payment_fees.append(
                    {
                        "amount": fee_amount,
                        "application": "ca_sandbox",
                        "currency": currency,
                        "description": "Application fee",
                        "type": "application_fee",
                    }
                )
            payment["balance_transaction"] = self._txn(
                destination,
                amount=amount,
                currency=currency,
                source=payment_id,
                txn_type="payment",
                category="charge",
                fee_details=payment_fees,
            )
            self.store.put(payment, owner=destination)
            charge["transfer"] = transfer_id
        if fee_amount and fee_account:
            fee = objects.application_fee(
                fee_id=self.store.new_id("fee"),
                created=self.store.now(),
                amount=fee_amount,
                currency=currency,
                account_id=fee_account,
                charge_id=charge["id"],
                originating_transaction=charge["id"] if destination else None,
            )
            fee["balance_transaction"] = self._txn(
                None,
                amount=fee_amount,
                currency=currency,
                source=fee["id"],
                txn_type="application_fee",
                category="platform_earning",
            )
            self.store.put(fee)
            charge["application_fee"] = fee["id"]
        self.store.put(charge)

    # -- refunds ------------------------------------------------------------------------------
    def create_refund(self, ctx: RequestContext, params: Params) -> dict[str, Any]:
        intent_id = params.text("payment_intent")
        charge_id = params.text("charge")
        amount = params.integer("amount", minimum=1)
        reason = params.text("reason", choices=["duplicate", "fraudulent", "requested_by_customer"])
        refund_fee = params.boolean("refund_application_fee")
        reverse = params.boolean("reverse_transfer")
        metadata = params.metadata()
        params.ignore("instructions_email")
        if not intent_id and not charge_id:
            raise invalid_request(
                "One of the following params should be provided for this request: "
                "payment_intent or charge."
            )
        if intent_id:
            intent = self.find(ctx, "payment_intent", intent_id, param="payment_intent")
            if intent["status"] != "succeeded" or not intent["latest_charge"]:
                raise invalid_request(
                    f"This PaymentIntent ({intent_id}) does not have a successful charge to "
                    "refund.",
                    param="payment_intent",
                )
            charge = self.find(ctx, "charge", intent["latest_charge"])
            if charge_id and charge_id != charge["id"]:
                raise invalid_request(
                    "The charge does not belong to this PaymentIntent.", param="charge"
                )
        else:
            assert charge_id is not None
            charge = self.find(ctx, "charge", charge_id, param="charge")
            intent_id = charge["payment_intent"]
        if not charge["paid"]:
            raise invalid_request(
                f"Charge {charge['id']} has no successful payment to refund.", param="charge"
            )
        remaining = charge["amount"] - charge["amount_refunded"]
        if remaining <= 0:
            raise invalid_request(
                f"Charge {charge['id']} has already been refunded.",
                code="charge_already_refunded",
            )
        amount = remaining if amount is None else amount
        if amount > remaining:
            currency = charge["currency"]
            if charge["amount_refunded"] == 0:
                message = (
                    f"Refund amount ({objects.format_amount(amount, currency)}) is greater "
                    f"than charge amount ({objects.format_amount(charge['amount'], currency)})"
                )
            else:
                message = (
                    f"Refund amount ({objects.format_amount(amount, currency)}) is greater "
                    "than unrefunded amount on charge "
                    f"({objects.format_amount(remaining, currency)})"
                )
            raise invalid_request(message, param="amount")
        transfer = self.store.get(charge["transfer"]) if charge.get("transfer") else None
        if reverse and transfer is None:
            raise invalid_request(
                "reverse_transfer can only be used on charges with a destination transfer.",
                param="reverse_transfer",
            )

        owner = ctx.account
        currency = charge["currency"]
        refund = objects.refund(
            refund_id=self.store.new_id("re"),
            created=self.store.now(),
            amount=amount,
            currency=currency,
            charge_id=charge["id"],
            payment_intent_id=intent_id,
            metadata=metadata,
            reason=reason,
        )
        refund["balance_transaction"] = self._txn(
            owner,
            amount=-amount,
            currency=currency,
            source=refund["id"],
            txn_type="refund",
            category="refund",
        )
        if reverse and transfer is not None:
            refund["transfer_reversal"] = self._reverse_transfer(transfer, charge, amount)
        fee_id = charge.get("application_fee")
        if refund_fee and fee_id:
            self._refund_application_fee(fee_id, charge, amount)
        self.store.put(refund, owner=owner)

        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] >= charge["amount"]
        charge["refunds"]["data"].insert(0, refund)
        self.store.put(charge)
        self.emit(ctx, "charge.refunded", charge, account_id=owner)
        return refund

    def _reverse_transfer(
        self, transfer: dict[str, Any], charge: dict[str, Any], refund_amount: int
    ) -> str:
        """Take back from the connected account the refunded share of what it was sent."""
        left = transfer["amount"] - transfer["amount_reversed"]
        share = min(left, round(transfer["amount"] * refund_amount / charge["amount"]))
        currency = transfer["currency"]
        reversal = objects.transfer_reversal(
            reversal_id=self.store.new_id("trr"),
            created=self.store.now(),
            amount=share,
            currency=currency,
            transfer_id=transfer["id"],
        )
        reversal["balance_transaction"] = self._txn(
            None,
            amount=share,
            currency=currency,
            source=reversal["id"],
            txn_type="transfer_refund",
            category="transfer_reversal",
        )
        destination = transfer["destination"]
        self._txn(
            destination,
            amount=-share,
            currency=currency,
            source=transfer["destination_payment"],
            txn_type="payment_refund",
            category="refund",
        )
        payment = self.store.get(transfer["destination_payment"])
        if payment is not None:
            payment["amount_refunded"] += share
            payment["refunded"] = payment["amount_refunded"] >= payment["amount"]
            self.store.put(payment)
        transfer["amount_reversed"] += share
        transfer["reversed"] = transfer["amount_reversed"] >= transfer["amount"]
        transfer["reversals"]["data"].insert(0, reversal)
        self.store.put(transfer)
        return reversal["id"]

    def _refund_application_fee(
        self, fee_id: str, charge: dict[str, Any], refund_amount: int
    ) -> None:
        """Give the connected account back the refunded share of the platform's fee."""
        fee = self.store.get(fee_id)
        if fee is None:
            return
        left = fee["amount"] - fee["amount_refunded"]
        share = min(left, round(fee["amount"] * refund_amount / charge["amount"]))
        if share <= 0:
            return
        currency = fee["currency"]
        fee_refund = objects.fee_refund(
            refund_id=self.store.new_id("fr"),
            created=self.store.now(),
            amount=share,
            currency=currency,
            fee_id=fee_id,
        )
        fee_refund["balance_transaction"] = self._txn(
            None,
            amount=-share,
            currency=currency,
            source=fee_refund["id"],
            txn_type="application_fee_refund",
            category="platform_earning_refund",
        )
        self._txn(
            fee["account"],
            amount=share,
            currency=currency,
            source=fee_refund["id"],
            txn_type="application_fee_refund",
            category="fee",
        )
        fee["amount_refunded"] += share
        fee["refunded"] = fee["amount_refunded"] >= fee["amount"]
        fee["refunds"]["data"].insert(0, fee_refund)
        self.store.put(fee)

    def list_refunds(self, ctx: RequestContext, params: Params) -> dict[str, Any]:
        intent_filter = params.text("payment_intent")
        charge_filter = params.text("charge")
        refunds = [
            refund
            for refund in self.store.objects_of("refund", ctx.account)
            if (not intent_filter or refund["payment_intent"] == intent_filter)
            and (not charge_filter or refund["charge"] == charge_filter)
        ]
        return self.paginate(refunds, params, "/v1/refunds", "refund")

    def list_charges(self, ctx: RequestContext, params: Params) -> dict[str, Any]:
        intent_filter = params.text("payment_intent")
        charges = [
            charge
            for charge in self.store.objects_of("charge", ctx.account)
            if not intent_filter or charge["payment_intent"] == intent_filter
        ]
        return self.paginate(charges, params, "/v1/charges", "charge")

    # -- balances -----------------------------------------------------------------------------
    def balance_by_currency(self, owner: str | None) -> dict[str, int]:
        totals: dict[str, int] = {}
        for txn in self.store.objects_of("balance_transaction", owner):
            totals[txn["currency"]] = totals.get(txn["currency"], 0) + txn["net"]
        return totals

    def balance(self, ctx: RequestContext) -> dict[str, Any]:
        return objects.balance(self.balance_by_currency(ctx.account))

    def list_balance_transactions(self, ctx: RequestContext, params: Params) -> dict[str, Any]:
        type_filter = params.text("type")
        source_filter = params.text("source")
        txns = [
            txn
            for txn in self.store.objects_of("balance_transaction", ctx.account)
            if (not type_filter or txn["type"] == type_filter)
            and (not source_filter or txn["source"] == source_filter)
        ]
        return self.paginate(txns, params, "/v1/balance_transactions", "balance_transaction")

    def dashboard(self, account_id: str) -> dict[str, Any]:
        """What the local Express dashboard shows for one connected account."""
        acct = self.store.get(account_id)
        assert acct is not None
        payments = []
        refunds = []
        for payment in reversed(self.store.objects_of("charge", account_id)):
            if not payment["paid"]:
                continue
            transfer = self.store.get(payment.get("source_transfer") or "")
            source = self.store.get(transfer["source_transaction"]) if transfer else payment
            if source is None:
                continue
            fee = source.get("application_fee_amount") or 0
            payments.append(
                {
                    "id": payment["id"],
                    "created": payment["created"],
                    "currency": payment["currency"],
                    "gross": payment["amount"],
                    "application_fee": fee,
                    "net": payment["amount"] - fee,
                    "refunded": payment["amount_refunded"],
                    "description": source.get("description"),
                    "customer": (source.get("billing_details") or {}).get("name"),
                    "status": "Refunded"
                    if payment["refunded"]
                    else ("Partially refunded" if payment["amount_refunded"] else "Succeeded"),
                }
            )
            for refund in source["refunds"]["data"]:
                reversed_amount = 0
                if refund.get("transfer_reversal") and transfer:
                    reversal = next(
                        (
                            r
                            for r in transfer["reversals"]["data"]
                            if r["id"] == refund["transfer_reversal"]
                        ),
                        None,
                    )
                    reversed_amount = reversal["amount"] if reversal else 0
                refunds.append(
                    {
                        "id": refund["id"],
                        "created": refund["created"],
                        "currency": refund["currency"],
                        "amount": refund["amount"],
                        "taken_from_balance": reversed_amount if transfer else refund["amount"],
                        "payment": payment["id"],
                    }
                )
        return {
            "account": acct,
            "payments": payments,
            "refunds": refunds,
            "balance": self.balance_by_currency(account_id),
        }

    def receipt(self, token: str) -> dict[str, Any] | None:
        charge_id = self.store.state["receipts"].get(token)
        return self.store.get(charge_id) if charge_id else None


def _type_matches(pattern: str, event_type: str) -> bool:
    if pattern.endswith(".*"):
        return event_type.startswith(pattern[:-1])
    return pattern == event_type


def _currency(params: Params, key: str) -> str:
    value = params.text(key, required=True)
    assert value is not None
    currency = value.lower()
    if not re.fullmatch(r"[a-z]{3}", currency):
        raise invalid_request(f"Invalid currency: {value}", param=params.name(key))
    return currency


def _check_amount(amount: int, currency: str, param: str) -> None:
    minimum = objects.MINIMUM_AMOUNTS.get(currency, 50)
    if amount < minimum:
        raise invalid_request(
            f"Amount must be at least {objects.format_amount(minimum, currency)} {currency}",
            param=param,
            code="amount_too_small",
        )
    if amount > MAX_AMOUNT:
        raise invalid_request(
            f"Amount must be no more than {objects.format_amount(MAX_AMOUNT, currency)}",
            param=param,
            code="amount_too_large",
        )


def _card_for_payment_method(payment_method: str) -> Card:
    number = TEST_PAYMENT_METHODS.get(payment_method)
    if number is None:
        raise no_such("PaymentMethod", payment_method, param="payment_method")
    return Card(number=number, exp_month=12, exp_year=dt.date.today().year + 3)


def check_onboarding_form(form: dict[str, str], *, today: dt.date) -> dict[str, str]:
    """Messages per field for the hosted onboarding form (empty when it can be submitted)."""
    errors: dict[str, str] = {}
    for field, label in (
        ("first_name", "First name"),
        ("last_name", "Last name"),
        ("email", "Email"),
        ("phone", "Phone number"),
        ("address_line1", "Address"),
        ("address_city", "City"),
        ("address_state", "State"),
        ("address_postal_code", "ZIP"),
    ):
        if not form.get(field, "").strip():
            errors[field] = f"{label} is required."
    try:
        dob = dt.date.fromisoformat(form.get("dob", "").strip())
        age = (today - dob).days // 365
        if age < 13:  # no upper bound: Stripe's test date of birth is 1901-01-01
            errors["dob"] = "You must be at least 13 years old."
    except ValueError:
        errors["dob"] = "Enter your date of birth as YYYY-MM-DD."
    if not re.fullmatch(r"\d{4}", form.get("ssn_last_4", "").strip()):
        errors["ssn_last_4"] = "Enter the last 4 digits of your SSN."
    if not re.fullmatch(r"\d{9}", form.get("routing_number", "").strip()):
        errors["routing_number"] = "Routing number must have 9 digits."
    if not re.fullmatch(r"\d{4,17}", form.get("account_number", "").strip()):
        errors["account_number"] = "Account number must have 4 to 17 digits."
    elif form.get("account_number", "").strip() != form.get("account_number_confirm", "").strip():
        errors["account_number_confirm"] = "The account numbers do not match."
    if form.get("tos") != "accepted":
        errors["tos"] = "Accept the Stripe Connected Account Agreement to continue."
    return errors


def _individual_from_form(form: dict[str, str]) -> dict[str, str]:
    return {
        key: form.get(key, "").strip()
        for key in ("first_name", "last_name", "email", "phone", "dob", "address_postal_code")
    }
