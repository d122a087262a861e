"""The API's edges that an attacker pushes on (docs/security.md): OAuth2 JWTs
checked against an identity provider's keys (a real JWKS server on
127.0.0.1), hrefs that a forged Host header cannot move, and /hub callbacks
that cannot make the engine reach a metadata service (SSRF)."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from om_dsl.api import auth
from om_dsl.api.app import PREFIX, Settings
from om_dsl.api.oauth2 import JwtVerifier
from om_dsl.systems import config as configuration
from om_dsl.systems.egress import ANY, CallbackPolicy

from support.api_server import Server, order_body, tokens

ISSUER, AUDIENCE = "https://login.example.test/", "om"


class IdentityProvider:
    """An issuer's JWKS on 127.0.0.1, with keys that can be rotated."""

    def __init__(self):
        self.keys = {}
        self.fetches = 0
        self.add("key-1")
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                provider.fetches += 1
                body = json.dumps({"keys": [provider.jwk(kid) for kid in provider.keys]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.http.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/jwks.json"

    def add(self, kid: str):
        self.keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwk(self, kid: str) -> dict:
        return {**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.keys[kid].public_key())), "kid": kid, "use": "sig", "alg": "RS256"}

    def token(self, sub: str, roles, kid: str = "key-1", key=None, **claims) -> str:
        body = {"iss": ISSUER, "aud": AUDIENCE, "sub": sub, "exp": int(time.time()) + 300, "roles": roles, **claims}
        return jwt.encode(body, key or self.keys[kid], algorithm="RS256", headers={"kid": kid})

    def config(self, **changes) -> configuration.OAuth2Config:
        return configuration.OAuth2Config(**{"issuer": ISSUER, "audience": AUDIENCE, "jwks_url": self.url, "role_prefix": "om:", **changes})

    def close(self):
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture
def idp():
    provider = IdentityProvider()
    yield provider
    provider.close()


@pytest.fixture
def jwt_server(tmp_path, idp):
    callers = tokens()
    callers.jwt = JwtVerifier(idp.config())
    s = Server(tmp_path, callers=callers)
    yield s
    s.close()


def api(server, bearer: str, version: str = "v4") -> httpx.Client:
    return httpx.Client(base_url=f"{server.url}{PREFIX}/{version}", headers={"Authorization": f"Bearer {bearer}"}, timeout=60)


# ---- OAuth2 JWTs ----------------------------------------------------------------------------------


def test_a_jwt_from_the_issuer_is_a_caller_with_its_subject_and_highest_role(jwt_server, idp):
    alice = api(jwt_server, idp.token("alice@cpq", ["om:submitter", "unrelated"]))
    r = alice.post("/productOrder", json=order_body())
    assert r.status_code == 201, r.text
    order_id = r.json()["id"]
    assert alice.get(f"/productOrder/{order_id}").status_code == 200
    # a submitter sees its own orders only: bob, another subject, does not learn of alice's
    bob = api(jwt_server, idp.token("bob@cpq", "om:submitter"))  # a space-separated string, as OAuth2 scopes are
    assert bob.get(f"/productOrder/{order_id}").status_code == 404
    noc = api(jwt_server, idp.token("noc", ["om:viewer", "om:operator"]))
    assert noc.get(f"/productOrder/{order_id}").status_code == 200
    # the configured opaque tokens still work beside JWTs
    assert api(jwt_server, "root-secret").get(f"/productOrder/{order_id}").status_code == 200


def test_a_jwt_that_is_not_right_in_any_way_is_refused(jwt_server, idp):
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = idp.keys["key-1"].public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def hs256(secret: bytes) -> str:  # the algorithm-confusion attack (PyJWT will not even make one: by hand)
        head = jwt.utils.base64url_encode(json.dumps({"alg": "HS256", "kid": "key-1"}).encode())
        body = jwt.utils.base64url_encode(json.dumps({"iss": ISSUER, "aud": AUDIENCE, "sub": "a", "exp": int(time.time()) + 300, "roles": ["om:admin"]}).encode())
        return (head + b"." + body + b"." + jwt.utils.base64url_encode(hmac.new(secret, head + b"." + body, hashlib.sha256).digest())).decode()

    unsigned = jwt.utils.base64url_encode(json.dumps({"alg": "none", "kid": "key-1"}).encode()).decode() + "." + jwt.utils.base64url_encode(
        json.dumps({"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": int(time.time()) + 300, "roles": ["om:admin"]}).encode()
    ).decode() + "."
    bad = {
        "expired": idp.token("a", ["om:admin"], exp=int(time.time()) - 3600),
        "another issuer": idp.token("a", ["om:admin"], iss="https://evil.example/"),
        "another audience": idp.token("a", ["om:admin"], aud="someone-else"),
        "signed by a key that is not the issuer's": idp.token("a", ["om:admin"], key=stranger),
        "HS256 keyed with the issuer's public key": hs256(public_pem),
        "alg none": unsigned,
        "no exp": jwt.encode({"iss": ISSUER, "aud": AUDIENCE, "sub": "a", "roles": ["om:admin"]}, idp.keys["key-1"], algorithm="RS256", headers={"kid": "key-1"}),
    }
    for why, token in bad.items():
        r = api(jwt_server, token).get("/productOrder")
        assert r.status_code == 401, why
        assert r.json()["code"] == "unauthorized" and r.headers["www-authenticate"] == 'Bearer error="invalid_token"', why
    # a valid token with no role of ours: known, but may not
    r = api(jwt_server, idp.token("a", ["admin", "om:superuser"])).get("/productOrder")
    assert r.status_code == 403 and "no role here" in r.json()["message"]


def test_a_rotated_key_is_fetched_when_a_token_names_it(jwt_server, idp):
    idp.add("key-2")  # the issuer starts signing with a new key after om serve fetched its keys
    token = idp.token("carol", ["om:viewer"], kid="key-2")
    first = api(jwt_server, token).get("/productOrder")
    assert first.status_code == 401 and "not one of the issuer's keys" in first.json()["message"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # the keys are fetched on a thread of their own
        if api(jwt_server, token).get("/productOrder").status_code == 200:
            break
        time.sleep(0.05)
    else:
        raise AssertionError("the rotated key was never fetched")
    assert idp.fetches == 2


def test_the_keys_are_not_fetched_again_for_every_unknown_key_id(idp):
    verifier = JwtVerifier(idp.config())
    for n in range(20):
        with pytest.raises(auth.Unauthenticated):
            verifier.caller(idp.token("x", ["om:viewer"], kid=f"made-up-{n}", key=idp.keys["key-1"]))
    time.sleep(0.5)
    assert idp.fetches <= 2  # the one at start, and at most one refresh per 30 s


def test_oauth2_configuration_is_checked(tmp_path):
    def load(text):
        path = tmp_path / "om.toml"
        path.write_text(text)
        return configuration.load(str(path), env={})

    cfg = load('[api.oauth2]\nissuer = "https://idp/"\naudience = "om"\njwks_url = "https://idp/jwks"\nrole_prefix = "om:"\n')
    assert cfg.api_oauth2.issuer == "https://idp/" and cfg.api_oauth2.algorithms == ("RS256", "ES256") and cfg.api_oauth2.role_prefix == "om:"
    with pytest.raises(configuration.ConfigError, match="api.oauth2: needs jwks_url"):
        load('[api.oauth2]\nissuer = "https://idp/"\naudience = "om"\n')
    with pytest.raises(configuration.ConfigError, match="a shared secret is not a key we take"):
        load('[api.oauth2]\nissuer = "i"\naudience = "om"\njwks_url = "https://idp/jwks"\nalgorithms = ["HS256"]\n')
    with pytest.raises(configuration.ConfigError, match="api.oauth2.jwks_url"):
        load('[api.oauth2]\nissuer = "i"\naudience = "om"\njwks_url = "file:///etc/passwd"\n')
    with pytest.raises(configuration.ConfigError, match="api.public_uri: unknown setting"):
        load('[api]\npublic_uri = "https://om.example.com"\n')


# ---- hrefs ----------------------------------------------------------------------------------------


def test_with_a_public_url_a_forged_host_header_does_not_move_the_hrefs(tmp_path):
    server = Server(tmp_path, settings=Settings(public_url="https://om.example.com"))
    try:
        client = api(server, "cpq-secret-1")
        r = client.post("/productOrder", json=order_body(), headers={"Host": "evil.example"})
        assert r.status_code == 201
        assert r.headers["location"] == r.json()["href"] == f"https://om.example.com{PREFIX}/v4/productOrder/{r.json()['id']}"
        listed = client.get("/productOrder", headers={"Host": "evil.example"}).json()
        assert all(o["href"].startswith("https://om.example.com/") for o in listed)
    finally:
        server.close()


def test_the_public_url_is_read_from_the_configuration(tmp_path):
    path = tmp_path / "om.toml"
    path.write_text('[api]\npublic_url = "https://om.example.com/"\nhub_callbacks = ["cpq.example.com", "10.20.0.0/16"]\n')
    cfg = configuration.load(str(path), env={})
    assert cfg.api_public_url == "https://om.example.com" and cfg.api_hub_callbacks == ("cpq.example.com", "10.20.0.0/16")
    path.write_text('[api]\nhub_callbacks = ["http://cpq.example.com/x"]\n')
    with pytest.raises(configuration.ConfigError, match="neither a host name nor a network"):
        configuration.load(str(path), env={})


# ---- /hub callbacks (SSRF) ------------------------------------------------------------------------


def fake_dns(table):
    return lambda host, port: table[host]


def test_events_never_go_to_link_local_or_unspecified_addresses():
    dns = fake_dns({"metadata.evil.example": ["169.254.169.254"], "cpq.example.com": ["192.0.2.10"], "v6.evil.example": ["fe80::1"], "localhost": ["127.0.0.1"]})
    assert "link-local" in ANY.refusal("http://169.254.169.254/latest/meta-data/", lambda h, p: [h])
    assert "link-local" in ANY.refusal("http://metadata.evil.example/", dns)  # a name that resolves there
    assert "link-local" in ANY.refusal("http://v6.evil.example/", dns)
    assert "link-local" in ANY.refusal("http://[::ffff:169.254.169.254]/", lambda h, p: [h])
    assert "unspecified" in ANY.refusal("http://0.0.0.0:8080/", lambda h, p: [h])
    assert ANY.refusal("http://cpq.example.com/listener", dns) is None
    assert ANY.refusal("http://localhost:9000/listener", dns) is None  # the demo's listener
    assert "does not resolve" in ANY.refusal("http://no-such-host.invalid/", lambda h, p: (_ for _ in ()).throw(OSError("no")))


def test_a_listed_deployment_sends_events_only_to_its_hosts_and_networks():
    policy = CallbackPolicy.of(["cpq.example.com", "10.20.0.0/16"])
    dns = fake_dns({"cpq.example.com": ["192.0.2.10"], "billing.internal": ["10.20.3.4"], "admin.internal": ["10.99.0.1"], "127.0.0.1": ["127.0.0.1"]})
    assert policy.refusal("https://cpq.example.com/events", dns) is None
    assert policy.refusal("http://billing.internal:8080/events", dns) is None
    assert "not in [api] hub_callbacks" in policy.refusal("http://admin.internal/", dns)
    assert "not in [api] hub_callbacks" in policy.refusal("http://127.0.0.1:8080/callbacks/x", dns)
    with pytest.raises(ValueError):
        CallbackPolicy.of(["https://cpq.example.com/"])


def test_subscribing_a_metadata_address_is_refused_with_a_tmf_error(tmp_path):
    server = Server(tmp_path, settings=Settings(hub_callbacks=CallbackPolicy.of(["127.0.0.1/32"])))
    try:
        client = server.client("submitter")
        r = client.post("/hub", {"callback": "http://169.254.169.254/latest/meta-data/"}, kind="hub")
        assert r.status_code == 400 and r.json()["code"] == "callbackRefused" and r.json()["referenceError"].endswith("#/callback")
        r = client.post("/hub", {"callback": "http://10.0.0.1/x"}, kind="hub")
        assert r.status_code == 400 and "not in [api] hub_callbacks" in r.json()["message"]
        assert client.post("/hub", {"callback": "http://127.0.0.1:9/listener"}, kind="hub").status_code == 201
    finally:
        server.close()


def test_a_delivery_to_a_refused_address_is_not_sent_and_stays_due():
    from om_dsl.embedded.runner import post_delivery

    error = post_delivery((1, "EVT-1", "http://169.254.169.254/latest/", {"eventId": "EVT-1"}, 0), timeout_s=0.5)
    assert error.startswith("not sent:") and "link-local" in error


def test_om_serve_takes_jwts_and_the_other_settings_from_its_configuration(tmp_path, idp):
    from om_dsl.cli.operations import api_access

    path = tmp_path / "om.toml"
    path.write_text(
        f'[api]\npublic_url = "https://om.example.com"\nhub_callbacks = ["10.0.0.0/8"]\n'
        f'[api.oauth2]\nissuer = "{ISSUER}"\naudience = "{AUDIENCE}"\njwks_url = "{idp.url}"\nrole_prefix = "om:"\n'
    )
    callers, settings = api_access(configuration.load(str(path), env={}))
    assert callers.caller("Bearer " + idp.token("dana", ["om:operator"])) == auth.Caller("dana", "operator")
    assert settings.public_url == "https://om.example.com"
    assert "not in [api] hub_callbacks" in settings.hub_callbacks.refusal("http://127.0.0.1/x")


def test_a_temporal_delivery_to_a_refused_address_is_not_sent_either():
    pytest.importorskip("temporalio")
    from om_dsl.temporal.activities import Activities

    error = Activities(None, None, timeout_s=0.5)._post("http://169.254.169.254/latest/", "EVT-1", {"eventId": "EVT-1"})
    assert error.startswith("not sent:") and "link-local" in error  # (the event waits in the listener's queue, tried again)
