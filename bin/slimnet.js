#!/usr/bin/env node
// The slimnet command. It runs the built CLI (dist/cli/main.js) when there is
// one and no source under src/ is newer than that build (dist/.build-stamp);
// otherwise it runs src/ through tsx's loader. So an installed package (which
// ships dist/ and no src/) runs plain JavaScript, and a development checkout
// never silently runs a stale build: edit a file and the next command runs
// the sources again, until `npm run build:ts`. SLIMNET_FROM_SOURCE=1 forces
// the sources.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'src');
const built = join(root, 'dist', 'cli', 'main.js');
const stamp = join(root, 'dist', '.build-stamp');

// Newest modification time of the files the build reads (tests excluded:
// editing one does not change what dist/ runs).
function newestSource(dir) {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestSource(p));
    else if (!e.name.endsWith('.test.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

function runBuilt() {
  if (process.env.SLIMNET_FROM_SOURCE === '1' && existsSync(src)) return false;
  if (!existsSync(src)) return true;
  if (!existsSync(built) || !existsSync(stamp)) return false;
  const inputs = [join(root, 'tsconfig.json'), join(root, 'tsconfig.build.json')].filter(existsSync).map((f) => statSync(f).mtimeMs);
  return statSync(stamp).mtimeMs >= Math.max(newestSource(src), ...inputs);
}

if (runBuilt()) {
  if (!existsSync(built)) {
    process.stderr.write(`slimnet: ${built} is missing: this copy of slimnet was packed without its build (npm run build:ts)\n`);
    process.exit(1);
  }
  await import(pathToFileURL(built).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(join(src, 'cli', 'main.ts')).href);
}
