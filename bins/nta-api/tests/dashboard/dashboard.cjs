// Drives the dashboard in headless Chromium (playwright-core, /usr/bin/chromium) against a
// real nta-api that processed the bundled sample. Usage:
//   node dashboard.cjs BASE_URL OUT_DIR CAPTURE
// Exits 1 with the reason on the first failed check; writes a screenshot of each state.
"use strict";
const { chromium } = require("playwright-core");
const path = require("path");

const [base, out, capture] = process.argv.slice(2);
const fail = (msg) => { console.error("FAIL: " + msg); process.exit(1); };
const check = (ok, msg) => { if (!ok) fail(msg); console.log("ok: " + msg); };

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.NTA_CHROMIUM || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const errors = [], foreign = [];
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("request", (r) => { if (!r.url().startsWith(base) && !r.url().startsWith("data:")) foreign.push(r.url()); });
  let bytes = 0;
  page.on("response", async (r) => { try { bytes += (await r.body()).length; } catch (_) { /* streams */ } });

  const t0 = Date.now();
  await page.goto(base + "/");
  await page.waitForSelector("#chart svg path.series", { timeout: 30000 });
  const firstChartMs = Date.now() - t0;
  await page.waitForSelector("#incidents tbody tr", { timeout: 30000 });
  await page.waitForFunction(() => document.body.dataset.ready === "1", null, { timeout: 30000 });
  console.log(`first chart after ${firstChartMs} ms; page and data ${bytes} bytes`);

  // The timeline draws: a line with points, anomaly marks, incident bands named by kind.
  const points = Number(await page.getAttribute("#chart", "data-points"));
  check(points > 100, `the timeline draws ${points} points`);
  check(await page.locator("#chart .marks rect").count() > 10, "anomalies are marked on the timeline");
  check(await page.locator("#chart rect.band").count() > 0, "incidents are drawn as bands");
  check(await page.locator("#chart text.band-label").count() > 0, "bands are named by kind");
  check((await page.textContent("#legend")).includes("baseline only"), "the legend keys severities and baseline-only marks");

  // Incidents, most severe first.
  const ranks = { low: 0, medium: 1, high: 2, critical: 3 };
  const sev = await page.$$eval("#incidents tbody tr", (rows) => rows.map((r) => r.dataset.severity));
  check(sev.length >= 3, `${sev.length} incidents listed`);
  check(sev.every((s, i) => i === 0 || ranks[sev[i - 1]] >= ranks[s]), "incidents are listed most severe first");
  const kinds = await page.$$eval("#incidents tbody tr td.kind", (c) => c.map((x) => x.textContent));
  check(kinds.some((k) => k !== "unknown"), `incidents name their kind (${kinds.slice(0, 4).join(", ")})`);
  await page.screenshot({ path: path.join(out, "1-overview.png"), fullPage: true });

  // Clicking one shows its anomalies and the explanation.
  await page.click("#incidents tbody tr:first-child");
  await page.waitForSelector("#explanation tbody tr", { timeout: 15000 });
  const rows = await page.locator("#explanation tbody tr").count();
  check(rows > 0, `the explanation table has ${rows} rows`);
  const head = await page.$$eval("#explanation thead th", (h) => h.map((x) => x.textContent));
  check(["Metric", "Value", "Baseline median", "z", "Share of model"].every((h) => head.includes(h)), "the explanation shows metric, value, median, z and share");
  check((await page.textContent("#detail")).includes("attackers"), "the detail names attackers and victims");
  await page.waitForSelector("#anomaly-detail h3:has-text('Flows')", { timeout: 15000 });
  await page.locator("#detail-card").screenshot({ path: path.join(out, "2-incident.png") });

  // Another metric, and a zoom by dragging across the chart.
  await page.selectOption("#metric", "tcp_syn");
  await page.waitForFunction(() => document.querySelector("#chart svg")?.getAttribute("aria-label") === "timeline of tcp_syn");
  await page.evaluate(() => window.scrollTo(0, 0));
  const box = await page.locator("#chart svg").boundingBox();
  await page.mouse.move(box.x + box.width * 0.3, box.y + 80);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.55, box.y + 90, { steps: 5 });
  await page.mouse.up();
  await page.waitForSelector("#zoom-out:not([hidden])");
  await page.waitForTimeout(500);
  check(Number(await page.getAttribute("#chart", "data-points")) > 0, "the zoomed timeline draws");
  await page.locator("#timeline-card").screenshot({ path: path.join(out, "3-timeline-zoomed.png") });
  await page.click("#zoom-out");

  // Upload the capture: a job runs to completion, the progress bar moving.
  await page.setInputFiles("#upload-file", capture);
  // Every value the bar takes, as the page sets it.
  await page.evaluate(() => {
    window.__progress = [];
    const p = document.querySelector("#progress");
    new MutationObserver(() => window.__progress.push(Number(p.value))).observe(p, { attributes: true, attributeFilter: ["value"] });
  });
  await page.click("#upload-btn");
  const until = Date.now() + 120000;
  while (Date.now() < until && !(await page.getAttribute("#upload-state", "data-done"))) {
    if ((await page.getAttribute("#upload-state", "class") || "").includes("error")) fail("upload: " + (await page.textContent("#upload-state")));
    await page.waitForTimeout(50);
  }
  const seen = new Set((await page.evaluate(() => window.__progress)).map((v) => Math.round(v)));
  check(await page.getAttribute("#upload-state", "data-done") === "1", "the uploaded capture was analysed to the end");
  const moving = [...seen].filter((v) => v > 0 && v < 100);
  check(moving.length >= 2, `the progress bar moved (${[...seen].sort((a, b) => a - b).join(", ")})`);
  await page.waitForSelector("#jobs tbody tr");
  check(await page.locator("#baselines tbody tr").count() >= 1, "the baselines are listed");
  // Train a model from the page: it appears among the models.
  await page.fill("#train-name", "from-the-page");
  await page.click("#train-form button");
  await page.waitForSelector("#models tbody tr:has-text('from-the-page')", { timeout: 60000 });
  check(true, "a model trained from the page is listed");
  await page.screenshot({ path: path.join(out, "4-after-upload.png"), fullPage: true });

  check(foreign.length === 0, "no request left the server: " + foreign.join(", "));
  check(errors.length === 0, "no console errors: " + errors.join(" | "));
  console.log(`figures: first_chart_ms=${firstChartMs} bytes=${bytes}`);
  await browser.close();
})().catch((e) => fail(e.stack || String(e)));
