import { assertEquals } from "../../runtime/assert.ts";
import { attempt } from "./eval.ts";

Deno.test("attempt: a value passes through, a failure becomes its message", async () => {
  assertEquals(await attempt(() => Promise.resolve(42)), { ok: true, value: 42 });
  const failed = await attempt(() => {
    throw new Error("two nodes with same node name (Conv_95).");
  });
  assertEquals(failed, { ok: false, error: "two nodes with same node name (Conv_95)." });
  assertEquals(await attempt(() => Promise.reject("plain string")), {
    ok: false,
    error: "plain string",
  });
});
