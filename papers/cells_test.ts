import { assert, assertEquals, assertThrows } from "../runtime/assert.ts";
import {
  BUDGETS,
  budgetText,
  cellId,
  explainMissing,
  PAPERS,
  planCell,
  recipeFor,
  resolveConfig,
  runKey,
  type RunSpec,
} from "./mod.ts";
import { methodById, methodConfigFromRecipe } from "../methods/mod.ts";

/** The method config a run gets, as the runner builds it. */
const methodConfig = (run: RunSpec) =>
  methodConfigFromRecipe(methodById(run.methodId), run.config, run.seed);

const { pdquant, mrecg } = PAPERS;
const cell = (id: string) => {
  const c = [...pdquant.cells, ...mrecg.cells].find((c) => c.id === id);
  if (!c) throw new Error(`no cell ${id}`);
  return c;
};

Deno.test("each paper maps its architectures to its own proxy stand-ins", () => {
  assertEquals(pdquant.standIns.proxy.resnet18, "proxy_resnet");
  assertEquals(pdquant.standIns.proxy.resnet50, "proxy_resnet");
  assertEquals(pdquant.standIns.proxy.mobilenetv2, "proxy_mbv2");
  assertEquals(mrecg.standIns.proxy["mobilenetv2_x0.5"], "proxy_mbv2_w05");
  assertEquals(mrecg.standIns.proxy["mobilenetv2_x0.35"], "proxy_mbv2_w05");
  assertEquals(pdquant.standIns.proxy.regnetx_600mf, undefined);
  const c = cell("pdquant/regnetx_600mf/w2a2/pdquant");
  const p = planCell(c, recipeFor(pdquant.recipes, c), "proxy", "quick", pdquant);
  assert(!p.ok && p.how?.includes("papers/pdquant/mod.ts"), JSON.stringify(p));
});

Deno.test("MRECG+QDrop is the registry's mrecg with base qdrop, under the paper's cell id", () => {
  const c = cell("mrecg/resnet18/w2a4/mrecg+qdrop");
  const p = planCell(c, recipeFor(mrecg.recipes, c), "proxy", "smoke", mrecg);
  assert(p.ok);
  assertEquals([p.runs[0].method, p.runs[0].methodId], ["mrecg+qdrop", "mrecg"]);
  assertEquals(methodConfig(p.runs[0]).base, "qdrop");
  assertEquals(methodConfig(p.runs[0]).dropProb, 0.5);
});

Deno.test("every recipe covers existing cells and every implemented cell has a recipe", () => {
  for (const paper of Object.values(PAPERS)) {
    for (const c of paper.cells) {
      const implemented = [
        ...["pdquant", "qdrop", "brecq", "adaround", "mrecg+brecq", "mrecg+qdrop"],
        ...["fdda", "fdda-f8l8", "fdda-nofdda", "fdda-unreliable", "fdda-70cls"],
        ...["multipoint", "mixed-precision"],
        ...["evolq", "fqvit"],
      ];
      assertEquals(Boolean(recipeFor(paper.recipes, c)), implemented.includes(c.method), c.id);
    }
  }
});

Deno.test("budgets scale iterations and DC steps, and machine settings stay out of the key", () => {
  const c = cell("pdquant/mobilenetv2/w2a2/pdquant");
  const r = recipeFor(pdquant.recipes, c);
  const smoke = planCell(c, r, "proxy", "smoke", pdquant);
  const paper = planCell(c, r, "proxy", "paper", pdquant);
  assert(smoke.ok && paper.ok);
  assertEquals(smoke.runs.length, 1);
  assertEquals(paper.runs.map((x) => x.seed), [1005, 1006, 1007]);
  assertEquals(smoke.runs[0].config.iters, 20);
  assertEquals(smoke.runs[0].config.calib_n, 64);
  assertEquals(paper.runs[0].config.iters, 20000);
  assertEquals(paper.runs[0].config.dc_steps, 500);
  assertEquals(paper.runs[0].config.T, 1);
  assertEquals(BUDGETS.quick.iters(20000), 2000);
  assertEquals(paper.runs[0].key, runKey(paper.runs[0]));
});

Deno.test("a custom budget takes the given iterations and calibration size, and only it does", () => {
  const c = cell("pdquant/mobilenetv2/w4a4/pdquant");
  const r = recipeFor(pdquant.recipes, c);
  const custom = planCell(c, r, "imagenet-subset", "custom", pdquant, {
    iters: 100,
    calibration: 256,
  });
  const quick = planCell(c, r, "imagenet-subset", "quick", pdquant);
  assert(custom.ok && quick.ok);
  assertEquals(custom.runs.map((x) => x.seed), [1005, 1006, 1007]);
  assertEquals(custom.runs[0].budget, "custom");
  assertEquals(custom.runs[0].config.iters, 100);
  assertEquals(custom.runs[0].config.calib_n, 256);
  assertEquals(custom.runs[0].calibration.n, 256);
  assertEquals(custom.runs[0].config.dc_steps, 3); // 500 × 100 / 20000, rounded
  assert(custom.runs[0].key !== quick.runs[0].key);
  // The recipe's calibration size when none is given (capped by the suite's 1,000 images).
  const dflt = planCell(c, r, "imagenet-subset", "custom", pdquant, { iters: 100 });
  assert(dflt.ok);
  assertEquals(dflt.runs[0].calibration.n, 1000);
  const throwsWith = (fn: () => unknown, text: string) => {
    const e = assertThrows(fn);
    assert(e instanceof RangeError && e.message.includes(text), e.message);
  };
  throwsWith(() => planCell(c, r, "proxy", "custom", pdquant), "--iters");
  throwsWith(() => planCell(c, r, "proxy", "smoke", pdquant, { iters: 5 }), "--budget smoke");
  throwsWith(
    () => planCell(c, r, "proxy", "custom", pdquant, { iters: 5, calibration: 0 }),
    "--calib-n",
  );
  assertEquals(
    budgetText("custom", { iters: 100, calibration: 256 }),
    "custom (100 it/unit, 256 calib)",
  );
  assertEquals(budgetText("quick"), "quick");
  // The method gets exactly these iterations and images (its own budget field only has defaults).
  const run = custom.runs[0];
  const parsed = methodById(run.methodId).config.parse(methodConfig(run)) as Record<
    string,
    unknown
  >;
  assertEquals([parsed.iters, parsed.calibSize, parsed.dcSteps], [100, 256, 3]);
});

Deno.test("a custom budget's iterations, calibration size and --set settings are part of the run key", () => {
  const c = cell("pdquant/mobilenetv2/w4a4/qdrop");
  const r = recipeFor(pdquant.recipes, c)!;
  const key = (o: Parameters<typeof planCell>[5]) => {
    const p = planCell(c, r, "imagenet-subset", "custom", pdquant, o);
    assert(p.ok);
    return p.runs[0];
  };
  const base = key({ iters: 100, calibration: 256 });
  assert(base.key.includes("|custom(100it,256calib)|"), base.key);
  assert(key({ iters: 200, calibration: 256 }).key !== base.key);
  assert(key({ iters: 100, calibration: 128 }).key !== base.key);
  const lr = key({ iters: 100, calibration: 256, set: { adaround_lr: 0.01 } });
  assert(lr.key.endsWith("|custom(100it,256calib,adaround_lr=0.01)|seed=1005"), lr.key);
  assertEquals([lr.config.adaround_lr, lr.config.set], [0.01, { adaround_lr: 0.01 }]);
  assertEquals(base.config.set, undefined);
  assert(r.fixed.config.adaround_lr !== 0.01);
  // A record holds the resolved recipe config under config.recipe: the same key.
  const asRecord = { ...lr, config: { recipe: lr.config, method: {} } };
  assertEquals(runKey(asRecord), lr.key);
  // The method gets the replaced value.
  assertEquals(methodConfig(lr).weightLr, 0.01);
  assertEquals(
    budgetText("custom", { iters: 100, calibration: 256, set: { adaround_lr: 0.01 } }),
    "custom (100 it/unit, 256 calib, adaround_lr=0.01)",
  );
  const throwsWith = (o: Parameters<typeof planCell>[5], text: string) => {
    const e = assertThrows(() => planCell(c, r, "imagenet-subset", "custom", pdquant, o));
    assert(e instanceof RangeError && e.message.includes(text), e.message);
  };
  throwsWith({ iters: 100, set: { adaround_learning_rate: 0.01 } }, "has no such setting");
  throwsWith({ iters: 100, set: { adaround_lr: "fast" } }, "a value of another type");
  throwsWith({ iters: 100, set: { iters: 500 } }, "the budget decides iters");
  const e = assertThrows(() =>
    planCell(c, r, "imagenet-subset", "quick", pdquant, {
      iters: 100,
      set: { adaround_lr: 0.01 },
    })
  );
  assert(e.message.includes("--set"), e.message);
});

Deno.test("ResNet-18 and ResNet-50 share one proxy run", () => {
  const plan = (id: string) => {
    const c = cell(id);
    const p = planCell(c, recipeFor(pdquant.recipes, c), "proxy", "quick", pdquant);
    assert(p.ok);
    return p.runs.map((r) => r.key);
  };
  assertEquals(plan("pdquant/resnet18/w2a2/pdquant"), plan("pdquant/resnet50/w2a2/pdquant"));
});

Deno.test("cells that cannot run say why and how", () => {
  const c = cell("pdquant/resnet18/w2a2/pdquant");
  const r = recipeFor(pdquant.recipes, c);
  const why = explainMissing(c, r, "imagenet", pdquant);
  assert(why.reason.includes("brecq_v1.0/resnet18"), why.reason);
  assert(why.how?.includes("brecq_resnet18.onnx") && why.how.includes("--models-dir"));
  const subset = planCell(c, r, "imagenet-subset", "quick", pdquant);
  assert(!subset.ok);
  const cited = cell(cellId("mrecg", "resnet18", 4, 4, "aciq-mix"));
  const none = planCell(cited, recipeFor(mrecg.recipes, cited), "proxy", "quick", mrecg);
  assert(!none.ok && none.reason.includes("not implemented"));
});

Deno.test("MRECG recipes carry the code's merge schemes and calibration sizes", () => {
  const c = cell("mrecg/resnet50/w2a2/mrecg+qdrop");
  const r = recipeFor(mrecg.recipes, c)!;
  assertEquals(r.fixed.calibration.n, 2048);
  assertEquals(r.fixed.config.scheme, [
    1,
    2,
    3,
    [4, 4],
    5,
    6,
    [7, 7, 7],
    8,
    9,
    10,
    [11, 11],
    12,
    13,
    14,
  ]);
  assertEquals(r.fixed.config.prob, 0.5);
});

Deno.test("claims take the paper's printed delta where there is one", () => {
  const c = mrecg.claims.find((c) => c.id === "mrecg/mobilenetv2_x0.5/w2a4/mrecg+brecq>brecq");
  assertEquals(c?.paperGap.value, 6.61);
  const p = pdquant.claims.find((c) => c.id === "pdquant/mobilenetv2/w2a2/pdquant>qdrop");
  assertEquals(p?.paperGap.value, 3.48);
  assertEquals(p?.paperGap.verified, false);
});

Deno.test("a recipe's smoke_iters replaces the smoke budget's 20 iterations, and only there", () => {
  const fdda = PAPERS.fdda.recipes.find((r) => r.id === "fdda/fdda@all")!;
  assertEquals(fdda.fixed.smoke_iters, 6);
  const iters = (b: "smoke" | "quick" | "paper") =>
    resolveConfig(fdda, b, { w: 4, a: 4 }, 10).iters;
  assertEquals([iters("smoke"), iters("quick"), iters("paper")], [6, 2000, 80000]);
  // A custom budget's iterations win; recipes without smoke_iters keep the budget's 20.
  assertEquals(resolveConfig(fdda, "custom", { w: 4, a: 4 }, 10, { iters: 40 }).iters, 40);
  const brecq = PAPERS.fdda.recipes.find((r) => r.method === "brecq")!;
  assertEquals(resolveConfig(brecq, "smoke", { w: 4, a: 4 }, 64).iters, 20);
});
