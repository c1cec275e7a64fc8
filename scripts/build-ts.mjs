// Compiles src/ to dist/ (JavaScript with .d.ts beside it) with
// tsconfig.build.json: what the published package runs and what a library
// user's TypeScript reads. tsx stays for development and the tests.
//
// The build goes to dist.tmp/ and is swapped in when it is complete, so a CLI
// started meanwhile sees the old build or the new one, never half of one, and
// files of deleted sources do not linger. dist/.build-stamp is dated when the
// build started: bin/slimnet.js runs dist/ only while no source is newer.
// It reports on stderr: under `npm pack --json` (prepack) stdout is npm's JSON.
import { execFileSync } from 'node:child_process';
import { existsSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const tmp = join(root, 'dist.tmp');
const old = join(root, 'dist.old');
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

const started = new Date();
rmSync(tmp, { recursive: true, force: true });
try {
  execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json'), '--outDir', tmp], { stdio: ['ignore', process.stderr, process.stderr], cwd: root });
} catch {
  rmSync(tmp, { recursive: true, force: true });
  console.error('slimnet: the TypeScript build failed (see the errors above); dist/ was left as it was');
  process.exit(1);
}
const stamp = join(tmp, '.build-stamp');
writeFileSync(stamp, `${started.toISOString()}\n`);
utimesSync(stamp, started, started);
rmSync(old, { recursive: true, force: true });
if (existsSync(dist)) renameSync(dist, old);
renameSync(tmp, dist);
rmSync(old, { recursive: true, force: true });
console.error(`slimnet: built dist/ in ${((Date.now() - started.getTime()) / 1000).toFixed(1)} s`);
