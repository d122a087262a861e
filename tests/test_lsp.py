"""`om lsp` over its real protocol: JSON-RPC with Content-Length framing on stdio."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
from pathlib import Path

import pygls  # noqa: E402,F401 - in the test extra: a missing pygls fails, it is not skipped
import pytest

from support import PATIENCE_S

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
ACME = sorted((SPECS / "acme").glob("*.om"))
START = "import om_dsl.cli.lsp; from om_dsl.cli import main; main(['lsp'])"


def uri(path: Path) -> str:
    return path.resolve().as_uri()


class Client:
    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, "-c", START], stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=ROOT)
        self.next_id = 0
        self.messages: queue.Queue = queue.Queue()
        self.diagnostics: dict[str, list] = {}
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        out = self.proc.stdout
        while True:
            headers = {}
            while True:
                line = out.readline()
                if not line:
                    return
                line = line.strip()
                if not line:
                    break
                k, v = line.decode().split(":", 1)
                headers[k.lower()] = v.strip()
            self.messages.put(json.loads(out.read(int(headers["content-length"]))))

    def send(self, msg: dict) -> None:
        body = json.dumps({"jsonrpc": "2.0", **msg}).encode()
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def notify(self, method: str, params: dict) -> None:
        self.send({"method": method, "params": params})

    def _pump(self, until, timeout=PATIENCE_S):  # (a bound for a busy machine: the server's start, a whole catalog checked)
        while True:
            msg = self.messages.get(timeout=timeout)
            if msg.get("method") == "textDocument/publishDiagnostics":
                self.diagnostics[msg["params"]["uri"]] = msg["params"]["diagnostics"]
            if until(msg):
                return msg

    def request(self, method: str, params: dict):
        self.next_id += 1
        rid = self.next_id
        self.send({"id": rid, "method": method, "params": params})
        msg = self._pump(lambda m: m.get("id") == rid and "method" not in m)
        assert "error" not in msg, msg
        return msg["result"]

    def wait_diagnostics(self, for_uri: str):
        return self._pump(lambda m: m.get("method") == "textDocument/publishDiagnostics" and m["params"]["uri"] == for_uri)["params"]["diagnostics"]

    def sync(self):
        """Every notification sent before has been handled once a request returns."""
        self.request("textDocument/documentSymbol", {"textDocument": {"uri": uri(ACME[0])}})


@pytest.fixture(scope="module")
def client():
    c = Client()
    result = c.request(
        "initialize",
        {"processId": None, "rootUri": uri(SPECS), "workspaceFolders": [{"uri": uri(SPECS), "name": "specs"}], "capabilities": {}},
    )
    caps = result["capabilities"]
    for cap in ("definitionProvider", "referencesProvider", "hoverProvider", "completionProvider", "documentSymbolProvider", "documentFormattingProvider"):
        assert caps.get(cap), cap
    c.notify("initialized", {})
    for path in ACME:
        c.notify("textDocument/didOpen", {"textDocument": {"uri": uri(path), "languageId": "om", "version": 1, "text": path.read_text()}})
    c.sync()
    yield c
    assert c.request("shutdown", None) is None
    c.notify("exit", None)
    assert c.proc.wait(timeout=10) == 0


def pos(path: Path, needle: str, offset: int = 0, nth: int = 0) -> dict:
    lines = path.read_text().split("\n")
    hits = [(i, line.index(needle)) for i, line in enumerate(lines) if needle in line]
    line, col = hits[nth]
    return {"line": line, "character": col + offset}


def test_acme_is_clean(client):
    for path in ACME:
        assert client.diagnostics.get(uri(path)) == [], path


def test_definition_across_files(client):
    plans = SPECS / "acme" / "plans_add.om"
    result = client.request("textDocument/definition", {"textDocument": {"uri": uri(plans)}, "position": pos(plans, "FIBER_ACCESS_CFS", 2)})
    products = SPECS / "acme" / "products.om"
    assert [r["uri"] for r in result] == [uri(products)]
    assert result[0]["range"]["start"] == pos(products, "FIBER_ACCESS_CFS")
    # a system operation, in another file
    result = client.request("textDocument/definition", {"textDocument": {"uri": uri(plans)}, "position": pos(plans, "reserve_port(", 1)})
    assert result[0]["uri"] == uri(SPECS / "acme" / "systems.om")


def test_references(client):
    plans = SPECS / "acme" / "plans_add.om"
    result = client.request(
        "textDocument/references",
        {"textDocument": {"uri": uri(plans)}, "position": pos(plans, "FIBER_ACCESS_CFS"), "context": {"includeDeclaration": True}},
    )
    files = {Path(r["uri"]).name for r in result}
    assert {"products.om", "plans_add.om", "decomposition.om"} <= files
    # a task, referenced as a dependency and as `task.output`
    result = client.request(
        "textDocument/references",
        {"textDocument": {"uri": uri(plans)}, "position": pos(plans, "callout reserve_port", 9), "context": {"includeDeclaration": False}},
    )
    assert len(result) >= 3


def test_hover(client):
    plans = SPECS / "acme" / "plans_add.om"
    products = SPECS / "acme" / "products.om"
    text = client.request("textDocument/hover", {"textDocument": {"uri": uri(products)}, "position": pos(products, "speed_mbps", 1)})["contents"]["value"]
    assert "int in {100, 300, 1000} = 300" in text
    text = client.request("textDocument/hover", {"textDocument": {"uri": uri(plans)}, "position": pos(plans, "after check_address", 7)})["contents"]["value"]
    assert "callout check_address = inventory.check_address" in text
    text = client.request("textDocument/hover", {"textDocument": {"uri": uri(plans)}, "position": pos(plans, "plan FIBER_ACCESS_CFS", 6)})["contents"]["value"]
    assert "Fiber access" in text


def test_completion(client):
    plans = SPECS / "acme" / "plans_add.om"
    text = plans.read_text()
    p = pos(plans, "inventory.check_address", len("inventory."))
    labels = {i["label"] for i in client.request("textDocument/completion", {"textDocument": {"uri": uri(plans)}, "position": p})["items"]}
    assert {"check_address", "reserve_port"} <= labels and "HOME_FIBER" not in labels
    p = pos(plans, "callout check_address", 0)
    labels = {i["label"] for i in client.request("textDocument/completion", {"textDocument": {"uri": uri(plans)}, "position": p})["items"]}
    assert {"HOME_FIBER", "inventory", "callout", "field_ops", "address_id"} <= labels
    assert text  # unchanged


def test_document_symbols(client):
    plans = SPECS / "acme" / "plans_add.om"
    result = client.request("textDocument/documentSymbol", {"textDocument": {"uri": uri(plans)}})
    first = result[0]
    assert first["name"] == "plan FIBER_ACCESS_CFS on add"
    assert [c["name"] for c in first["children"]][:2] == ["check_address", "reserve_port"]


def test_formatting(client):
    products = SPECS / "acme" / "products.om"
    assert client.request("textDocument/formatting", {"textDocument": {"uri": uri(products)}, "options": {"tabSize": 2, "insertSpaces": True}}) == []
    queues = SPECS / "acme" / "systems.om"
    messy = "catalog acme\nqueue   scratch_q\n"
    fake = SPECS / "acme" / "zz_scratch.om"
    client.notify("textDocument/didOpen", {"textDocument": {"uri": uri(fake), "languageId": "om", "version": 1, "text": messy}})
    edits = client.request("textDocument/formatting", {"textDocument": {"uri": uri(fake)}, "options": {"tabSize": 2, "insertSpaces": True}})
    assert edits[0]["newText"] == "catalog acme\n\nqueue scratch_q\n" or "queue scratch_q\n" in edits[0]["newText"]
    client.notify("textDocument/didClose", {"textDocument": {"uri": uri(fake)}})
    client.sync()
    assert queues.exists()


def test_diagnostics_after_change(client):
    plans = SPECS / "acme" / "plans_add.om"
    u = uri(plans)
    original = plans.read_text()
    broken = original.replace("after reserve_port, ONT_RFS.ship_ont in bundle", "after reserve_port, ONT_RFS.ship_onte in bundle")
    assert broken != original
    client.notify("textDocument/didChange", {"textDocument": {"uri": u, "version": 2}, "contentChanges": [{"text": broken}]})
    diags = client.wait_diagnostics(u)
    assert [d["code"] for d in diags] == ["E107"]
    p = pos(plans, "ONT_RFS.ship_ont in bundle", len("ONT_RFS."))
    assert diags[0]["range"]["start"] == p
    assert diags[0]["range"]["end"] == {"line": p["line"], "character": p["character"] + len("ship_onte")}
    assert diags[0]["severity"] == 1 and "ship_ont" in diags[0]["message"]
    hover = client.request("textDocument/hover", {"textDocument": {"uri": u}, "position": p})
    assert "E107" in hover["contents"]["value"]
    client.notify("textDocument/didChange", {"textDocument": {"uri": u, "version": 3}, "contentChanges": [{"text": original}]})
    assert client.wait_diagnostics(u) == []


def test_a_read_of_another_line_refers_to_its_product_task_and_attribute_and_fallout_to_its_queue():
    from om_dsl.check import check_paths
    from om_dsl.lsp.analysis import Index

    index = Index(check_paths([str(ROOT / "specs")]))
    plans = str(ROOT / "specs" / "mobile" / "plans.om")

    def lines(key):
        return sorted(span.line for span in index.refs.get(key, []) if span.file.endswith("mobile/plans.om") or span.file == plans)

    assert len(lines(("mobile", "task", "SIM_RFS", "allocate_sim"))) >= 4  # the dependencies and the reads of its outputs
    assert lines(("mobile", "attribute", "SIM_RFS", "iccid"))  # `SIM_RFS.iccid in bundle`
    assert lines(("mobile", "attribute", "PORT_IN_RFS", "msisdn"))
    assert lines(("mobile", "queue", "porting_desk"))  # `fallout porting_desk`
    assert not lines(("mobile", "attribute", "SUBSCRIPTION_CFS", "SIM_RFS"))
