"""Schemathesis hooks of scripts/api-fuzz.sh.

Vendor callbacks (SPEC §5.5) are signed per Standard Webhooks over the exact body bytes. Cases
generated from the OpenAPI document cannot carry a valid signature, so without this hook every
callback would stop at 401 INVALID_SIGNATURE and the body parser behind it would never be
fuzzed. Here each callback case is sent for the vendor whose secret the server was started
with, with a fresh `webhook-id`, the current `webhook-timestamp` and a valid `webhook-signature`
over the bytes that are actually sent. The refusals (unknown vendor, missing or bad headers,
stale timestamps) are covered by crates/adapter-in/tests/http_callbacks.rs instead.
"""

import base64
import hashlib
import hmac
import json
import os
import time
import uuid

import schemathesis
from schemathesis.core import NOT_SET

CALLBACK_PATH = "/api/v1/callbacks/{vendor}"
VENDOR = os.environ["API_FUZZ_CALLBACK_VENDOR"]
# `whsec_` + base64: the HMAC key is the decoded part, as in the Standard Webhooks libraries.
KEY = base64.b64decode(os.environ["API_FUZZ_CALLBACK_SECRET"].removeprefix("whsec_"))


def body_bytes(body):
    """The bytes to send for a generated body (None when it is not JSON: left unsigned)."""
    if body is NOT_SET:
        return b""
    if isinstance(body, bytes):
        return body
    try:
        return json.dumps(body, allow_nan=False).encode()
    except (TypeError, ValueError):
        return None


@schemathesis.hook
def before_call(context, case, kwargs):
    if case.operation.path != CALLBACK_PATH:
        return
    body = body_bytes(case.body)
    if body is None:
        return
    webhook_id = f"msg_{uuid.uuid4().hex}"
    timestamp = str(int(time.time()))
    mac = hmac.new(KEY, f"{webhook_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    case.path_parameters = {**(case.path_parameters or {}), "vendor": VENDOR}
    case.headers = {
        **(case.headers or {}),
        "webhook-id": webhook_id,
        "webhook-timestamp": timestamp,
        "webhook-signature": "v1," + base64.b64encode(mac).decode(),
    }
    # Sent as is: the signature covers exactly these bytes.
    if case.body is not NOT_SET:
        kwargs["data"] = body
