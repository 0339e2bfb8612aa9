"""A small client for the Supabase Management API: retries what is worth retrying, names what failed."""

from __future__ import annotations

import json
import random
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

RETRIED = {429, 500, 502, 503, 504}


class SupabaseApiError(Exception):
    """A request the API refused (4xx) or kept failing (429/5xx after every retry)."""

    def __init__(self, what: str, method: str, path: str, status: int | None, detail: str) -> None:
        self.status = status
        answer = f"HTTP {status}" if status is not None else "no answer"
        super().__init__(f"Supabase {what}: {method} {path} failed ({answer}): {detail}")


class ManagementApi:
    """``request()`` sends JSON with the bearer token and returns the decoded answer.

    429 and 5xx answers and connection errors are retried with exponential backoff and jitter
    (honouring Retry-After); any other 4xx fails at once with the setting's name and the API's
    message. The token never appears in an error.
    """

    def __init__(self, base_url: str, token: str, *, attempts: int = 6, backoff: float = 1.0,
                 timeout: float = 30.0, sleep: Callable[[float], None] = time.sleep) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self.attempts = attempts
        self.backoff = backoff
        self.timeout = timeout
        self.sleep = sleep

    def request(self, method: str, path: str, body: Any = None, *, what: str) -> Any:
        data = None if body is None else json.dumps(whole_numbers(body)).encode()
        headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/json",
                   "User-Agent": "stackyard"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        for attempt in range(1, self.attempts + 1):
            request = urllib.request.Request(self.base_url + path, data=data, headers=headers, method=method)
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    text = response.read().decode()
                    return json.loads(text) if text.strip() else None
            except urllib.error.HTTPError as err:
                detail = _message(err.read().decode(errors="replace")) or err.reason
                if err.code not in RETRIED or attempt == self.attempts:
                    raise SupabaseApiError(what, method, path, err.code, detail) from None
                retry_after = err.headers.get("Retry-After")
            except (urllib.error.URLError, TimeoutError, ConnectionError) as err:
                if attempt == self.attempts:
                    reason = getattr(err, "reason", err)
                    raise SupabaseApiError(what, method, path, None, str(reason)) from None
                retry_after = None
            self.sleep(self._delay(attempt, retry_after))
        raise AssertionError("unreachable")

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        if retry_after is not None and retry_after.isdigit():
            return min(float(retry_after), 60.0)
        return self.backoff * 2 ** (attempt - 1) * random.uniform(0.5, 1.0)


def whole_numbers(value: Any) -> Any:
    """Pulumi's wire format carries every number as a double, so 3600 reaches a provider as 3600.0;
    the API's integer settings (jwt_exp, max_rows) refuse that."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: whole_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [whole_numbers(item) for item in value]
    return value


def _message(text: str) -> str:
    """The API's error message: ``{"message": ...}`` or ``{"error": ...}``, else the text itself."""
    try:
        payload = json.loads(text)
    except ValueError:
        return text.strip()[:500]
    if isinstance(payload, dict):
        for key in ("message", "error", "msg"):
            if isinstance(payload.get(key), str):
                return payload[key]
    return text.strip()[:500]
