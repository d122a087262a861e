// The om extension: starts `om lsp` (configurable: om.server.command) over stdio.
const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const [command, ...args] = vscode.workspace.getConfiguration("om").get("server.command", ["om", "lsp"]);
  const serverOptions = { command, args, transport: TransportKind.stdio };
  const clientOptions = { documentSelector: [{ scheme: "file", language: "om" }] };
  client = new LanguageClient("om", "om language server", serverOptions, clientOptions);
  client.start();
  context.subscriptions.push({ dispose: () => client && client.stop() });
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
