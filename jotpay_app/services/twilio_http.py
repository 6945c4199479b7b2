"""HTTP client for the official `twilio` SDK that can point at another base URL.

The SDK always builds URLs on https://api.twilio.com. Its documented extension point is
the `http_client` argument of `twilio.rest.Client`; this subclass of
`TwilioHttpClient` swaps the scheme and host of every request for a configured base URL
(keeping path and query), so the app can talk to the local sandbox
(`python -m jotpay_app.sandbox`) with exactly the code it uses against Twilio.

It also always applies a timeout, and turns transport failures into two exception
types the caller can handle without knowing about `requests`:

* `TwilioRequestTimeout`: no answer in time. The request MAY have been processed
  (a message may have been created), so look it up before sending again.
* `TwilioConnectionFailed`: the connection failed or broke. Same advice.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit, urlunsplit

import requests
from twilio.base.exceptions import TwilioException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

DEFAULT_TIMEOUT_SECONDS = 10.0

_logger = logging.getLogger("jotpay.twilio_http")


class TwilioRequestTimeout(TwilioException, TimeoutError):
    """The Twilio API (or the sandbox) did not answer within the timeout."""


class TwilioConnectionFailed(TwilioException, ConnectionError):
    """The connection to the Twilio API (or the sandbox) failed or broke."""


def rewrite_base_url(url: str, base_url: str) -> str:
    """Return `url` with scheme and host taken from `base_url`; path and query are kept.

    A path in `base_url` (e.g. a reverse-proxy prefix) is put in front of the path.
    """
    target = urlsplit(url)
    base = urlsplit(base_url)
    path = base.path.rstrip("/") + target.path
    return urlunsplit((base.scheme, base.netloc, path, target.query, target.fragment))


class BaseUrlTwilioHttpClient(TwilioHttpClient):
    """`TwilioHttpClient` that sends every request to `base_url` instead of twilio.com.

    With an empty `base_url` requests go to Twilio unchanged (production), but the
    timeout and the exception mapping still apply.
    """

    def __init__(
        self,
        base_url: str = "",
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        logger: logging.Logger = _logger,
    ) -> None:
        if base_url and urlsplit(base_url).scheme not in ("http", "https"):
            raise ValueError(f"base_url must start with http:// or https://, got {base_url!r}")
        # Retries stay off: re-sending a POST that timed out could text the patient twice.
        super().__init__(timeout=timeout, logger=logger, max_retries=0)
        self.base_url = base_url.rstrip("/")

    def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        target = rewrite_base_url(url, self.base_url) if self.base_url else url
        try:
            return super().request(
                method,
                target,
                params=params,
                data=data,
                headers=headers,
                auth=auth,
                timeout=timeout,
                allow_redirects=allow_redirects,
            )
        except requests.Timeout as exc:
            raise TwilioRequestTimeout(f"{method} {target}: no answer in time ({exc})") from exc
        except requests.ConnectionError as exc:
            raise TwilioConnectionFailed(f"{method} {target}: connection failed ({exc})") from exc


def build_twilio_client(
    account_sid: str,
    auth_token: str,
    base_url: str = "",
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> Client:
    """A `twilio.rest.Client` whose requests go to `base_url` (empty: real Twilio)."""
    return Client(
        account_sid,
        auth_token,
        http_client=BaseUrlTwilioHttpClient(base_url=base_url, timeout=timeout),
    )
