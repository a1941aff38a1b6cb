// Bundles the console into dist/: one script, the stylesheet and the page.
import { build } from "esbuild";
import { cp, mkdir, rm } from "node:fs/promises";

await rm("dist", { recursive: true, force: true });
await mkdir("dist");
await build({
  entryPoints: ["src/main.ts"],
  bundle: true,
  format: "esm",
  target: "es2022",
  minify: true,
  sourcemap: true,
  outfile: "dist/console.js",
  logLevel: "warning",
});
await cp("static", "dist", { recursive: true });
