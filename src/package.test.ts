// The published package, end to end, as a user gets it: `npm pack` (whose
// prepack builds dist/), an install of the tarball into an empty project,
// offline from npm's cache (its install step builds the native addon from
// the shipped sources), and then, with plain node and no tsx anywhere, the
// README's library example exactly as the README prints it, every subpath
// of the exports map, the `slimnet` command, and a TypeScript consumer of
// the shipped .d.ts files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  license: string;
  bin: Record<string, string>;
  engines: Record<string, string>;
  dependencies: Record<string, string>;
  exports: Record<string, string | { types: string; default: string }>;
};

/** The first ```js block under the README's "## Use it as a library" heading. */
function readmeExample(readme: string): string {
  const section = readme.split(/^## /m).find((s) => s.startsWith('Use it as a library'));
  if (!section) throw new Error('README.md has no "## Use it as a library" section');
  const block = /^```js\n([\s\S]*?)^```$/m.exec(section);
  if (!block) throw new Error('the "Use it as a library" section of README.md has no ```js block');
  return block[1]!;
}

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<Ran> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr, seconds: (performance.now() - t0) / 1000 }));
  });
}

function ok(r: Ran, what: string): Ran {
  // The offline install takes every package from npm's cache, which `npm ci` here filled.
  const hint = r.stderr.includes('ENOTCACHED') ? "\nnpm's cache lacks a package this repository's lockfile names: run `npm ci` (scripts/setup.sh) once with network access" : '';
  assert.equal(r.code, 0, `${what} failed (exit ${r.code})${hint}\n--- stdout\n${r.stdout.slice(-4000)}\n--- stderr\n${r.stderr.slice(-4000)}`);
  return r;
}

// npm run / npm test hand their configuration to children as npm_* variables
// (npm_config_local_prefix names this repository): the nested npm must not
// inherit them, nor node any loader hooks (the point is plain node).
function cleanEnv(): NodeJS.ProcessEnv {
  const keep = new Set(['npm_config_cache', 'npm_config_userconfig', 'npm_config_registry']);
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith('npm_') || keep.has(k.toLowerCase())));
  delete env.NODE_OPTIONS;
  return { ...env, SLIMNET_NUM_THREADS: '1' };
}

/**
 * A lockfile for an empty project that depends on the tarball: this
 * repository's own (non-dev) lock entries, so an offline install takes
 * exactly the versions `npm ci` put into npm's cache here instead of
 * resolving the ranges against cached registry metadata, which may name
 * newer versions that were never downloaded.
 */
function projectLock(tarball: string): { packageJson: object; lock: object } {
  const repoLock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
  const spec = `file:${tarball}`;
  const packages: Record<string, unknown> = {
    '': { name: 'slimnet-example', dependencies: { [PKG.name]: spec } },
    [`node_modules/${PKG.name}`]: { version: PKG.version, resolved: spec, hasInstallScript: true, license: PKG.license, dependencies: PKG.dependencies, bin: PKG.bin, engines: PKG.engines },
  };
  for (const [k, v] of Object.entries(repoLock.packages)) if (k.startsWith('node_modules/') && !v.dev) packages[k] = v;
  return {
    packageJson: { name: 'slimnet-example', private: true, type: 'module', dependencies: { [PKG.name]: spec } },
    lock: { name: 'slimnet-example', lockfileVersion: 3, requires: true, packages },
  };
}

test('every exports subpath names a barrel in src/', () => {
  for (const [sub, target] of Object.entries(PKG.exports)) {
    if (sub === './package.json') continue;
    assert.ok(typeof target === 'object', `${sub}: expected { types, default }`);
    assert.match(target.default, /^\.\/dist\/(.+\/)?index\.js$/, sub);
    assert.equal(target.types, target.default.replace(/\.js$/, '.d.ts'), sub);
    const source = join(ROOT, target.default.replace(/^\.\/dist\//, 'src/').replace(/\.js$/, '.ts'));
    assert.ok(existsSync(source), `${sub} → ${target.default}: ${source} does not exist`);
  }
});

test('readmeExample finds the block under its heading only', () => {
  const readme = '# x\n```js\nnot this\n```\n## Use it as a library\ntext\n```sh\nnpm i\n```\n```js\nthis();\n```\n## Next\n```js\nnor this\n```\n';
  assert.equal(readmeExample(readme), 'this();\n');
  assert.throws(() => readmeExample('# x\n## Other\n```js\nx\n```\n'), /no "## Use it as a library" section/);
});

test('the packed tarball installs offline, builds its addon and runs the README example with plain node', { timeout: 30 * 60_000 }, async (t) => {
  const example = readmeExample(readFileSync(join(ROOT, 'README.md'), 'utf8'));
  const dir = mkdtempSync(join(tmpdir(), 'slimnet-package-'));
  t.after(() => {
    if (process.env.SLIMNET_KEEP_TMP !== '1') rmSync(dir, { recursive: true, force: true });
  });
  const env = cleanEnv();

  // npm pack: prepack builds dist/; --json lists what the tarball holds.
  const pack = ok(await run('npm', ['pack', '--json', '--pack-destination', dir], ROOT, env), 'npm pack');
  const [info] = JSON.parse(pack.stdout) as { filename: string; files: { path: string }[] }[];
  const files = info!.files.map((f) => f.path);
  for (const f of ['package.json', 'README.md', 'bin/slimnet.js', 'dist/index.js', 'dist/index.d.ts', 'dist/cli/main.js', 'dist/tensor/worker-entry.js', 'dist/data/loader-worker.js', 'native/src/ops.cc', 'CMakeLists.txt', 'scripts/build-native.mjs', 'scripts/find-libtorch.mjs']) {
    assert.ok(files.includes(f), `the tarball lacks ${f}`);
  }
  assert.deepEqual(files.filter((f) => /^src\/|\.test\.|(^|\/)fixtures\//.test(f)), [], 'the tarball ships sources, tests or fixtures');
  assert.ok(!files.some((f) => f.startsWith('build/')), 'the tarball ships a built addon (it must be built on install)');

  // The install: offline, onnxruntime-node's CUDA download skipped as the README says.
  const { packageJson, lock } = projectLock(info!.filename);
  writeFileSync(join(dir, 'package.json'), JSON.stringify(packageJson, null, 2));
  writeFileSync(join(dir, 'package-lock.json'), JSON.stringify(lock, null, 2));
  const install = ok(
    await run('npm', ['install', '--offline', '--onnxruntime-node-install=skip', '--no-audit', '--no-fund', `./${info!.filename}`], dir, env),
    'npm install of the tarball',
  );
  t.diagnostic(`npm pack ${pack.seconds.toFixed(0)} s, npm install (with the addon build) ${install.seconds.toFixed(0)} s`);
  const installed = join(dir, 'node_modules', PKG.name);
  assert.ok(existsSync(join(installed, 'build', 'Release', 'slimnet_native.node')), 'the install did not build the native addon');
  assert.ok(!existsSync(join(dir, 'node_modules', 'tsx')), 'tsx was installed: the package must run without it');

  // Every subpath loads in plain node.
  const subpaths = Object.keys(PKG.exports).filter((s) => s !== './package.json').map((s) => PKG.name + s.slice(1));
  const loadAll = `for (const s of ${JSON.stringify(subpaths)}) { const m = await import(s); if (Object.keys(m).length === 0) throw new Error(s + ' exports nothing'); }`;
  ok(await run(process.execPath, ['--input-type=module', '-e', loadAll], dir, env), 'importing every subpath');

  // The command, through bin/slimnet.js → dist/cli/main.js.
  const summary = ok(await run(join(dir, 'node_modules', '.bin', 'slimnet'), ['summary', '--arch', 'lenet5', '--json'], dir, env), 'slimnet summary');
  assert.equal((JSON.parse(summary.stdout.trim().split('\n').pop()!) as { totals: { params: number } }).totals.params, 3_274_634);

  // A TypeScript consumer typechecks against the shipped .d.ts files.
  writeFileSync(
    join(dir, 'consumer.ts'),
    "import { trainRun, type TrainReport, type Observer, SlimnetError } from 'slimnet';\nimport { Tensor } from 'slimnet/tensor';\n" +
      "const o: Observer = { onLog: (line: string) => void line };\nconst r: Promise<TrainReport> = trainRun({ arch: 'lenet5', epochs: 1 }, o);\nexport { r, Tensor, SlimnetError };\n",
  );
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  ok(await run(process.execPath, [tsc, '--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--types', 'node', '--skipLibCheck', 'consumer.ts'], dir, env), 'tsc on a consumer of the .d.ts files');

  // The README example, as printed there.
  writeFileSync(join(dir, 'example.mjs'), example);
  const ex = ok(await run(process.execPath, ['example.mjs'], dir, env), 'the README example');
  t.diagnostic(`README example ${ex.seconds.toFixed(0)} s, printing:`);
  for (const line of ex.stdout.trim().split('\n')) t.diagnostic(line);
  const accuracies = [...ex.stdout.matchAll(/test accuracy ([\d.]+) %/g)].map((m) => Number(m[1]));
  assert.equal(accuracies.length, 2, `expected the trained and the pruned model's test accuracy in:\n${ex.stdout}`);
  for (const a of accuracies) assert.ok(a > 10 && a <= 100, `accuracy ${a} %`);
  const onnx = join(dir, 'lenet5-pruned.onnx');
  assert.ok(existsSync(onnx) && statSync(onnx).size > 1000, 'the example wrote no ONNX file');
  assert.ok(existsSync(join(dir, 'runs', 'train', 'mnist-digits-lenet5', 'version_0', 'best.safetensors')), 'no trained checkpoint');
  assert.ok(existsSync(join(dir, 'runs', 'prune', 'mnist-digits-lenet5', 'version_0', 'pruned.safetensors')), 'no pruned checkpoint');
  const reloaded = Number(/reloaded: (\d+) parameters/.exec(ex.stdout)?.[1]);
  assert.ok(reloaded > 0 && reloaded < 3_274_634, `the reloaded pruned model should be smaller than lenet5's 3,274,634 parameters, got ${reloaded}`);
});
