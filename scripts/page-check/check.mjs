// page-check: opens one of shard-merge's HTML pages in headless Chromium as people open it, and
// checks what they would see.
//
// usage: node check.mjs --page FILE --via http|file --screenshot PNG
//          [--bands N] [--bars N] [--text STRING]... [--whole yes|no] [--modules DIR]
//
// --via http serves the page from a local HTTP server that sends Jenkins' default
// Content-Security-Policy (no script, no inline style, no style attribute); --via file opens it
// from disk (file://), as a downloaded artifact. Checks: the timeline has N bands (one per node)
// and N bars (`data-processes` summed: one per process), every --text is in the page's rendered
// text, and, served with the policy, that the policy did refuse the page's <style>: the page is
// read without it. Prints one JSON line of what it found; exit 0 when everything held, 1 when
// not, 2 on bad usage. Needs playwright-core (npm) and Chromium (/usr/bin/chromium, or
// $CHROMIUM). --whole no takes the screenshot of the first screenful only (1280 x 900) instead of
// the whole page; --modules is the node_modules folder playwright-core is in.
import { createServer } from "node:http";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { createRequire } from "node:module";

const JENKINS_CSP = "sandbox; default-src 'none'; img-src 'self'; style-src 'self';";

function usage(message) {
  console.error(`page-check: ${message}`);
  process.exit(2);
}

function parse(argv) {
  const args = { texts: [], whole: true };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) usage(`${flag} needs a value`);
    switch (flag) {
      case "--page": args.page = resolve(value); break;
      case "--via": args.via = value; break;
      case "--screenshot": args.screenshot = resolve(value); break;
      case "--bands": args.bands = Number(value); break;
      case "--bars": args.bars = Number(value); break;
      case "--text": args.texts.push(value); break;
      case "--modules": args.modules = value; break;
      case "--whole": args.whole = value !== "no"; break;
      default: usage(`unknown flag ${flag}`);
    }
  }
  if (!args.page || !["http", "file"].includes(args.via) || !args.screenshot) {
    usage("--page FILE, --via http|file and --screenshot PNG are needed");
  }
  return args;
}

/// Serves `page` at / with the policy; resolves to the server and its address.
function serve(page) {
  const body = readFileSync(page);
  const server = createServer((req, res) => {
    if (req.url !== "/" && req.url !== "/index.html") {
      res.writeHead(404, { "Content-Security-Policy": JENKINS_CSP });
      res.end("not found");
      return;
    }
    res.writeHead(200, {
      "Content-Type": "text/html; charset=utf-8",
      "Content-Security-Policy": JENKINS_CSP,
    });
    res.end(body);
  });
  return new Promise((ok) => server.listen(0, "127.0.0.1", () => ok(server)));
}

async function main() {
  const args = parse(process.argv.slice(2));
  const require = createRequire(args.modules ? resolve(args.modules, "x.js") : import.meta.url);
  const { chromium } = require("playwright-core");
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: [
      "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
  let server;
  const found = { via: args.via, problems: [] };
  try {
    let url;
    if (args.via === "http") {
      server = await serve(args.page);
      url = `http://127.0.0.1:${server.address().port}/`;
    } else {
      url = pathToFileURL(args.page).href;
    }
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const refused = [];
    const requests = [];
    page.on("console", (m) => {
      if (/Content Security Policy/i.test(m.text())) refused.push(m.text());
    });
    page.on("request", (r) => requests.push(r.url()));
    const response = await page.goto(url, { waitUntil: "load" });
    if (args.via === "http") {
      found.csp = response.headers()["content-security-policy"];
    }
    found.bands = await page.locator("svg#timeline g.band").count();
    const bars = page.locator("svg#timeline rect.bar");
    found.rects = await bars.count();
    found.bars = 0;
    for (const n of await bars.evaluateAll((rs) => rs.map((r) => r.getAttribute("data-processes")))) {
      found.bars += Number(n);
    }
    // What a person reads: the rendered text, with every <details> opened.
    for (const d of await page.locator("details").all()) {
      await d.evaluate((e) => { e.open = true; });
    }
    const text = await page.locator("body").innerText();
    found.missing = args.texts.filter((t) => !text.includes(t));
    found.styled = await page.evaluate(() => getComputedStyle(document.body).fontFamily.includes("system-ui"));
    found.refused = refused.length;
    found.fetched = requests.filter((r) => r !== url);
    await page.screenshot({ path: args.screenshot, fullPage: args.whole });
  } finally {
    await browser.close();
    if (server) server.close();
  }
  if (args.bands !== undefined && found.bands !== args.bands) {
    found.problems.push(`${found.bands} bands, not ${args.bands}`);
  }
  if (args.bars !== undefined && found.bars !== args.bars) {
    found.problems.push(`bars stand for ${found.bars} processes, not ${args.bars}`);
  }
  if (found.missing.length) found.problems.push(`not in the page: ${JSON.stringify(found.missing)}`);
  if (found.fetched.length) found.problems.push(`it fetched ${JSON.stringify(found.fetched)}`);
  if (args.via === "http" && (found.styled || found.refused === 0)) {
    found.problems.push("the policy did not refuse the page's <style>: the check proves nothing");
  }
  if (args.via === "file" && !found.styled) {
    found.problems.push("opened from disk, the page's <style> did not apply");
  }
  console.log(JSON.stringify(found));
  process.exit(found.problems.length ? 1 : 0);
}

main().catch((e) => {
  console.error(`page-check: ${e.stack || e}`);
  process.exit(1);
});
