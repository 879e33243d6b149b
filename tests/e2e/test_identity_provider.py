"""JWTs from an external identity provider, verified against a real loopback JWKS server
(or a configured PEM key): issuer, audience, expiry, algorithm and key checks, key
rotation, and the local HS256 tokens working beside them."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from litestar.testing import AsyncTestClient

from memvault.adapters.settings import refusal
from memvault.container import Settings
from memvault.entrypoints.http.app import create_app
from tests.e2e.conftest import Auth
from tests.e2e.test_items_api import ITEMS, assert_problem

Client = AsyncTestClient  # type: ignore[type-arg]
ISSUER = "https://id.example.test/"
AUDIENCE = "memvault-api"
ADMIN_JOBS = "/api/v1/admin/jobs"


class Jwks:
    """A loopback JWKS endpoint: serves ``keys``, counts the fetches."""

    def __init__(self) -> None:
        self.keys: list[dict[str, Any]] = []
        self.fetches = 0
        jwks = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                jwks.fetches += 1
                body = json.dumps({"keys": jwks.keys}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/.well-known/jwks.json"

    def publish(self, kid: str, key: Any) -> None:
        algorithm = jwt.algorithms.RSAAlgorithm if isinstance(key, rsa.RSAPrivateKey) else None
        alg = "RS256" if algorithm else "ES256"
        public = key.public_key()
        jwk = (algorithm or jwt.algorithms.ECAlgorithm).to_jwk(public, as_dict=True)
        self.keys.append(jwk | {"kid": kid, "use": "sig", "alg": alg})


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def jwks(rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey) -> Iterator[Jwks]:
    served = Jwks()
    served.publish("rsa-1", rsa_key)
    served.publish("ec-1", ec_key)
    thread = threading.Thread(target=served.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield served
    finally:
        served.server.shutdown()
        served.server.server_close()
        thread.join()


def provider_settings(settings: Settings, **changes: Any) -> Settings:
    base = {"auth_jwt_issuer": ISSUER, "auth_jwt_audience": AUDIENCE}
    return settings.model_copy(update=base | changes)


@pytest.fixture
async def idp(settings: Settings, jwks: Jwks) -> AsyncIterator[Client]:
    """An API that accepts the loopback provider's tokens; an unknown key refetches at once."""
    configured = provider_settings(settings, auth_jwks_url=jwks.url, auth_jwks_refresh_cooldown_s=0)
    async with AsyncTestClient(create_app(configured)) as client:
        yield client


def claims(user: str, **changes: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    base = {
        "sub": user,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + timedelta(hours=1),
    }
    return {k: v for k, v in (base | changes).items() if v is not None}


def signed(key: Any, kid: str | None, body: dict[str, Any], alg: str = "RS256") -> dict[str, str]:
    headers = {"kid": kid} if kid else None
    return {"Authorization": f"Bearer {jwt.encode(body, key, algorithm=alg, headers=headers)}"}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forged(header: dict[str, Any], body: dict[str, Any], secret: bytes | None) -> dict[str, str]:
    """A token made by hand: ``alg`` none, or HS256 keyed with a public key's PEM."""
    head = (
        b64(json.dumps(header).encode())
        + "."
        + b64(json.dumps(body, default=lambda t: int(t.timestamp())).encode())
    )
    mac = hmac.new(secret, head.encode(), hashlib.sha256).digest() if secret else b""
    return {"Authorization": f"Bearer {head}.{b64(mac)}"}


async def test_a_providers_rs256_and_es256_tokens_name_the_user(
    idp: Client, rsa_key: Any, ec_key: Any, user_id: str
):
    for headers in (
        signed(rsa_key, "rsa-1", claims(user_id)),
        signed(ec_key, "ec-1", claims(user_id), alg="ES256"),
    ):
        made = await idp.post(
            ITEMS, json={"memory_type": "fact", "content": "I love tea"}, headers=headers
        )
        assert made.status_code == 201, made.text
        assert made.json()["user_id"] == user_id


def public_pem(key: Any) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@functools.cache
def stranger() -> rsa.RSAPrivateKey:
    """A key the provider never published."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


REFUSED = {
    "wrong issuer": lambda k, u: signed(k, "rsa-1", claims(u, iss="https://evil.test/")),
    "wrong audience": lambda k, u: signed(k, "rsa-1", claims(u, aud="another-api")),
    "no audience": lambda k, u: signed(k, "rsa-1", claims(u, aud=None)),
    "expired": lambda k, u: signed(
        k, "rsa-1", claims(u, exp=datetime.now(UTC) - timedelta(minutes=5))
    ),
    "unknown key": lambda k, u: signed(stranger(), "rsa-9", claims(u)),
    "known kid, other key": lambda k, u: signed(stranger(), "rsa-1", claims(u)),
    "no kid": lambda k, u: signed(k, None, claims(u)),
    "RS256 naming the EC key": lambda k, u: signed(k, "ec-1", claims(u)),
    "alg none": lambda k, u: forged({"alg": "none", "kid": "rsa-1"}, claims(u), None),
    "HS256 keyed with the public key": lambda k, u: forged(
        {"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}, claims(u), public_pem(k)
    ),
    "RS512 not allowed": lambda k, u: signed(k, "rsa-1", claims(u), alg="RS512"),
}


@pytest.mark.parametrize("case", list(REFUSED))
async def test_a_token_failing_any_check_is_401(idp: Client, rsa_key: Any, user_id: str, case: str):
    problem = assert_problem(
        await idp.get(ITEMS, headers=REFUSED[case](rsa_key, user_id)), 401, "Unauthorized"
    )
    assert problem["detail"]


async def test_the_problem_says_which_check_failed(idp: Client, rsa_key: Any, user_id: str):
    details = {
        case: (await idp.get(ITEMS, headers=REFUSED[case](rsa_key, user_id))).json()["detail"]
        for case in ("wrong issuer", "wrong audience", "expired", "unknown key", "alg none")
    }
    assert "issuer" in details["wrong issuer"]
    assert "audience" in details["wrong audience"]
    assert "expired" in details["expired"]
    assert "rsa-9" in details["unknown key"]
    assert "none" in details["alg none"]


async def test_local_hs256_tokens_keep_working_beside_the_provider(
    idp: Client, auth: Auth, user_id: str
):
    assert (await idp.get(ITEMS, headers=auth(user_id))).status_code == 200
    assert (await idp.get(ADMIN_JOBS, headers=auth("ops", admin=True))).status_code == 200
    assert_problem(await idp.get(ITEMS, headers=auth(user_id, ttl=-60)), 401, "Unauthorized")


@pytest.mark.parametrize("scope", ["admin", "read admin", ["admin"]])
async def test_the_admin_scope_reads_as_in_a_local_token(
    idp: Client, rsa_key: Any, scope: str | list[str]
):
    admin = signed(rsa_key, "rsa-1", claims("ops", scope=scope))
    assert (await idp.get(ADMIN_JOBS, headers=admin)).status_code == 200
    for other in ("read write", 5, None, {"admin": True}):
        plain = signed(rsa_key, "rsa-1", claims("ops", scope=other))
        assert_problem(await idp.get(ADMIN_JOBS, headers=plain), 403, "Forbidden")
        assert (await idp.get(ITEMS, headers=plain)).status_code == 200


async def test_the_key_set_is_cached_and_a_rotated_key_is_fetched_at_once(
    idp: Client, jwks: Jwks, rsa_key: Any, user_id: str
):
    for _ in range(3):
        assert (
            await idp.get(ITEMS, headers=signed(rsa_key, "rsa-1", claims(user_id)))
        ).status_code == 200
    assert jwks.fetches == 1
    rotated = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwks.publish("rsa-2", rotated)
    assert (
        await idp.get(ITEMS, headers=signed(rotated, "rsa-2", claims(user_id)))
    ).status_code == 200
    assert jwks.fetches == 2
    assert (
        await idp.get(ITEMS, headers=signed(rotated, "rsa-2", claims(user_id)))
    ).status_code == 200
    assert jwks.fetches == 2


async def test_unknown_keys_refetch_the_set_at_most_once_per_cooldown(
    settings: Settings, jwks: Jwks, rsa_key: Any, user_id: str
):
    configured = provider_settings(settings, auth_jwks_url=jwks.url)  # 30 s cooldown
    async with AsyncTestClient(create_app(configured)) as client:
        assert (
            await client.get(ITEMS, headers=signed(rsa_key, "rsa-1", claims(user_id)))
        ).status_code == 200
        for kid in ("nope-1", "nope-2", "nope-3"):
            assert_problem(
                await client.get(ITEMS, headers=signed(rsa_key, kid, claims(user_id))),
                401,
                "Unauthorized",
            )
    assert jwks.fetches == 1


async def test_an_unreachable_provider_is_503_not_401(
    settings: Settings, rsa_key: Any, user_id: str, auth: Auth
):
    gone = Jwks()
    url = gone.url
    gone.server.server_close()
    configured = provider_settings(settings, auth_jwks_url=url, auth_jwks_timeout_s=2)
    async with AsyncTestClient(create_app(configured)) as client:
        response = await client.get(ITEMS, headers=signed(rsa_key, "rsa-1", claims(user_id)))
        assert_problem(response, 503, "Unavailable")
        assert response.headers["Retry-After"] == str(configured.unavailable_retry_after_s)
        assert "127.0.0.1" not in response.text
        assert (await client.get(ITEMS, headers=auth(user_id))).status_code == 200


@pytest.mark.parametrize("as_file", [False, True])
async def test_a_configured_pem_key_verifies_the_providers_tokens(
    settings: Settings, tmp_path: Path, ec_key: Any, rsa_key: Any, user_id: str, as_file: bool
):
    pem = public_pem(ec_key).decode()
    if as_file:
        (tmp_path / "idp.pem").write_text(pem)
        pem = str(tmp_path / "idp.pem")
    configured = provider_settings(settings, auth_jwt_public_key=pem)
    async with AsyncTestClient(create_app(configured)) as client:
        good = signed(ec_key, None, claims(user_id), alg="ES256")
        assert (await client.get(ITEMS, headers=good)).status_code == 200
        other = signed(ec.generate_private_key(ec.SECP256R1()), None, claims(user_id), alg="ES256")
        assert_problem(await client.get(ITEMS, headers=other), 401, "Unauthorized")
        wrong_type = signed(rsa_key, None, claims(user_id))
        assert_problem(await client.get(ITEMS, headers=wrong_type), 401, "Unauthorized")
        confused = forged({"alg": "HS256", "typ": "JWT"}, claims(user_id), public_pem(ec_key))
        assert_problem(await client.get(ITEMS, headers=confused), 401, "Unauthorized")


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"auth_jwks_url": "http://x/jwks", "auth_jwt_audience": None}, "AUDIENCE"),
        ({"auth_jwks_url": "http://x/jwks", "auth_jwt_issuer": None}, "ISSUER"),
        ({"auth_jwks_url": "http://x/jwks", "auth_jwt_public_key": "pem"}, "not both"),
        ({"auth_jwks_url": "file:///etc/passwd"}, "http"),
    ],
)
def test_provider_settings_that_cannot_work_are_refused_at_start(
    settings: Settings, changes: dict[str, Any], named: str
):
    reason = refusal(provider_settings(settings, **changes), "serve")
    assert reason is not None
    assert named in reason


def test_no_provider_is_the_default(settings: Settings):
    assert not settings.identity_provider
    assert refusal(settings, "serve") is None
