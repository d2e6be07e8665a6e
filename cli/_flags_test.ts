import { assert, assertEquals, assertThrows } from "../runtime/assert.ts";
import {
  helpText,
  InputError,
  parseFlags,
  placeholder,
  run,
  type TaskSpec,
  UsageError,
  usageLine,
} from "./_flags.ts";
import { captured } from "./_testing.ts";

const SPEC = {
  name: "demo",
  summary: "a task for the tests",
  positionals: {
    name: "paper",
    help: "which papers",
    multiple: true,
    values: ["pdquant", "mrecg"],
  },
  flags: [
    { name: "model", type: "string", required: true, placeholder: "NAME", help: "the model" },
    { name: "w", type: "int", default: 4, values: ["2", "3", "4", "8"], help: "weight bits" },
    { name: "limit", type: "int", min: 1, help: "at most N images" },
    { name: "lr", type: "number", help: "learning rate" },
    {
      name: "suite",
      type: "string",
      multiple: true,
      values: ["proxy", "imagenet-subset", "imagenet", "voc", "other"],
      default: ["proxy"],
      help: "where to run",
    },
    { name: "set", type: "string", multiple: true, placeholder: "KEY=VALUE", help: "overrides" },
    { name: "out", type: "path", default: "out/reports", placeholder: "DIR", help: "output" },
    { name: "dry-run", type: "boolean", help: "list only" },
  ],
  notes: ["A note at the end."],
} as const satisfies TaskSpec;

Deno.test("parseFlags: both value forms, typed values, repeats, booleans and defaults", () => {
  const { values, positionals } = parseFlags(SPEC, [
    "mrecg",
    "--model=resnet18",
    "--w",
    "2",
    "--lr",
    "-1e-3",
    "--suite",
    "voc",
    "--suite=imagenet",
    "--set",
    "a=1",
    "--dry-run",
    "pdquant",
  ]);
  assertEquals(positionals, ["mrecg", "pdquant"]);
  assertEquals(values, {
    model: "resnet18",
    w: 2,
    lr: -1e-3,
    suite: ["voc", "imagenet"],
    set: ["a=1"],
    "dry-run": true,
    out: "out/reports",
  });
  const d = parseFlags(SPEC, ["--model", "m"]).values;
  assertEquals([d.w, d.suite, d.set, d["dry-run"], d.limit], [4, ["proxy"], [], false, undefined]);
  // Everything after `--` is positional.
  assertEquals(parseFlags(SPEC, ["--model", "m", "--", "pdquant"]).positionals, ["pdquant"]);
  assertEquals(parseFlags(SPEC, ["--model", "m", "--dry-run=false"]).values["dry-run"], false);
});

Deno.test("parseFlags refuses with messages that name the flag and the value", () => {
  const refuse = (args: string[], message: string) =>
    assertThrows(() => parseFlags(SPEC, ["--model", "m", ...args]), UsageError, message);
  refuse(["--w", "abc"], '--w: expected an integer, got "abc"');
  refuse(["--w", "2.5"], '--w: expected an integer, got "2.5"');
  refuse(["--lr", "fast"], '--lr: expected a number, got "fast"');
  refuse(["--w", "5"], '--w: "5" is not one of 2, 3, 4, 8');
  refuse(["--suite", "foo"], '--suite: "foo" is not one of proxy, imagenet-subset, imagenet');
  refuse(["--limit", "0"], "--limit: expected at least 1, got 0");
  refuse(["--x"], "unknown flag --x");
  refuse(["--x=1"], "unknown flag --x");
  refuse(["-x"], "unknown flag -x");
  refuse(["--limit"], "--limit: expected a value (N)");
  refuse(["--limit", "--dry-run"], "--limit: expected a value (N)");
  refuse(["--w", "2", "--w", "3"], "--w is given twice");
  refuse(["--dry-run=yes"], '--dry-run: expected true or false, got "yes"');
  refuse(["cvpr"], '<paper>: "cvpr" is not one of pdquant, mrecg');
  assertThrows(() => parseFlags(SPEC, []), UsageError, "missing --model NAME");
  const one = {
    name: "one",
    summary: "",
    positionals: { name: "FILE", help: "", required: true },
    flags: [],
  };
  assertThrows(() => parseFlags(one, []), UsageError, "missing <FILE>");
  assertThrows(() => parseFlags(one, ["a", "b"]), UsageError, "one <FILE> only, got 2: a b");
  const none = { name: "none", summary: "", flags: [] };
  assertThrows(() => parseFlags(none, ["stray"]), UsageError, 'unexpected argument "stray"');
});

Deno.test("helpText lists every flag with its placeholder, allowed values and default", () => {
  const text = helpText(SPEC);
  const lines = text.split("\n");
  assertEquals(lines.slice(0, 2), [
    "usage: deno task demo [<paper>…] --model NAME [--w 2|3|4|8] [--limit N] [--lr X] [--suite VALUE…]",
    "       [--set KEY=VALUE…] [--out DIR] [--dry-run]",
  ]);
  assertEquals(lines[3], "a task for the tests");
  for (const f of SPEC.flags) assert(text.includes(`--${f.name}`), f.name);
  assert(/<paper>….*one of pdquant, mrecg/.test(text), text);
  assert(/--model NAME +the model \(required\)/.test(text), text);
  assert(/--w 2\|3\|4\|8 +weight bits \(default: 4\)/.test(text), text);
  assert(/--limit N +at most N images \(at least 1\)/.test(text), text);
  assert(
    /one of proxy, imagenet-subset, imagenet, voc, other; may be repeated; default: proxy\)/.test(
      text.replace(/\s+/g, " "),
    ),
    text,
  );
  assert(/--out DIR +output \(default: out\/reports\)/.test(text), text);
  assert(/--dry-run +list only$/m.test(text), text);
  assert(/-h, --help +print this help/.test(text), text);
  assert(text.endsWith("\n\nA note at the end."), text);
  assert(lines.every((l) => l.length <= 100), text);
  assertEquals(usageLine({ name: "t", summary: "", flags: [] }), "deno task t");
  assertEquals(
    placeholder({ name: "b", type: "string", values: ["cpu", "webgpu"], help: "" }),
    "cpu|webgpu",
  );
});

Deno.test("run: --help prints the help, refusals exit 2 with a hint, failures exit 1", async () => {
  const main = (args: string[]) => {
    const { values } = parseFlags(SPEC, args);
    if (values.model === "gone") throw new InputError("cannot read model gone.onnx: no such file");
    if (values.model === "bug") throw new TypeError("something broke");
    return Promise.resolve(values.w);
  };
  const help = await captured(() => run(SPEC, main, ["--w", "x", "-h"]));
  assertEquals([help.code, help.out], [0, helpText(SPEC) + "\n"]);
  const ok = await captured(() => run(SPEC, main, ["--model", "m", "--w", "8"]));
  assertEquals([ok.code, ok.err], [8, ""]);
  const bad = await captured(() => run(SPEC, main, ["--model", "m", "--w", "abc"]));
  assertEquals([bad.code, bad.err], [
    2,
    'demo: --w: expected an integer, got "abc"\n(see deno task demo --help)\n',
  ]);
  const gone = await captured(() => run(SPEC, main, ["--model", "gone"]));
  assertEquals([gone.code, gone.err], [1, "demo: cannot read model gone.onnx: no such file\n"]);
  const prior = Deno.env.get("PTQ_DEBUG");
  try {
    Deno.env.delete("PTQ_DEBUG");
    const bug = await captured(() => run(SPEC, main, ["--model", "bug"]));
    assertEquals([bug.code, bug.err], [1, "demo: something broke\n"]);
    Deno.env.set("PTQ_DEBUG", "1");
    const traced = await captured(() => run(SPEC, main, ["--model", "bug"]));
    assert(
      traced.code === 1 &&
        /^demo: something broke\nTypeError: something broke\n\s+at /.test(traced.err),
      traced.err,
    );
    const input = await captured(() => run(SPEC, main, ["--model", "gone"]));
    assertEquals(input.err, "demo: cannot read model gone.onnx: no such file\n");
  } finally {
    if (prior === undefined) Deno.env.delete("PTQ_DEBUG");
    else Deno.env.set("PTQ_DEBUG", prior);
  }
});
