import { defineConfig, type Plugin } from 'vite';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

// precache writes the list of built files and a build id into dist/sw.js
// (copied from public/ as is), so the service worker caches exactly this
// build's app shell and a new build installs a new worker.
function precache(): Plugin {
  let outDir = 'dist';
  let files: string[] = [];
  return {
    name: 'wache-precache',
    apply: 'build',
    configResolved(c) {
      outDir = c.build.outDir;
    },
    generateBundle(_opts, bundle) {
      files = Object.keys(bundle).filter((f) => !f.endsWith('.map'));
    },
    closeBundle() {
      // web/dist/README.txt is committed so that `go build` (embed) works on a fresh clone.
      writeFileSync(join(outDir, 'README.txt'), 'Built by `make web` (web/); embedded by package web.\n');
      const sw = join(outDir, 'sw.js');
      if (!existsSync(sw)) return;
      const shell = ['./', 'index.html', 'manifest.webmanifest', 'icon.svg', 'icon-192.png', 'icon-512.png',
        'wasm_exec.js', 'wache.wasm', ...files.filter((f) => f !== 'index.html')];
      const h = createHash('sha256');
      for (const f of shell) {
        const p = join(outDir, f === './' ? 'index.html' : f);
        if (existsSync(p)) h.update(f).update(readFileSync(p));
      }
      const id = h.digest('hex').slice(0, 12);
      const src = readFileSync(sw, 'utf8')
        .replace('"__BUILD_ID__"', JSON.stringify(id))
        .replace('["__SHELL__"]', JSON.stringify(shell));
      writeFileSync(sw, src);
    },
  };
}

export default defineConfig({
  base: './',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', sourcemap: false, assetsInlineLimit: 0 },
  plugins: [precache()],
  server: { proxy: { '/api': { target: 'http://127.0.0.1:8080', ws: true } } },
});
