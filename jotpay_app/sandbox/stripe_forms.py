"""Stripe's form encoding: `a[b][c]=v`, arrays as `a[0][x]=v` or `a[]=v`, booleans as true/false.

`decode_form` turns the flat pairs into nested dicts/lists; `Params` reads typed values from
them with Stripe's error messages and reports any parameter nobody read as unknown, which is
what Stripe does too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from jotpay_app.sandbox.stripe_errors import StripeError, invalid_request, missing_param

_KEY_RE = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")


def _split_key(raw_key: str) -> list[str]:
    match = _KEY_RE.match(raw_key)
    if not match:
        return [raw_key]
    head, brackets = match.groups()
    return [head, *re.findall(r"\[([^\[\]]*)\]", brackets)]


def _listify(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    converted = {key: _listify(value) for key, value in node.items()}
    if converted and all(key.isdigit() for key in converted):
        return [converted[key] for key in sorted(converted, key=int)]
    return converted


def decode_form(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Build nested params from `(key, value)` pairs as Stripe's servers do."""
    root: dict[str, Any] = {}
    for raw_key, value in pairs:
        path = _split_key(raw_key)
        node = root
        for depth, segment in enumerate(path):
            is_last = depth == len(path) - 1
            if segment == "":
                # `expand[]=a&expand[]=b`: append at the next free index.
                segment = str(len(node))
            if is_last:
                if isinstance(node.get(segment), dict):
                    raise invalid_request(f"Invalid value for {raw_key}.", param=raw_key)
                node[segment] = value
            else:
                child = node.setdefault(segment, {})
                if not isinstance(child, dict):
                    if child == "":
                        # `metadata=` then `metadata[a]=`: the empty value only meant "unset".
                        child = {}
                        node[segment] = child
                    else:
                        raise invalid_request(f"Invalid value for {raw_key}.", param=raw_key)
                node = child
    return _listify(root)


class Params:
    """Typed, tracked access to decoded request params (one nesting level per instance)."""

    def __init__(self, values: Any, prefix: str = "") -> None:
        if values == "":
            values = {}
        if not isinstance(values, dict):
            raise invalid_request(f"Invalid object: {prefix or 'params'}", param=prefix or None)
        self._values: dict[str, Any] = values
        self._prefix = prefix
        self._read: set[str] = set()
        self._children: list[Params] = []

    @property
    def prefix(self) -> str:
        """The full name of this nesting level, e.g. `payment_intent_data` ("" at the top)."""
        return self._prefix

    def name(self, key: str) -> str:
        return f"{self._prefix}[{key}]" if self._prefix else key

    def has(self, key: str) -> bool:
        return key in self._values

    def raw(self, key: str) -> Any:
        self._read.add(key)
        return self._values.get(key)

    def ignore(self, *keys: str) -> None:
        """Accept params that change nothing in the sandbox (documented in docs/sandbox.md)."""
        self._read.update(keys)

    def text(
        self,
        key: str,
        *,
        required: bool = False,
        choices: Iterable[str] | None = None,
        max_length: int = 5000,
    ) -> str | None:
        value = self.raw(key)
        if value is None or value == "":
            if required:
                raise missing_param(self.name(key))
            return None
        if not isinstance(value, str):
            raise invalid_request(f"Invalid string: {self.name(key)}", param=self.name(key))
        if len(value) > max_length:
            raise invalid_request(
                f"Invalid string: {value[:20]}...; must be at most {max_length} characters",
                param=self.name(key),
            )
        if choices is not None:
            allowed = list(choices)
            if value not in allowed:
                raise invalid_request(
                    f"Invalid {self.name(key)}: must be one of {', '.join(allowed)}",
                    param=self.name(key),
                )
        return value

    def integer(
        self, key: str, *, required: bool = False, minimum: int | None = None
    ) -> int | None:
        value = self.raw(key)
        if value is None or value == "":
            if required:
                raise missing_param(self.name(key))
            return None
        if not isinstance(value, str) or not re.fullmatch(r"-?\d+", value):
            raise invalid_request(
                f"Invalid integer: {value}",
                param=self.name(key),
                code="parameter_invalid_integer",
            )
        number = int(value)
        if minimum is not None and number < minimum:
            kind = "positive integer" if minimum > 0 else "non-negative integer"
            raise invalid_request(f"Invalid {kind}", param=self.name(key))
        return number

    def boolean(self, key: str, *, default: bool = False) -> bool:
        value = self.raw(key)
        if value is None or value == "":
            return default
        if value not in ("true", "false"):
            raise invalid_request(f"Invalid boolean: {value}", param=self.name(key))
        return value == "true"

    def metadata(self, key: str = "metadata") -> dict[str, str]:
        value = self.raw(key)
        if value is None or value == "":
            return {}
        if not isinstance(value, dict):
            raise invalid_request("Invalid object", param=self.name(key))
        if len(value) > 50:
            raise invalid_request("Metadata can have up to 50 keys.", param=self.name(key))
        cleaned: dict[str, str] = {}
        for meta_key, meta_value in value.items():
            if not isinstance(meta_value, str):
                raise invalid_request("Invalid string", param=f"{self.name(key)}[{meta_key}]")
            if len(meta_key) > 40:
                raise invalid_request(
                    "Metadata keys can be at most 40 characters.",
                    param=f"{self.name(key)}[{meta_key}]",
                )
            if len(meta_value) > 500:
                raise invalid_request(
                    "Metadata values can be at most 500 characters.",
                    param=f"{self.name(key)}[{meta_key}]",
                )
            if meta_value != "":  # an empty value means "unset" in Stripe
                cleaned[meta_key] = meta_value
        return cleaned

    def child(self, key: str) -> Params | None:
        value = self.raw(key)
        if value is None:
            return None
        params = Params(value, self.name(key))
        self._children.append(params)
        return params

    def children(self, key: str) -> list[Params]:
        value = self.raw(key)
        if value is None or value == "":
            return []
        if not isinstance(value, list):
            raise invalid_request(f"Invalid array: {self.name(key)}", param=self.name(key))
        items = [Params(item, f"{self.name(key)}[{index}]") for index, item in enumerate(value)]
        self._children.extend(items)
        return items

    def strings(self, key: str) -> list[str]:
        value = self.raw(key)
        if value is None or value == "":
            return []
        if isinstance(value, str):
            return [value]
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise invalid_request(f"Invalid array: {self.name(key)}", param=self.name(key))
        return list(value)

    def finish(self) -> None:
        """Refuse params the sandbox does not read, naming them as Stripe does."""
        for key in self._values:
            if key not in self._read:
                raise StripeError(
                    400,
                    "invalid_request_error",
                    f"Received unknown parameter: {self.name(key)} "
                    "(not supported by the local Stripe sandbox, see docs/sandbox.md)",
                    code="parameter_unknown",
                    param=self.name(key),
                )
        for child in self._children:
            child.finish()
