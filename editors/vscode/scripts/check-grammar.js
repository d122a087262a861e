// Tokenize every .om file with VS Code's own TextMate engine (vscode-textmate + Oniguruma).
const fs = require('fs'), path = require('path');
const vsctm = require('vscode-textmate'), oniguruma = require('vscode-oniguruma');
const wasm = fs.readFileSync(require.resolve("vscode-oniguruma/release/onig.wasm")).buffer;
const onigLib = oniguruma.loadWASM(wasm).then(() => ({
  createOnigScanner: (p) => new oniguruma.OnigScanner(p), createOnigString: (s) => new oniguruma.OnigString(s) }));
const grammarPath = process.argv[2];
const registry = new vsctm.Registry({ onigLib, loadGrammar: async () => vsctm.parseRawGrammar(fs.readFileSync(grammarPath, 'utf8'), grammarPath) });
registry.loadGrammar('source.om').then((g) => {
  let files = 0, lines = 0, open = 0, invalid = 0, unscoped = 0;
  for (const f of process.argv.slice(3)) {
    files++;
    let state = vsctm.INITIAL;
    for (const line of fs.readFileSync(f, 'utf8').split('\n')) {
      lines++;
      const r = g.tokenizeLine(line, state);
      for (const t of r.tokens) {
        const text = line.slice(t.startIndex, t.endIndex);
        if (t.scopes.some((s) => s.startsWith('invalid'))) { invalid++; console.log('invalid', f, JSON.stringify(text)); }
        if (t.scopes.length === 1 && text.trim()) unscoped++;
      }
      state = r.ruleStack;
    }
    if (state.depth > 1) { open++; console.log('open region at end of', f); }
  }
  console.log(JSON.stringify({ files, lines, open, invalid, unscoped_tokens: unscoped }));
});
