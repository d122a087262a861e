"""Callbacks are authenticated: each asynchronous call carries its own
callback URL with an unguessable token (HMAC of its correlation id under
the deployment's secret). A callback without it is refused (401), counted,
and can neither complete, fail nor pre-empt the call: the genuine callback
that comes later is applied."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from click.testing import CliRunner

from om_dsl.cli import main
from om_dsl.engine import state as S
from om_dsl.rules.generated import GeneratedRules
from om_dsl.simulate.server import SimulatorServer
from om_dsl.systems import callback_auth
from om_dsl.systems import config as configuration
from om_dsl.systems.config import Config, SystemConfig
from om_dsl.systems.receiver import CallbackReceiver

from support.engine_helpers import ACME, make_runner, operate, order_text

KEY = "ORD-1003:3/D6:port_number:1"  # predictable: ORDER:TASK:attempt
SECRET = "s" * 64


def post(url: str, body, headers=None):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="POST", headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def get(url: str):
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


@pytest.fixture
def ported_phone(tmp_path):
    """ORD-1003 with voice over HTTP (the simulator, which holds its callbacks back), waiting for port_number's callback."""
    catalog = GeneratedRules(ACME).catalog
    with SimulatorServer(catalog, str(tmp_path / "systems.db"), callback_delay_ms=3_600_000) as sim:
        runner = make_runner(tmp_path)
        with CallbackReceiver(str(tmp_path / "om.db"), clock=runner.clock.now) as receiver:
            runner.systems.config = Config("test", "simulated", receiver.url, {"voice": SystemConfig("voice", "http", base_url=sim.url)})
            order_id, _, _ = runner.submit(order_text("fiber-tv-ported-phone.json"))
            operate(runner)
            assert runner.store.load(order_id).tasks["3/D6:port_number"].status == S.RUNNING
            [pushed] = get(sim.url + "/_callbacks?all=1")
            yield runner, receiver, pushed["url"]


def test_a_forged_callback_is_refused_and_the_genuine_one_is_applied(ported_phone):
    runner, receiver, genuine_url = ported_phone
    # The simulator echoes the URL the call gave: the receiver's, with the call's token.
    assert genuine_url == f"{receiver.url}/{callback_auth.token(runner.store.callback_secret(), KEY)}"
    forged = {"correlation_id": KEY, "status": "failed", "message": "forged"}
    other = callback_auth.token(runner.store.callback_secret(), "ORD-1003:3/D6:port_number:2")
    attempts = [
        receiver.url,  # no token (before the fix: 202, and the call failed)
        receiver.url + "/" + "0" * 64,  # a made-up token
        receiver.url + "/" + other,  # the token of another correlation id
        receiver.url + "/" + genuine_url.rsplit("/", 1)[1][:-1],  # nearly the right one
    ]
    for url in attempts:
        status, answer = post(url, forged, {"Idempotency-Key": f"callback:{KEY}"})
        assert status == 401, (url, answer)
    runner.drive()
    port = runner.store.load("ORD-1003").tasks["3/D6:port_number"]
    assert port.status == S.RUNNING and not port.error
    assert runner.store.db.execute("SELECT COUNT(*) FROM inbox").fetchone()[0] == 0  # nothing of them kept
    # Counted, for operators: durably in the store, and by the receiver.
    assert runner.store.meta("callbacks_refused") == "4"
    last = json.loads(runner.store.meta("callback_refused_last"))
    assert last["correlation_id"] == KEY and last["from"] == "127.0.0.1" and "forged" not in json.dumps(last)
    assert get(receiver.url.replace("/callbacks", "/_health")) == {"ok": True, "refused": 4}

    # The genuine callback, under the id the forger tried to take, is applied.
    status, answer = post(genuine_url, {"correlation_id": KEY, "status": "ok", "outputs": {}}, {"Idempotency-Key": f"callback:{KEY}"})
    assert (status, answer["duplicate"]) == (202, False)
    operate(runner)
    assert runner.store.load("ORD-1003").tasks["3/D6:port_number"].status == S.COMPLETED
    assert runner.store.load("ORD-1003").status == S.ORDER_COMPLETED


def test_a_callback_message_must_be_a_string(ported_phone):
    runner, receiver, genuine_url = ported_phone
    for message in ({"a": 1}, [1], 7, True):
        status, answer = post(genuine_url, {"correlation_id": KEY, "status": "failed", "message": message})
        assert (status, answer) == (400, {"error": "message is a string (why the operation failed)"})
    assert runner.store.db.execute("SELECT COUNT(*) FROM inbox").fetchone()[0] == 0
    status, _ = post(genuine_url, {"correlation_id": KEY, "status": "failed", "message": "not portable"})
    assert status == 202
    runner.drive()
    port = runner.store.load("ORD-1003").tasks["3/D6:port_number"]
    assert port.status == S.FATALLY_FAILED and port.error.startswith("not portable")


def test_one_calls_system_cannot_take_the_callback_id_of_another_call(tmp_path):
    with CallbackReceiver(str(tmp_path / "om.db")) as receiver:
        secret = receiver.secret
        a, b = "ORD-1:1/D1:x:1", "ORD-2:1/D1:x:1"
        url_a = callback_auth.url_with_token(receiver.url, a, secret)
        status, answer = post(url_a, {"correlation_id": a}, {"Idempotency-Key": f"callback:{b}"})
        assert status == 202 and answer["received"] == f"callback:{a}#callback:{b}"
        status, answer = post(callback_auth.url_with_token(receiver.url, b, secret), {"correlation_id": b})
        assert (status, answer["duplicate"]) == (202, False)
        status, answer = post(url_a, {"correlation_id": a}, {"Idempotency-Key": f"callback:{b}"})
        assert (status, answer["duplicate"]) == (200, True)


def test_the_store_keeps_one_secret_and_a_configured_one_wins(tmp_path):
    runner = make_runner(tmp_path)
    made = runner.store.callback_secret()
    assert len(made) == 64 and runner.store.callback_secret() == made
    assert runner.systems.secret() == made
    runner.systems.config = Config("test", callback_secret=SECRET)
    assert runner.systems.secret() == SECRET
    with CallbackReceiver(str(tmp_path / "om.db"), secret=SECRET) as receiver:
        assert receiver.secret == SECRET


def test_the_secret_comes_from_the_configuration_a_file_or_the_environment(tmp_path, monkeypatch):
    toml = tmp_path / "om.toml"
    toml.write_text('[engine]\ncallback_secret = "$MY_SECRET"\n')
    assert configuration.load(str(toml), env={"MY_SECRET": SECRET}).callback_secret == SECRET
    (tmp_path / "secret").write_text(SECRET + "\n")
    toml.write_text(f'[engine]\ncallback_secret_file = "{tmp_path / "secret"}"\n')
    assert configuration.load(str(toml), env={}).callback_secret == SECRET
    toml.write_text("")
    assert configuration.load(str(toml), env={"OM_CALLBACK_SECRET": SECRET}).callback_secret == SECRET
    (tmp_path / "empty").mkdir()
    monkeypatch.chdir(tmp_path / "empty")  # no om.toml here: the environment's secret all the same
    assert configuration.load(None, env={"OM_CALLBACK_SECRET": SECRET}).callback_secret == SECRET
    with pytest.raises(configuration.ConfigError, match="environment: OM_CALLBACK_SECRET: the callback secret has 3 characters"):
        configuration.load(None, env={"OM_CALLBACK_SECRET": "abc"})
    # Never in a repr (a log line, a traceback's locals).
    assert SECRET not in repr(configuration.load(str(toml), env={"OM_CALLBACK_SECRET": SECRET}))
    toml.write_text('[engine]\ncallback_secret = "short"\n')
    with pytest.raises(configuration.ConfigError) as exc:
        configuration.load(str(toml), env={})
    assert "engine.callback_secret: the callback secret has 5 characters; at least 32 are needed" in str(exc.value) and "short" not in str(exc.value)
    toml.write_text(f'[engine]\ncallback_secret_file = "{tmp_path / "missing"}"\n')
    with pytest.raises(configuration.ConfigError, match="engine.callback_secret_file: cannot read"):
        configuration.load(str(toml), env={})


def test_an_async_http_call_without_a_secret_fails_with_a_reason(tmp_path):
    from om_dsl.systems.adapters import HttpSystem

    result = HttpSystem(SystemConfig("voice", "http", base_url="http://127.0.0.1:9"), "http://127.0.0.1:9/callbacks").call("port_number", {}, KEY, [], True, None)
    assert result.status == "error" and not result.retryable and "no callback secret is configured" in result.message


def test_a_receiver_needs_a_secret():
    class Sink:
        def receive(self, *a):
            return True

        def close(self):
            pass

    with pytest.raises(ValueError, match="callback secret"):
        CallbackReceiver(Sink())


def test_a_temporal_worker_with_callbacks_needs_the_deployment_secret(tmp_path, monkeypatch):
    pytest.importorskip("temporalio")
    monkeypatch.delenv("OM_CALLBACK_SECRET", raising=False)
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(main, ["worker", "--engine", "temporal", "--listen", "127.0.0.1:0", "--address", "127.0.0.1:9"])
    assert r.exit_code == 2 and "callbacks over HTTP need the deployment's callback secret" in r.output, r.output
