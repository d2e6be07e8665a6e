/**
 * Opens a generated report in headless Chromium (Debian's `chromium` package) from a file:// URL:
 * no console errors, the expected rows present. Skipped where /usr/bin/chromium is absent.
 */
import { assert, assertEquals } from "../runtime/assert.ts";
import { PAPERS, pdquant } from "../papers/mod.ts";
import { buildView, renderHtml } from "../reports/mod.ts";
import { pdquantFixture } from "../reports/testing.ts";

const CHROMIUM = "/usr/bin/chromium";
const hasChromium = (() => {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
})();

Deno.test({
  name: "the report opens offline in Chromium without console errors",
  ignore: !hasChromium,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const { chromium } = await import("playwright-core");
    const dir = await Deno.makeTempDir();
    const metas = Object.fromEntries(Object.values(PAPERS).map((p) => [p.meta.id, p.meta]));
    const file = `${dir}/pdquant.html`;
    await Deno.writeTextFile(
      file,
      renderHtml(
        buildView(pdquant, pdquantFixture(), { generated: "2024-06-01T00:00:00Z", metas }),
      ),
    );
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    try {
      const context = await browser.newContext({ offline: true });
      const page = await context.newPage();
      const errors: string[] = [];
      const requests: string[] = [];
      page.on("console", (m) => {
        if (m.type() === "error") errors.push(m.text());
      });
      page.on("pageerror", (e) => errors.push(String(e)));
      page.on("request", (r) => {
        if (!r.url().startsWith("file://")) requests.push(r.url());
      });
      await page.goto(`file://${file}`, { waitUntil: "load" });
      assertEquals(errors, []);
      assertEquals(requests, []);
      const cells = await page.locator("tbody.cell").count();
      assertEquals(cells, pdquant.cells.length);
      const row = page.locator('tbody[data-cell="pdquant/resnet18/w2a2/pdquant"]');
      assert((await row.textContent())?.includes("53.08"));
      assertEquals(
        await row.locator('[data-suite="imagenet"]').getAttribute("data-verdict"),
        "agrees",
      );
      assert((await page.locator("svg.chart").count()) > 0);
      assertEquals(
        await page.locator('tr[data-claim="pdquant/mobilenetv2/w2a2/pdquant>qdrop"]')
          .getAttribute("data-verdict"),
        "holds",
      );
      await context.close();
    } finally {
      await browser.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
