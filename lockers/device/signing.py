"""The signing recipe of the device protocol, shared by the server and the reference client.

Pure Python with no Django import, so the simulator (and anyone porting it to a
controller) uses exactly the code the server checks with. See docs/device-protocol.md.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

SCHEME = "OL1-HMAC-SHA256"
HEADER_SERIAL = "X-Locker-Serial"
HEADER_TIMESTAMP = "X-Locker-Timestamp"
HEADER_NONCE = "X-Locker-Nonce"
HEADER_SIGNATURE = "X-Locker-Signature"
SIGNED_HEADERS = (HEADER_SERIAL, HEADER_TIMESTAMP, HEADER_NONCE, HEADER_SIGNATURE)
NONCE_ALPHABET = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
NONCE_LENGTHS = range(16, 65)


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def canonical_request(*, method: str, path: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    """What is signed: scheme, method, path with query string, timestamp, nonce and body digest, one per line."""
    return "\n".join((SCHEME, method.upper(), path, timestamp, nonce, body_digest(body))).encode()


def sign(*, secret: str, method: str, path: str, timestamp: str, nonce: str, body: bytes) -> str:
    """Hex HMAC-SHA256 of the canonical request under the device secret."""
    message = canonical_request(method=method, path=path, timestamp=timestamp, nonce=nonce, body=body)
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_matches(*, secret: str, signature: str, method: str, path: str, timestamp: str, nonce: str,
                      body: bytes) -> bool:
    expected = sign(secret=secret, method=method, path=path, timestamp=timestamp, nonce=nonce, body=body)
    return hmac.compare_digest(expected.encode(), signature.strip().lower().encode())


def new_nonce() -> str:
    return secrets.token_urlsafe(18)


def nonce_is_well_formed(nonce: str) -> bool:
    return len(nonce) in NONCE_LENGTHS and set(nonce) <= NONCE_ALPHABET


def signed_headers(*, serial: str, secret: str, method: str, path: str, body: bytes, timestamp: int,
                   nonce: str | None = None) -> dict[str, str]:
    """The four headers that make a request a signed device request."""
    nonce = nonce or new_nonce()
    stamp = str(timestamp)
    return {
        HEADER_SERIAL: serial,
        HEADER_TIMESTAMP: stamp,
        HEADER_NONCE: nonce,
        HEADER_SIGNATURE: sign(secret=secret, method=method, path=path, timestamp=stamp, nonce=nonce, body=body),
    }


# --- offline bundle: how a locker checks a typed or scanned code without the server --------


def bundle_pin_hash(bundle_key: str, pin: str) -> str:
    return hmac.new(bundle_key.encode(), f"pin:{pin.strip()}".encode(), hashlib.sha256).hexdigest()


def bundle_qr_hash(bundle_key: str, qr_token: str) -> str:
    return hmac.new(bundle_key.encode(), f"qr:{qr_token.strip()}".encode(), hashlib.sha256).hexdigest()
