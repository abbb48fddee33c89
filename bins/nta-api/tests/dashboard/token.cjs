// With a token set, the page asks for it once and keeps it for the browser session.
//   node token.cjs BASE_URL TOKEN
"use strict";
const { chromium } = require("playwright-core");
const [base, token] = process.argv.slice(2);
const fail = (msg) => { console.error("FAIL: " + msg); process.exit(1); };
const check = (ok, msg) => { if (!ok) fail(msg); console.log("ok: " + msg); };

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.NTA_CHROMIUM || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
  });
  const page = await browser.newPage();
  let unauthorized = 0;
  page.on("response", (r) => { if (r.status() === 401) unauthorized += 1; });
  await page.goto(base + "/");
  await page.waitForSelector("#token-dialog[open]", { timeout: 15000 });
  check(true, "the page asks for the token");
  await page.fill("#token-input", token);
  await page.click("#token-dialog button");
  await page.waitForSelector("#incidents tbody tr", { timeout: 30000 });
  check(await page.locator("#chart svg path.series").count() === 1, "with the token, the page shows the data");
  const asked = unauthorized;
  await page.reload();
  await page.waitForSelector("#incidents tbody tr", { timeout: 30000 });
  check(await page.locator("#token-dialog[open]").count() === 0, "after a reload the token is not asked again");
  check(unauthorized === asked, "no request was refused after it was given");
  await browser.close();
})().catch((e) => fail(e.stack || String(e)));
