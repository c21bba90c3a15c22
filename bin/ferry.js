#!/usr/bin/env node
// Entry point for `npx ferry`: Node 24 runs the TypeScript sources directly (type stripping).
const [major] = process.versions.node.split(".").map(Number);
if (major < 24) {
  process.stderr.write(
    `ferry needs Node.js 24 or later; this is ${process.version}. Run it through npx (npx ferry …), which uses the Node 24 installed by npm ci.\n`,
  );
  process.exit(2);
}
const { main } = await import("../src/cli/main.ts");
process.exitCode = await main(process.argv.slice(2));
