"""The deployment configuration: read, and every mistake named with its key."""

from __future__ import annotations

import pytest

from om_dsl.systems.config import Config, ConfigError, load


def write(tmp_path, text: str) -> str:
    path = tmp_path / "om.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_no_file_means_everything_is_simulated(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = load(env={})
    assert cfg == Config(None) and cfg.system("inventory").adapter == "simulated"


def test_a_full_configuration(tmp_path):
    path = write(
        tmp_path,
        """
[engine]
callback_url = "http://127.0.0.1:8790/callbacks"

[systems.inventory]
adapter = "http"
base_url = "$INVENTORY_URL"
timeout = "10s"
retryable_status = [409]
headers = { Authorization = "$INVENTORY_TOKEN" }

[systems.inventory.operations.reserve_port]
path = "/ports/reservations"
outputs = { port_id = "portId" }

[systems.voice]
adapter = "python"
target = "acme_adapters.voice:call"
""",
    )
    cfg = load(path, env={"INVENTORY_URL": "https://inventory.example.net/api/", "INVENTORY_TOKEN": "Bearer s3cret"}, known_systems={"inventory", "voice", "network"})
    inv = cfg.system("inventory")
    assert inv.base_url == "https://inventory.example.net/api" and inv.timeout_ms == 10_000
    assert inv.headers == {"Authorization": "Bearer s3cret"} and inv.retryable_status == (409,)
    assert inv.operations["reserve_port"].path == "/ports/reservations" and inv.operations["reserve_port"].outputs == {"port_id": "portId"}
    assert cfg.system("voice").target == "acme_adapters.voice:call"
    assert cfg.system("network").adapter == "simulated" and cfg.callback_url == "http://127.0.0.1:8790/callbacks"


@pytest.mark.parametrize(
    "text,message",
    [
        ("[systems.inventory]\nadapter = \"http\"\n", "systems.inventory: an http system needs a base_url"),
        ("[systems.inventory]\nbase_url = \"ftp://x\"\n", "systems.inventory.base_url: 'ftp://x' is not an http(s) URL"),
        ("[systems.inventory]\nbase_url = \"http://x\"\ntimeout = \"10x\"\n", "systems.inventory.timeout: '10x' is not a duration"),
        ("[systems.inventory]\nbase_url = \"http://x\"\ntimeout = \"0s\"\n", "systems.inventory.timeout: '0s' is not a duration"),
        ("[systems.inventory]\nbase_url = \"http://x\"\ntimeout = \"1w\"\n", "systems.inventory.timeout: '1w' is not a duration"),
        ("[systems.inventory]\nbase_url = \"http://x\"\ntimeout = 10\n", "systems.inventory.timeout: 10 is not a duration"),
        ("[systems.inventory]\nbase_url = \"$NOPE\"\n", "systems.inventory.base_url: the environment variable NOPE is not set"),
        ("[systems.inventory]\nbase_url = \"http://x\"\nretryable_status = [503]\n", "systems.inventory.retryable_status: must be a list of 4xx status codes"),
        ("[systems.inventory]\nbase_url = \"http://x\"\ncolour = 1\n", "systems.inventory.colour: unknown setting"),
        ("[systems.inventry]\nbase_url = \"http://x\"\n", "systems.inventry: no system of that name in the catalog"),
        ("[systems.voice]\nadapter = \"python\"\n", "systems.voice: a python system needs a target"),
        ("[systems.voice]\nadapter = \"python\"\ntarget = \"not a target\"\n", "systems.voice.target: 'not a target' is not \"package.module:function\""),
        ("[systems.voice]\nadapter = \"carrier-pigeon\"\n", "systems.voice.adapter: must be one of simulated, http, python"),
        ("[systems.inventory.operations.reserve_port]\nmethod = \"GET\"\n", "systems.inventory.operations.reserve_port.method: must be POST, PUT or PATCH"),
        ("[engine]\ncallback_url = 7\n", "engine.callback_url: must be a non-empty string"),
        ("[systems\n", "Expected ']'"),
    ],
)
def test_mistakes_name_file_and_key(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load(path, env={}, known_systems={"inventory", "voice"})
    assert str(info.value).startswith(f"{path}: ") and message in str(info.value)


def test_a_named_file_that_is_missing_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="no such configuration file"):
        load(str(tmp_path / "nope.toml"), env={})


def test_http_by_default_needs_a_base_url_for_the_systems_not_listed(tmp_path):
    path = write(tmp_path, '[defaults]\nadapter = "http"\n\n[systems.inventory]\nbase_url = "http://inv"\n')
    with pytest.raises(ConfigError, match=r'defaults: adapter = "http" needs a base_url for voice'):
        load(path, env={}, known_systems={"inventory": set(), "voice": set()})
    path = write(tmp_path, '[defaults]\nadapter = "http"\nbase_url = "http://127.0.0.1:8700"\n')
    cfg = load(path, env={}, known_systems={"inventory": set(), "voice": set()})
    assert cfg.system("voice").adapter == "http" and cfg.system("voice").base_url == "http://127.0.0.1:8700"


def test_an_operation_the_catalog_lacks_is_named(tmp_path):
    path = write(tmp_path, '[systems.inventory]\nbase_url = "http://inv"\n\n[systems.inventory.operations.reserve_prot]\npath = "/p"\n')
    with pytest.raises(ConfigError, match=r"systems.inventory.operations.reserve_prot: inventory has no operation reserve_prot \(its operations: check_address, reserve_port\)"):
        load(path, env={}, known_systems={"inventory": {"check_address", "reserve_port"}})


# ---- [api]: the API's bearer tokens, hashes only ------------------------------------------------


def test_api_tokens_by_hash_or_from_the_environment(tmp_path):
    import hashlib

    digest = hashlib.sha256(b"cpq-token").hexdigest()
    path = tmp_path / "om.toml"
    path.write_text(f'[api]\ntokens = [\n  {{ name = "cpq", role = "submitter", hash = "sha256:{digest}" }},\n  {{ name = "noc", role = "operator", token = "$NOC_TOKEN" }},\n]\n')
    config = load(str(path), env={"NOC_TOKEN": "noc-token"})
    assert [(t.name, t.role) for t in config.api_tokens] == [("cpq", "submitter"), ("noc", "operator")]
    assert config.api_tokens[0].digest == hashlib.sha256(b"cpq-token").digest()
    assert config.api_tokens[1].digest == hashlib.sha256(b"noc-token").digest()
    assert "noc-token" not in repr(config) and digest not in repr(config)


@pytest.mark.parametrize(
    "entry, message",
    [
        ('{ name = "a", role = "submitter", token = "plain-secret" }', "a token is never written in a file"),
        ('{ name = "a", role = "boss", hash = "sha256:' + "0" * 64 + '" }', "is not a role"),
        ('{ name = "a", role = "viewer", hash = "md5:abc" }', "must be sha256:"),
        ('{ name = "a", role = "viewer" }', "give the token's hash"),
        ('{ name = "a", role = "viewer", token = "$MISSING" }', "MISSING is not set"),
    ],
)
def test_api_token_mistakes_name_the_key(tmp_path, entry, message):
    path = tmp_path / "om.toml"
    path.write_text(f"[api]\ntokens = [{entry}]\n")
    with pytest.raises(ConfigError, match="api.tokens") as exc:
        load(str(path), env={})
    assert message in str(exc.value)
    assert "plain-secret" not in str(exc.value)
