import { assertEquals } from "../runtime/assert.ts";
import { checkLayers, relativeImports, resolveSpecifier } from "./check_layers.ts";

const messages = (graph: Record<string, string[]>) => checkLayers(graph).map((v) => v.message);

Deno.test("check_layers passes a clean graph: downward, same-layer, top-level mod.ts and tests/", () => {
  assertEquals(
    messages({
      "runtime/ops.ts": [],
      "runtime/tensor.ts": ["runtime/ops.ts"],
      "runtime/tensor_test.ts": ["runtime/tensor.ts", "runtime/assert.ts"],
      "models/graph.ts": ["runtime/tensor.ts", "datasets/image.ts"],
      "methods/_quant/recon.ts": ["methods/_quant/scheme.ts", "models/graph.ts"],
      "methods/_quant/scheme.ts": [],
      "methods/brecq.ts": ["methods/_quant/recon.ts"],
      "methods/_quant/deep/x.ts": ["methods/_quant/scheme.ts"],
      "papers/runner.ts": ["methods/brecq.ts"],
      "cli/reproduce.ts": ["papers/runner.ts", "cli/_flags.ts"],
      "cli/_flags.ts": [],
      "tests/e2e_test.ts": ["cli/reproduce.ts", "mod.ts"],
      "mod.ts": ["runtime/tensor.ts", "papers/runner.ts"],
      "datasets/image.ts": [],
    }),
    [],
  );
});

Deno.test("check_layers reports an upward import, a test file's included", () => {
  assertEquals(
    messages({
      "methods/cli_quantize.ts": ["papers/runner.ts", "runtime/ops.ts"],
      "papers/runner.ts": [],
      "runtime/ops.ts": [],
      "runtime/ops_test.ts": ["models/fixtures.ts"],
      "models/fixtures.ts": [],
      "reports/view.ts": ["mod.ts", "tests/helpers.ts"],
      "mod.ts": [],
      "tests/helpers.ts": [],
    }),
    [
      "methods/cli_quantize.ts → papers/runner.ts: methods may not import papers",
      "reports/view.ts → mod.ts: reports may not import the top-level mod.ts",
      "reports/view.ts → tests/helpers.ts: reports may not import tests",
      "runtime/ops_test.ts → models/fixtures.ts: runtime may not import models",
    ],
  );
});

Deno.test("check_layers reports each import cycle once, as a path from its first file", () => {
  const found = checkLayers({
    "runtime/a.ts": ["runtime/b.ts"],
    "runtime/b.ts": ["runtime/c.ts", "runtime/a.ts"],
    "runtime/c.ts": ["runtime/a.ts"],
    "runtime/d.ts": ["runtime/d.ts"],
    "runtime/e.ts": ["runtime/a.ts"],
  });
  assertEquals(found.map((v) => v.kind), ["cycle", "cycle", "cycle"]);
  assertEquals(found.map((v) => v.message).sort(), [
    "import cycle: runtime/a.ts → runtime/b.ts → runtime/a.ts",
    "import cycle: runtime/a.ts → runtime/b.ts → runtime/c.ts → runtime/a.ts",
    "import cycle: runtime/d.ts → runtime/d.ts",
  ]);
});

Deno.test("check_layers reports a private file or folder imported from outside its folder", () => {
  assertEquals(
    messages({
      "methods/_quant/recon.ts": [],
      "methods/_testing.ts": [],
      "papers/runner.ts": ["methods/_quant/recon.ts", "methods/_testing.ts"],
      "methods/sub/x.ts": ["methods/_quant/recon.ts", "methods/_testing.ts"],
      "tests/e2e_test.ts": ["methods/_testing.ts"],
      "mod.ts": ["methods/_quant/recon.ts"],
    }),
    [
      "mod.ts → methods/_quant/recon.ts: private to methods/",
      "papers/runner.ts → methods/_quant/recon.ts: private to methods/",
      "papers/runner.ts → methods/_testing.ts: private to methods/",
      "tests/e2e_test.ts → methods/_testing.ts: private to methods/",
    ],
  );
  // a private folder inside a private folder: the inner one is private to the outer one
  assertEquals(
    messages({
      "methods/_quant/_inner/k.ts": [],
      "methods/_quant/recon.ts": ["methods/_quant/_inner/k.ts"],
      "methods/brecq.ts": ["methods/_quant/_inner/k.ts"],
    }),
    ["methods/brecq.ts → methods/_quant/_inner/k.ts: private to methods/_quant/"],
  );
});

Deno.test("check_layers reports a file outside every layer once", () => {
  assertEquals(messages({ "scripts/x.ts": ["runtime/ops.ts"], "runtime/ops.ts": [] }), [
    "scripts/x.ts: in no layer (top-level folders: runtime, datasets, models, methods, papers, " +
    "reports, cli, tests; or mod.ts)",
  ]);
});

Deno.test("relativeImports finds import, export, type and dynamic imports, not comments", () => {
  const source = [
    `import { a } from "./a.ts";`,
    `import type {`,
    `  B,`,
    `} from "../b/b.ts";`,
    `export * from "./c.ts";`,
    `export { d } from './d.ts';`,
    `import "./side.ts";`,
    `const e = await import("./e.ts");`,
    `const f = await import(name);`,
    `import { z } from "zod";`,
    `import * as ort from "npm:onnxruntime-node";`,
    `// import { g } from "./commented.ts";`,
    `/** @example import { h } from "./doc.ts"; */`,
    `const url = "http://example.com/x"; // not a comment start inside the string`,
  ].join("\n");
  assertEquals(relativeImports(source), [
    "./a.ts",
    "../b/b.ts",
    "./c.ts",
    "./d.ts",
    "./side.ts",
    "./e.ts",
  ]);
});

Deno.test("resolveSpecifier resolves against the importing file and refuses to leave the root", () => {
  assertEquals(
    resolveSpecifier("methods/_quant/recon.ts", "../../runtime/ops.ts"),
    "runtime/ops.ts",
  );
  assertEquals(resolveSpecifier("mod.ts", "./runtime/mod.ts"), "runtime/mod.ts");
  assertEquals(resolveSpecifier("datasets/x.ts", "../../shared/assets/a.json"), null);
});
