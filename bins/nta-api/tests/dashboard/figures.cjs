// The dashboard's figures (docs/API.md, "Dashboard"): page weight, and the time to the first
// chart and to the incident list, over whatever the server at BASE_URL holds.
//   NODE_PATH=<dir>/node_modules node figures.cjs BASE_URL [RUNS]
"use strict";
const { chromium } = require("playwright-core");
const [base, runs = "3"] = process.argv.slice(2);

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.NTA_CHROMIUM || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
  });
  for (let i = 0; i < Number(runs); i++) {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const sizes = { page: 0, data: 0 };
    page.on("response", async (r) => {
      try {
        const n = (await r.body()).length;
        if (r.url().includes("/api/")) sizes.data += n; else sizes.page += n;
      } catch (_) { /* the event stream */ }
    });
    const t0 = Date.now();
    await page.goto(base + "/");
    await page.waitForSelector("#chart svg path.series", { timeout: 120000 });
    const chart = Date.now() - t0;
    await page.waitForFunction(() => document.body.dataset.ready === "1", null, { timeout: 120000 });
    const ready = Date.now() - t0;
    const marks = await page.getAttribute("#chart", "data-anomalies");
    console.log(`run ${i + 1}: first chart ${chart} ms, everything ${ready} ms; page ${sizes.page} B, data ${sizes.data} B; ${marks} anomalies marked`);
    await page.close();
  }
  await browser.close();
})().catch((e) => { console.error(e); process.exit(1); });
