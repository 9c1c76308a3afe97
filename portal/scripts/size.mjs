// Fails when the JavaScript a first visit loads (the entry script and the chunks index.html
// preloads) is over the budget, gzipped. Prints every file of dist/assets for reference.
import { readFileSync, readdirSync, existsSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

const BUDGET = Number(process.env.SIZE_BUDGET_KB ?? 200) * 1024;
const dist = new URL("../dist/", import.meta.url).pathname;
if (!existsSync(join(dist, "index.html"))) {
  console.error("size: dist/index.html is missing; run `npm run build` first");
  process.exit(1);
}
const html = readFileSync(join(dist, "index.html"), "utf8");
const initial = new Set();
for (const m of html.matchAll(/<script[^>]+src="\/?([^"]+\.js)"/g)) initial.add(m[1]);
for (const m of html.matchAll(/<link[^>]+rel="modulepreload"[^>]+href="\/?([^"]+\.js)"/g)) initial.add(m[1]);
for (const m of html.matchAll(/<link[^>]+href="\/?([^"]+\.js)"[^>]+rel="modulepreload"/g)) initial.add(m[1]);
const css = [...html.matchAll(/<link[^>]+href="\/?([^"]+\.css)"/g)].map((m) => m[1]);

const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
const sizes = (file) => {
  const data = readFileSync(join(dist, file));
  return { raw: data.length, gzip: gzipSync(data, { level: 9 }).length };
};

console.log("file                                         raw        gzip   loaded");
let total = 0;
const assets = readdirSync(join(dist, "assets")).filter((f) => /\.(js|css)$/.test(f)).sort();
for (const name of assets) {
  const file = `assets/${name}`;
  const { raw, gzip } = sizes(file);
  const first = initial.has(file) || css.includes(file);
  if (initial.has(file)) total += gzip;
  console.log(`${file.padEnd(42)} ${kb(raw).padStart(9)} ${kb(gzip).padStart(10)}   ${first ? "initial" : "on demand"}`);
}
if (initial.size === 0) {
  console.error("size: found no entry script in dist/index.html");
  process.exit(1);
}
console.log(`\ninitial JavaScript: ${kb(total)} gzipped (budget ${kb(BUDGET)})`);
if (total > BUDGET) {
  console.error(`size: over budget by ${kb(total - BUDGET)}`);
  process.exit(1);
}
console.log("size: within budget");
