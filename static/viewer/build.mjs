// Build the RadViewer browser bundle with esbuild.
//   npm run build            -> ../dist/viewer.js, ../dist/viewer.css, ../dist/computeWorker.js,
//                               ../dist/painter.js, ../dist/painter.css (RadPainter, core only)
//   npm run build -- --dev   -> same, unminified, with inline source maps
//   npm run build -- --full-xml -> bundle the real xmlbuilder2 instead of the stub (see below)
//   npm run watch            -> rebuild on change
// Output goes to static/dist/ (git-ignored). No absolute paths, no network.
import * as esbuild from 'esbuild';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import fs from 'node:fs';

const here = path.dirname(fileURLToPath(import.meta.url));
const outdir = path.resolve(here, '..', 'dist');
const args = new Set(process.argv.slice(2));
const dev = args.has('--dev');
const watch = args.has('--watch');

// vtk.js IO/XML imports xmlbuilder2, whose package "main" is the node build. Cornerstone reaches
// it only through 3D mesh loading and OrientationMarkerTool, which RadViewer never uses, so a
// stub that throws replaces it (-475 KiB). Build with --full-xml to bundle the real browser build.
const xmlbuilder2 = args.has('--full-xml')
  ? path.join(here, 'node_modules', 'xmlbuilder2', 'lib', 'xmlbuilder2.min.js')
  : path.join(here, 'src', 'stubs', 'xmlbuilder2.js');

// @cornerstonejs/tools creates its compute worker (segmentation statistics, contours) with
//   new Worker(new URL('../workers/computeWorker.js', import.meta.url), {type: 'module'})
// which esbuild neither follows nor can express in an IIFE (import.meta is empty there).
// Rewrite it to load computeWorker.js from the directory viewer.js was served from; that
// file is built below as a second entry point.
const computeWorkerUrlPlugin = {
  name: 'radviewer-compute-worker-url',
  setup(build) {
    build.onLoad({ filter: /[\\/]@cornerstonejs[\\/]tools[\\/].*registerComputeWorker\.js$/ }, async (a) => {
      let src = await fs.promises.readFile(a.path, 'utf8');
      const before = src;
      src = src.replace(
        /new URL\(\s*['"]\.\.\/workers\/computeWorker\.js['"]\s*,\s*import\.meta\.url\s*\)/,
        "new URL('computeWorker.js', globalThis.__RADVIEWER_ASSET_BASE__ || location.href)",
      );
      if (src === before) {
        throw new Error('registerComputeWorker.js changed upstream: update the compute worker rewrite in build.mjs');
      }
      return { contents: src, loader: 'js' };
    });
  },
};

const common = {
  bundle: true,
  minify: !dev,
  sourcemap: dev ? 'inline' : false,
  target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
  legalComments: 'none',
  logLevel: 'warning',
  alias: { xmlbuilder2 },
  define: { 'process.env.NODE_ENV': dev ? '"development"' : '"production"' },
  plugins: [computeWorkerUrlPlugin],
};

const builds = [
  { ...common, entryPoints: { viewer: path.join(here, 'src', 'index.js') }, format: 'iife', outdir },
  { ...common, entryPoints: { computeWorker: path.join(here, 'node_modules', '@cornerstonejs', 'tools', 'dist', 'esm', 'workers', 'computeWorker.js') }, format: 'esm', outdir },
  { ...common, entryPoints: { viewer: path.join(here, 'src', 'viewer.css') }, outdir },
  // RadPainter: mask painter. Uses @cornerstonejs/core only (display, zoom, pan), no tools.
  { ...common, entryPoints: { painter: path.join(here, 'src', 'painter-index.js') }, format: 'iife', outdir },
  { ...common, entryPoints: { painter: path.join(here, 'src', 'painter.css') }, outdir },
];

const t0 = performance.now();
if (watch) {
  for (const b of builds) {
    const ctx = await esbuild.context(b);
    await ctx.watch();
  }
  console.log(`watching; output in ${path.relative(process.cwd(), outdir) || '.'}`);
} else {
  await Promise.all(builds.map((b) => esbuild.build(b)));
  const files = fs.readdirSync(outdir).filter((f) => /\.(js|css)$/.test(f)).sort();
  for (const f of files) {
    const kb = (fs.statSync(path.join(outdir, f)).size / 1024).toFixed(0);
    console.log(`  dist/${f}  ${kb} KiB`);
  }
  console.log(`built in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}
