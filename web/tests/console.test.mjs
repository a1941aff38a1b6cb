// The console in a real Chromium (Debian's, driven by playwright-core; no
// browser is downloaded) against a running stack:
//
//   CONSOLE_URL=http://127.0.0.1:50051/ TENANT=demo SCREENSHOTS=/tmp/shots \
//   CHROMIUM=/usr/bin/chromium [URL_TTL_SECONDS=4] node tests/console.test.mjs
//
// The tenant must hold at least 50 contacts, most with pictures and some
// without (tests/tests/e2e/browser.rs seeds them). Prints one line
// `LOADTIME first_paint_ms=... all_images_ms=... images=...` for the first
// page, then `ok` per check; exits non-zero at the first failed check.
import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { chromium } from "playwright-core";

const base = process.env.CONSOLE_URL ?? "http://127.0.0.1:50051/";
const tenant = process.env.TENANT ?? "demo";
const shots = process.env.SCREENSHOTS ?? "screenshots";
const ttlSeconds = Number(process.env.URL_TTL_SECONDS ?? "0");
const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";
await mkdir(shots, { recursive: true });

const browser = await chromium.launch({ executablePath, args: ["--no-sandbox", "--disable-dev-shm-usage"] });
const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
const failures = [];
page.on("pageerror", (error) => failures.push(`page error: ${error.message}`));
const check = async (name, body) => {
  await body();
  console.log(`ok ${name}`);
};

try {
  // Load time of the first page: first paint (placeholders included) and
  // the moment every avatar of the first 50 rows has loaded.
  const started = Date.now();
  await page.goto(`${base}#tenant=${tenant}`);
  await page.waitForSelector("#rows .row");
  const firstPaint = await page.evaluate(
    () => performance.getEntriesByName("first-contentful-paint")[0]?.startTime ?? performance.now(),
  );
  await page.waitForFunction(() => {
    const images = [...document.querySelectorAll("#rows .avatar img")].slice(0, 50);
    return images.length > 0 && images.every((image) => image.complete && image.naturalWidth > 0);
  });
  const allImages = Date.now() - started;
  const images = await page.locator("#rows .avatar img").count();
  console.log(`LOADTIME first_paint_ms=${Math.round(firstPaint)} all_images_ms=${allImages} images=${images}`);
  await page.screenshot({ path: join(shots, "smart-list.png") });

  await check("every avatar of the first two pages loaded from a stable URL", async () => {
    await page.evaluate(() => document.querySelector("#list-end")?.scrollIntoView());
    await page.waitForFunction(() => document.querySelectorAll("#rows .row").length >= 50);
    await page.waitForFunction(() =>
      [...document.querySelectorAll("#rows .avatar img")].every((image) => image.complete && image.naturalWidth > 0),
    );
    const sources = await page.$$eval("#rows .avatar img", (all) => all.map((image) => image.currentSrc || image.src));
    assert.ok(sources.length >= 40, `${sources.length} avatars`);
    for (const source of sources) assert.match(source, /\/pictures\/[^/]+\/[0-9a-f]{64}\/128\//);
    const alts = await page.$$eval("#rows .avatar img", (all) => all.map((image) => image.alt));
    assert.ok(alts.every((alt) => alt.startsWith("Photo of ")), "alt text on every picture");
  });

  await check("contacts without pictures show their initials", async () => {
    const placeholders = await page.$$eval("#rows .avatar[role=img]", (all) =>
      all.map((face) => ({ label: face.getAttribute("aria-label"), text: face.textContent, colour: face.style.background })),
    );
    assert.ok(placeholders.length > 0, "some contacts have no picture");
    for (const face of placeholders) {
      assert.match(face.text ?? "", /^\p{L}{1,2}$/u, JSON.stringify(face));
      assert.ok(face.label?.startsWith("Initials of "), JSON.stringify(face));
      assert.ok(face.colour, "a background colour");
    }
  });

  await check("the keyboard opens and closes the contact panel", async () => {
    await page.focus("#rows .row");
    await page.keyboard.press("Enter");
    await page.waitForSelector("#panel:not([hidden]) #panel-history li");
    const picture = await page.$eval("#panel-picture img", (image) => image.src).catch(() => "");
    if (picture) assert.match(picture, /\/512\//, "the panel shows the 512 px rendition");
    await page.screenshot({ path: join(shots, "contact-panel.png") });
    await page.keyboard.press("Escape");
    assert.equal(await page.isHidden("#panel"), true);
  });

  await check("the conversations column shows cards read with BatchGetContacts", async () => {
    const cards = await page.locator("#conversations .card").count();
    assert.ok(cards >= 1 && cards <= 10, `${cards} cards`);
    await page.locator("#conversations").screenshot({ path: join(shots, "conversations.png") });
  });

  await check("a picture uploaded through the form appears in the list", async () => {
    const png = await page.evaluate(async () => {
      const canvas = new OffscreenCanvas(512, 512);
      const context = canvas.getContext("2d");
      context.fillStyle = "#3949ab";
      context.fillRect(0, 0, 512, 512);
      context.fillStyle = "#ffcc80";
      context.beginPath();
      context.arc(256, 220, 110, 0, 2 * Math.PI);
      context.fill();
      const blob = await canvas.convertToBlob({ type: "image/png" });
      return [...new Uint8Array(await blob.arrayBuffer())];
    });
    await page.fill("#create [name=first_name]", "Uploaded");
    await page.fill("#create [name=last_name]", "Through Browser");
    await page.setInputFiles("#picture", { name: "face.png", mimeType: "image/png", buffer: Buffer.from(png) });
    await page.click("#create button");
    const row = page.locator("#rows .row", { hasText: "Uploaded Through Browser" });
    await row.waitFor();
    await page.waitForFunction(() => {
      const row = [...document.querySelectorAll("#rows .row")].find((r) => r.textContent.includes("Uploaded Through Browser"));
      const image = row?.querySelector("img");
      return image && image.complete && image.naturalWidth > 0;
    });
  });

  await check("a file the server refuses shows its reason and message beside the field", async () => {
    // A PNG signature the browser's check accepts, then nothing a decoder can read.
    const broken = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(64, 7)]);
    await page.fill("#create [name=first_name]", "Refused");
    await page.setInputFiles("#picture", { name: "broken.png", mimeType: "image/png", buffer: broken });
    await page.click("#create button");
    await page.waitForFunction(() => document.querySelector("#picture-error")?.textContent?.includes(":"));
    const shown = await page.textContent("#picture-error");
    assert.match(shown ?? "", /^IMAGE_[A-Z_]+: .+/, shown ?? "");
    await page.locator("#create").screenshot({ path: join(shots, "refused-picture.png") });
    await page.fill("#create [name=first_name]", "");
    await page.setInputFiles("#picture", []);
  });

  if (ttlSeconds > 0) {
    await check("a stable URL handed out before a TTL bucket ended still shows the picture after it", async () => {
      const source = await page.$eval("#rows .avatar img", (image) => image.src);
      // Where the stable URL leads, read outside the browser (the object
      // storage's origin sends no CORS headers for a page's fetch).
      const target = async () => (await fetch(source, { redirect: "manual" })).headers.get("location");
      const signedBefore = await target();
      await page.waitForTimeout((ttlSeconds + 1) * 1000);
      const reloaded = await page.evaluate(
        (url) =>
          new Promise((resolve) => {
            const image = new Image();
            image.onload = () => resolve(image.naturalWidth);
            image.onerror = () => resolve(0);
            image.src = url;
          }),
        source,
      );
      assert.ok(reloaded > 0, "the picture loads from the same stable URL");
      const signedAfter = await target();
      assert.notEqual(signedAfter, signedBefore, "signed again in a later bucket");
    });
  }

  await check("the page raised no error", async () => assert.deepEqual(failures, []));
} finally {
  await browser.close();
}
