"""Standard Webhooks signatures: the specification's published test vector, and what is refused."""
from __future__ import annotations

import base64
import time

import pytest

from enr.media import signature
from enr.media.signature import WebhookVerificationError

# The test vector of the Standard Webhooks reference libraries (standard-webhooks/standard-webhooks,
# libraries/*/ "sign function works").
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TIMESTAMP = 1614265330
PAYLOAD = b'{"test": 2432232314}'
EXPECTED = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_the_specification_test_vector():
    assert signature.sign(SECRET, MSG_ID, TIMESTAMP, PAYLOAD) == EXPECTED
    assert signature.sign(SECRET.removeprefix("whsec_"), MSG_ID, TIMESTAMP, PAYLOAD) == EXPECTED
    headers = {"webhook-id": MSG_ID, "webhook-timestamp": str(TIMESTAMP), "webhook-signature": EXPECTED}
    assert signature.verify(SECRET, headers, PAYLOAD, now=TIMESTAMP + 10) == MSG_ID


def test_generated_secrets_are_whsec_base64_and_distinct():
    a, b = signature.generate_secret(), signature.generate_secret()
    assert a.startswith("whsec_") and a != b and len(base64.b64decode(a[6:])) == 32
    with pytest.raises(ValueError):
        signature.generate_secret(8)


def _signed(body=b'{"a":1}', stamp=None):
    secret = signature.generate_secret()
    return secret, signature.headers(secret, "msg_1", body, stamp), body


def test_a_fresh_signature_verifies_and_headers_are_case_insensitive():
    secret, headers, body = _signed()
    assert signature.verify(secret, {k.title(): v for k, v in headers.items()}, body) == "msg_1"


def test_one_matching_signature_among_several_is_enough():
    secret, headers, body = _signed()
    headers["webhook-signature"] = "v1,AAAA v2,BBBB " + headers["webhook-signature"]
    assert signature.verify(secret, headers, body) == "msg_1"


@pytest.mark.parametrize("attack", ["body", "secret", "id", "timestamp", "truncated", "missing", "version"])
def test_forgeries_are_refused(attack):
    secret, headers, body = _signed()
    if attack == "body":
        body = b'{"a":2}'
    elif attack == "secret":
        secret = signature.generate_secret()
    elif attack == "id":
        headers["webhook-id"] = "msg_2"
    elif attack == "timestamp":
        headers["webhook-timestamp"] = str(int(headers["webhook-timestamp"]) + 1)
    elif attack == "truncated":
        headers["webhook-signature"] = headers["webhook-signature"][:8]
    elif attack == "missing":
        del headers["webhook-signature"]
    elif attack == "version":
        headers["webhook-signature"] = "v2," + headers["webhook-signature"][3:]
    with pytest.raises(WebhookVerificationError):
        signature.verify(secret, headers, body)


@pytest.mark.parametrize("offset", [-301, 301])
def test_stale_or_future_timestamps_are_refused(offset):
    secret, headers, body = _signed(stamp=int(time.time()) + offset)
    with pytest.raises(WebhookVerificationError, match="stale"):
        signature.verify(secret, headers, body)
    headers["webhook-timestamp"] = "soon"
    with pytest.raises(WebhookVerificationError, match="not an integer"):
        signature.verify(secret, headers, body)
