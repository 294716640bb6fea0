// Drives oddity's web page in headless Chromium: pick the image model, upload images, wait for
// each verdict and heat map; pick the table model, paste CSV rows, score them; pick the OOD
// classifier, choose its deciding score, upload the images, read each class and verdict. Saves
// screenshots and prints what the page showed as JSON (checked by tests/browser.rs).
// Usage: node page.mjs URL IMAGE_MODEL TABLE_MODEL OOD_MODEL OOD_SCORE CSV_FILE SCREENSHOT IMAGE...
import { chromium } from "playwright-core";
import { readFileSync } from "node:fs";

const [url, imageModel, tableModel, oodModel, oodScore, csvFile, screenshot, ...images] =
  process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  const outside = [];
  page.on("request", (r) => {
    const u = r.url();
    if (!u.startsWith(url) && !u.startsWith("data:")) outside.push(u);
  });
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(url);
  await page.waitForSelector(`#model option[value="${imageModel}"]`, { state: "attached" });
  const models = await page.$$eval("#model option", (os) => os.map((o) => o.value));

  await page.selectOption("#model", tableModel);
  await page.fill("#rows", readFileSync(csvFile, "utf8"));
  await page.click("#score-rows");
  await page.waitForSelector(".result .verdict");
  const rows = await page.$$eval(".result", (cards) => cards.map((c) => ({
    title: c.querySelector("h3").textContent,
    verdict: c.querySelector(".verdict").textContent,
    numbers: c.querySelector(".numbers").textContent,
  })));

  await page.selectOption("#model", imageModel);
  await page.setInputFiles("#files", images);
  await page.waitForFunction((n) => document.querySelectorAll(".result img.overlay").length === n, images.length);
  const cards = await page.$$eval(".result", (cards) => cards.map((c) => {
    const img = c.querySelector("img.overlay");
    return {
      title: c.querySelector("h3").textContent,
      verdict: c.querySelector(".verdict").textContent,
      numbers: c.querySelector(".numbers").textContent,
      overlay: img ? { width: img.naturalWidth, height: img.naturalHeight } : null,
    };
  }));
  const info = await page.textContent("#info");
  const error = await page.textContent("#error");
  await page.screenshot({ path: screenshot, fullPage: true });

  await page.selectOption("#model", oodModel);
  const oodInfo = await page.textContent("#info");
  const scoreChoices = await page.$$eval("#ood-score option", (os) => os.map((o) => o.value));
  const defaultScore = await page.inputValue("#ood-score");
  await page.selectOption("#ood-score", oodScore);
  await page.setInputFiles("#files", images);
  // Cards for every image, or an error from the API (reported below, not a timeout).
  await page.waitForFunction((n) => document.querySelectorAll(".result .verdict").length === n
    || document.getElementById("error").textContent !== "", images.length);
  const classified = await page.$$eval(".result", (cards) => cards.map((c) => ({
    title: c.querySelector("h3").textContent,
    verdict: c.querySelector(".verdict").textContent,
    numbers: c.querySelector(".numbers").textContent,
    overlay: c.querySelector("img.overlay") !== null,
  })));
  const oodError = await page.textContent("#error");
  await page.screenshot({ path: screenshot.replace(/\.png$/, "-ood.png"), fullPage: true });
  console.log(JSON.stringify({
    models, info, rows, cards, error, outside, errors,
    ood: { info: oodInfo, scores: scoreChoices, defaultScore, cards: classified, error: oodError },
  }));
} finally {
  await browser.close();
}
