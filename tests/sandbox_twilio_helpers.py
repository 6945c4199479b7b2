"""Helpers for tests of the Twilio stand-in: run the real sandbox CLI, receive webhooks.

`SandboxProcess` starts `python -m jotpay_app.sandbox` on a free local port with its own
data folder; `WebhookReceiver` is a threaded HTTP server on 127.0.0.1 that records every
POST (status callbacks, inbound-message webhooks) and can answer GETs with a small page.
"""

from __future__ import annotations

import http.server
import os
import secrets
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import requests

from tests.netutil import free_port, wait_until

REPO_ROOT = Path(__file__).resolve().parent.parent


def new_account_sid() -> str:
    return "AC" + secrets.token_hex(16)


@dataclass
class SandboxProcess:
    """The sandbox CLI as a child process. Use as a context manager; `restart()` keeps data."""

    data_dir: Path
    account_sid: str = field(default_factory=new_account_sid)
    auth_token: str = field(default_factory=lambda: secrets.token_hex(16))
    webhook_url: str = ""
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> SandboxProcess:
        command = [
            sys.executable,
            "-m",
            "jotpay_app.sandbox",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--data",
            str(self.data_dir),
            "--twilio-sid",
            self.account_sid,
            "--twilio-token",
            self.auth_token,
        ]
        if self.webhook_url:
            command += ["--twilio-webhook-url", self.webhook_url]
        log_path = self.data_dir.parent / f"sandbox-{self.port}.log"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command,
                cwd=REPO_ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )

        def ready() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(
                    f"sandbox exited with {self.process.returncode}:\n{log_path.read_text()}"
                )
            try:
                return requests.get(f"{self.base_url}/sandbox/twilio/messages.json", timeout=1).ok
            except requests.ConnectionError:
                return False

        wait_until(ready, timeout=20)
        return self

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def __enter__(self) -> SandboxProcess:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # -- local control endpoints, used by tests directly ---------------------------------

    def set_fault(self, **fault: object) -> dict[str, object]:
        response = requests.post(f"{self.base_url}/sandbox/twilio/faults", json=fault, timeout=5)
        response.raise_for_status()
        return response.json()

    def clear_faults(self) -> None:
        requests.delete(f"{self.base_url}/sandbox/twilio/faults", timeout=5).raise_for_status()

    def debug_messages(self) -> dict[str, object]:
        response = requests.get(f"{self.base_url}/sandbox/twilio/messages.json", timeout=5)
        response.raise_for_status()
        return response.json()

    def outbox_url(self, number: str) -> str:
        from urllib.parse import quote

        return f"{self.base_url}/sandbox/outbox/{quote(number, safe='')}"

    def reply_as_patient(self, patient: str, our_number: str, body: str) -> requests.Response:
        """Submit the outbox reply form, as the browser does."""
        return requests.post(
            f"{self.outbox_url(patient)}/reply",
            data={"Body": body, "To": our_number},
            timeout=5,
            allow_redirects=False,
        )


@dataclass
class ReceivedRequest:
    path: str
    params: dict[str, str]
    headers: dict[str, str]

    @property
    def signature(self) -> str:
        return self.headers.get("X-Twilio-Signature", "")


class WebhookReceiver:
    """Records POSTs and answers them 200 with `reply_body` (or as `fail_next` says).

    GET requests are answered with a small HTML page naming the path, so tests can
    point a link in a text at it and check where a click lands.
    """

    def __init__(self) -> None:
        self.requests: list[ReceivedRequest] = []
        # path prefix -> status codes to answer the next POSTs there with, in order
        self.statuses_to_answer: dict[str, list[int]] = {}
        self.reply_body = ""
        self.reply_content_type = "text/plain"
        self._lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length).decode()
                with receiver._lock:
                    receiver.requests.append(
                        ReceivedRequest(
                            path=self.path,
                            params=dict(parse_qsl(body, keep_blank_values=True)),
                            headers=dict(self.headers.items()),
                        )
                    )
                    status = receiver._next_status(self.path)
                payload = receiver.reply_body.encode()
                self.send_response(status)
                self.send_header("Content-Type", receiver.reply_content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:
                payload = (
                    "<!doctype html><title>Landing page</title>"
                    f"<h1 id='landing'>Landed on {urlsplit(self.path).path}</h1>"
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *_args: object) -> None:  # keep test output quiet
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def fail_next(self, path_prefix: str, statuses: list[int]) -> None:
        """Answer the next POSTs whose path starts with `path_prefix` with `statuses`."""
        with self._lock:
            self.statuses_to_answer[path_prefix] = list(statuses)

    def _next_status(self, path: str) -> int:
        for prefix, statuses in self.statuses_to_answer.items():
            if path.startswith(prefix) and statuses:
                return statuses.pop(0)
        return 200

    def received(self, path_prefix: str = "") -> list[ReceivedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path.startswith(path_prefix)]

    def __enter__(self) -> WebhookReceiver:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
