"""Helpers for driving the stand-in's human pages from code (demo seed, tests).

Real Stripe has no API to finish Express onboarding: a person fills the hosted form.
The stand-in's form comes prefilled with test values, so submitting it as a browser
would is enough. Uses only HTTP; imports nothing from the app.
"""

from __future__ import annotations

import re
from html import unescape

import httpx

_INPUT = re.compile(r"<input\b[^>]*>", re.I)
_ATTR = re.compile(r'(\w[\w-]*)="([^"]*)"')


def _form_values(html: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for tag in _INPUT.findall(html):
        attrs = {k.lower(): unescape(v) for k, v in _ATTR.findall(tag)}
        if "name" in attrs and attrs.get("type") != "checkbox":
            values[attrs["name"]] = attrs.get("value", "")
    return values


def complete_onboarding(link_url: str, *, timeout: float = 10.0) -> str:
    """Open an onboarding link, submit the prefilled form; returns where it redirects."""
    with httpx.Client(follow_redirects=True, timeout=timeout) as http:
        page = http.get(link_url)
        page.raise_for_status()
        values = _form_values(page.text)
        values["tos"] = "accepted"
        done = http.post(str(page.url), data=values, follow_redirects=False)
        if done.status_code not in (302, 303):
            raise RuntimeError(f"onboarding form was not accepted ({done.status_code})")
        return done.headers["location"]
