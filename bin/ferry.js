#!/usr/bin/env node
// Entry point for `npx ferry`: Node 24 runs the TypeScript sources directly (type stripping).
const [major] = process.versions.node.split(".").map(Number);
if (major < 24) {
  process.stderr.write(
    `ferry needs Node.js 24 or later; this is ${process.version}. Run it through npx (npx ferry …), which uses the Node 24 installed by npm ci.\n`,
  );
  process.exit(2);
}
// Node caches compiled (and type-stripped) modules between runs: about 0.1 s off every command.
const { enableCompileCache } = await import("node:module");
enableCompileCache?.();
const { main } = await import("../src/cli/main.ts");
process.exitCode = await main(process.argv.slice(2));
