// Type-aware lint (typescript-eslint strictTypeChecked) plus the layer rule: imports point down
// only. Layers from top to bottom: cli/daemon/web → backup → repo and destination → storage;
// catalog is a leaf below destination. See docs/architecture.md.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

/** For each layer, the layers it must not import. */
const FORBIDDEN = {
  storage: ["destination", "repo", "backup", "catalog", "cli", "daemon", "web"],
  catalog: ["storage", "destination", "repo", "backup", "cli", "daemon", "web"],
  destination: ["repo", "backup", "cli", "daemon", "web"],
  repo: ["destination", "catalog", "backup", "cli", "daemon", "web"],
  backup: ["cli", "daemon", "web"],
};

const layerRules = Object.entries(FORBIDDEN).map(([layer, banned]) => ({
  files: [`src/${layer}/**/*.ts`],
  rules: {
    "no-restricted-imports": [
      "error",
      {
        patterns: banned.map((other) => ({
          group: [`**/${other}/**`, `**/${other}`],
          message: `src/${layer}/ must not import src/${other}/: imports point down the layers (docs/architecture.md).`,
        })),
      },
    ],
  },
}));

export default tseslint.config(
  { ignores: ["node_modules/", "dist/", ".servers/", "bin/"] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": [
        "error",
        {
          // node:test's describe/it return promises the runner itself awaits.
          allowForKnownSafeCalls: [
            { from: "package", package: "node:test", name: ["describe", "it", "test", "suite"] },
          ],
        },
      ],
      "@typescript-eslint/restrict-template-expressions": ["error", { allowNumber: true }],
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
    },
  },
  { files: ["eslint.config.js"], ...tseslint.configs.disableTypeChecked },
  ...layerRules,
);
