// The console in a real Chromium (Debian's, driven by playwright-core; no
// browser is downloaded) against a running stack:
//
//   CONSOLE_URL=http://127.0.0.1:50051/ TENANT=demo SCREENSHOTS=/tmp/shots \
//   CHROMIUM=/usr/bin/chromium [URL_TTL_SECONDS=4] node tests/console.test.mjs
//
// The tenant must hold the contacts tests/tests/e2e/browser.rs seeds: a
// first page of 50 with pictures, a second with some without, and Grace
// Hopper twice (demo_contacts' duplicate pair). Prints `LOADTIME` lines for
// the first page (a cold load, then a reload), then `ok` per check; exits
// non-zero at the first failed check.
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
// Console errors too: a refused resource, a Content-Security-Policy violation.
page.on("console", (message) => {
  if (message.type() === "error") failures.push(`console error: ${message.text()}`);
});
const check = async (name, body) => {
  await body();
  console.log(`ok ${name}`);
};

/** A 512x512 PNG drawn in the page: a face on a blue backdrop. */
async function portrait() {
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
  return Buffer.from(png);
}

// Every image's load time, kept on the element (load events do not bubble,
// so the listener captures them on the document).
await page.addInitScript(() => {
  document.addEventListener(
    "load",
    (event) => {
      if (event.target instanceof HTMLImageElement) event.target.dataset.loadedAt = String(performance.now());
    },
    true,
  );
});

/**
 * The first page's load, in ms since navigation started: the first paint
 * of anything, the paint of the rows with their placeholders (Element
 * Timing on the rows' names), and the moment the last of the 50 avatars
 * had loaded.
 */
async function loadTime(label) {
  const rowsPainted = await page.evaluate(
    () =>
      new Promise((resolve) => {
        new PerformanceObserver((entries, observer) => {
          const row = entries.getEntries().find((entry) => entry.identifier === "smart-list-row");
          if (row) {
            observer.disconnect();
            resolve(row.renderTime || row.loadTime);
          }
        }).observe({ type: "element", buffered: true });
      }),
  );
  await page.waitForFunction(() => {
    const images = [...document.querySelectorAll("#rows .avatar img")].slice(0, 50);
    return images.length === 50 && images.every((image) => image.complete && image.naturalWidth > 0);
  });
  const { firstPaint, imagesLoaded } = await page.evaluate(() => ({
    firstPaint: performance.getEntriesByName("first-contentful-paint")[0]?.startTime ?? 0,
    imagesLoaded: Math.max(
      ...[...document.querySelectorAll("#rows .avatar img")].slice(0, 50).map((image) => Number(image.dataset.loadedAt)),
    ),
  }));
  const ms = (value) => Math.round(value);
  console.log(
    `LOADTIME ${label} first_paint_ms=${ms(firstPaint)} rows_with_placeholders_ms=${ms(rowsPainted)} ` +
      `all_images_ms=${ms(imagesLoaded)} images=50`,
  );
}

try {
  // A cold load (empty browser cache), then a reload.
  await page.goto(`${base}#tenant=${tenant}`);
  await loadTime("cold");
  await page.reload();
  await loadTime("reload");
  await page.screenshot({ path: join(shots, "smart-list.png"), animations: "disabled" });
  // A stable URL handed out now, and the signed URL it leads to now (read
  // outside the browser: the object storage's origin sends no CORS headers
  // for a page's fetch), for the check after the signing bucket ended.
  const stableBefore = await page.$eval("#rows .avatar img", (image) => image.src);
  const signedBefore = (await fetch(stableBefore, { redirect: "manual" })).headers.get("location");

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

  await check("while pictures load each avatar shows its ThumbHash; one that fails shows the initials", async () => {
    // Another browser whose picture requests wait until the check lets them fail.
    const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
    const held = [];
    let failing = false;
    await context.route(/\/pictures\//, (route) => (failing ? route.abort() : held.push(route)));
    try {
      const other = await context.newPage();
      await other.goto(`${base}#tenant=${tenant}`);
      await other.waitForFunction(() => document.querySelectorAll("#rows .avatar img").length >= 50);
      const faces = await other.$$eval("#rows .avatar", (all) =>
        all
          .filter((face) => face.querySelector("img"))
          .map((face) => ({
            preview: face.style.backgroundImage,
            initialsHidden: face.querySelector(".initials").hidden,
            loaded: face.querySelector("img").naturalWidth > 0,
          })),
      );
      assert.equal(faces.length, 50);
      for (const face of faces) {
        assert.match(face.preview, /^url\("data:image\/png;base64,/, JSON.stringify(face));
        assert.ok(face.initialsHidden && !face.loaded, JSON.stringify(face));
      }
      await other.screenshot({ path: join(shots, "thumbhash-previews.png"), animations: "disabled" });
      failing = true;
      await Promise.all(held.map((route) => route.abort()));
      await other.waitForFunction(() => document.querySelectorAll("#rows .avatar img").length === 0);
      const labels = await other.$$eval("#rows .avatar", (all) =>
        all.slice(0, 50).map((face) => [face.getAttribute("role"), face.getAttribute("aria-label"), face.textContent]),
      );
      for (const [role, label, text] of labels) {
        assert.ok(role === "img" && label.startsWith("Initials of ") && text.length > 0, `${role} ${label} ${text}`);
      }
    } finally {
      await context.close();
    }
  });

  await check("the keyboard opens and closes the contact panel", async () => {
    // Tab goes from the search box through the rows.
    await page.focus("#search");
    await page.keyboard.press("Tab");
    const rows = await page.$$eval("#rows .row", (all) => all.slice(0, 2).map((row) => row.dataset.id));
    assert.equal(await page.evaluate(() => document.activeElement?.dataset.id), rows[0]);
    await page.keyboard.press("Tab");
    assert.equal(await page.evaluate(() => document.activeElement?.dataset.id), rows[1]);
    await page.keyboard.press("Shift+Tab");
    await page.keyboard.press("Enter");
    await page.waitForSelector("#panel:not([hidden]) #panel-history li");
    // The first page's contacts all have pictures: the panel shows the 512 px one.
    const width = await (
      await page.waitForFunction(() => {
        const image = document.querySelector("#panel-picture img");
        return image?.complete && image.naturalWidth > 0 && image.naturalWidth;
      })
    ).jsonValue();
    assert.equal(width, 512, "the 512 px rendition");
    assert.match(await page.$eval("#panel-picture img", (image) => image.src), /\/512\//);
    await page.screenshot({ path: join(shots, "contact-panel.png"), animations: "disabled" });
    await page.keyboard.press("Escape");
    assert.equal(await page.isHidden("#panel"), true);
    assert.equal(await page.evaluate(() => document.activeElement?.className), "row", "focus back on the row");
  });

  await check("the conversations column shows cards read with BatchGetContacts", async () => {
    const cards = await page.locator("#conversations .card").count();
    assert.ok(cards >= 1 && cards <= 10, `${cards} cards`);
    await page.locator("#conversations").screenshot({ path: join(shots, "conversations.png"), animations: "disabled" });
  });

  await check("a picture uploaded through the form appears in the list", async () => {
    await page.fill("#create [name=first_name]", "Uploaded");
    await page.fill("#create [name=last_name]", "Through Browser");
    await page.setInputFiles("#picture", { name: "face.png", mimeType: "image/png", buffer: await portrait() });
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
    await page.locator("#create").screenshot({ path: join(shots, "refused-picture.png"), animations: "disabled" });
    await page.fill("#create [name=first_name]", "");
    await page.setInputFiles("#picture", []);
  });

  await check("search finds the duplicate pair, and the panel merges them", async () => {
    await page.fill("#search", "Grace Hopper");
    await page.waitForFunction(() => document.querySelectorAll("#rows .row").length === 2);
    // The newer of the two has no picture; the older one's is taken in the merge.
    await page.locator("#rows .row", { has: page.locator(".avatar[role=img]") }).click();
    await page.click("#find-duplicates");
    await page.locator("#duplicates button", { hasText: "Merge Grace Hopper" }).click();
    await page.waitForFunction(() =>
      [...document.querySelectorAll("#panel-fields dt")].some((term) => term.textContent === "Merged contacts"),
    );
    await page.waitForFunction(() => {
      const image = document.querySelector("#panel-picture img");
      return image && image.complete && image.naturalWidth > 0;
    });
    await page.waitForFunction(() => {
      const rows = document.querySelectorAll("#rows .row");
      const image = rows[0]?.querySelector("img");
      return rows.length === 1 && image?.complete && image.naturalWidth > 0;
    });
    const history = await page.$$eval("#panel-history li", (items) => items.map((item) => item.textContent));
    assert.equal(history.length, 2, history.join("\n"));
    assert.match(history[0], /^Revision 2 .* with a picture$/, history[0]);
    await page.keyboard.press("Escape");
    await page.fill("#search", "");
    await page.waitForFunction(() => document.querySelectorAll("#rows .row").length >= 50);
  });

  await check("an existing contact gets a picture through the panel", async () => {
    // Contacts without pictures are on the second page.
    await page.evaluate(() => document.querySelector("#list-end")?.scrollIntoView());
    const plain = page.locator("#rows .row", { has: page.locator(".avatar[role=img]") }).first();
    const id = await plain.getAttribute("data-id");
    await plain.focus();
    await page.keyboard.press("Enter");
    await page.waitForSelector("#panel:not([hidden]) #panel-history li");
    await page.setInputFiles("#replace-picture", { name: "face.png", mimeType: "image/png", buffer: await portrait() });
    await page.waitForFunction(() => {
      const image = document.querySelector("#panel-picture img");
      return image && image.complete && image.naturalWidth > 0;
    });
    await page.waitForFunction((id) => {
      const image = document.querySelector(`#rows .row[data-id="${id}"] img`);
      return image && image.complete && image.naturalWidth > 0;
    }, id);
    await page.keyboard.press("Escape");
    const focused = await page.evaluate(() => document.activeElement?.getAttribute("data-id"));
    assert.equal(focused, id, "focus back on the contact's redrawn row");
  });

  if (ttlSeconds > 0) {
    await check("a stable URL handed out before a TTL bucket ended still shows the picture after it", async () => {
      assert.ok(signedBefore, "the stable URL redirects");
      // Until the signed URL it led to has expired: the bucket has ended.
      const deadline = Date.now() + 30 * ttlSeconds * 1000;
      while ((await fetch(signedBefore)).status === 200) {
        assert.ok(Date.now() < deadline, `the signed URL ${signedBefore} never expired`);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      // A browser with an empty cache (a page's own list of images would
      // answer from memory) still gets the picture through the stable URL.
      const fresh = await browser.newContext();
      try {
        const other = await fresh.newPage();
        await other.goto(base);
        const width = await other.evaluate(
          (url) =>
            new Promise((resolve) => {
              const image = new Image();
              image.onload = () => resolve(image.naturalWidth);
              image.onerror = () => resolve(0);
              image.src = url;
            }),
          stableBefore,
        );
        assert.ok(width > 0, `the picture loads from ${stableBefore} after its first signed URL expired`);
      } finally {
        await fresh.close();
      }
    });
  }

  await check("the page raised no error", async () => assert.deepEqual(failures, []));
} finally {
  await browser.close();
}
