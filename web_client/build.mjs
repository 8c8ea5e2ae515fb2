// Build the web client into dist/: bundles in dist/static/, pages at the top of dist/.
// Usage: npm ci && npm run build   (no network beyond the npm registry, no CDN)

import { copyFile, mkdir, rm } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const root = path.dirname(fileURLToPath(import.meta.url));
const dist = path.join(root, "dist");
const staticDir = path.join(dist, "static");

const ENTRY_POINTS = ["patient", "physician", "supervisor", "index"];
const PAGES = ["patient.html", "physician.html", "supervisor.html", "index.html"];

async function bundle() {
  await esbuild.build({
    absWorkingDir: root,
    entryPoints: Object.fromEntries(ENTRY_POINTS.map((name) => [name, `src/${name}.js`])),
    outdir: staticDir,
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2020",
    sourcemap: true,
    minify: false,
    splitting: false,
    legalComments: "linked",
    logLevel: "info",
  });
}

async function copyPages() {
  for (const page of PAGES) {
    await copyFile(path.join(root, "pages", page), path.join(dist, page));
  }
  await copyFile(path.join(root, "pages", "style.css"), path.join(staticDir, "style.css"));
}

await rm(dist, { recursive: true, force: true });
await mkdir(staticDir, { recursive: true });
await bundle();
await copyPages();
console.log(`web client built in ${path.relative(process.cwd(), dist) || "."}`);
