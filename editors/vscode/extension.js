// The archc extension: the `archc` language for *.arch files (package.json contributes the
// grammar and the language configuration) and the archc language server, `archc lsp`,
// started over stdio. Plain JavaScript, so there is no build step.
"use strict";

const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

let client;

function serverOptions() {
  // A workspace can point at its own archc, e.g. .venv/bin/archc.
  const command = vscode.workspace.getConfiguration("archc").get("command") || "archc";
  return { command, args: ["lsp"], transport: TransportKind.stdio };
}

function activate(context) {
  const clientOptions = {
    documentSelector: [
      { scheme: "file", language: "archc" },
      { scheme: "untitled", language: "archc" },
    ],
  };
  client = new LanguageClient("archc", "archc language server", serverOptions(), clientOptions);
  context.subscriptions.push(client);
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
