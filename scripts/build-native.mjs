// Builds the N-API addon with cmake-js against the libtorch find-libtorch.mjs
// locates. Skips the build when the addon is newer than every native source
// (pass --force to rebuild).
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findLibtorch } from './find-libtorch.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const addon = join(root, 'build', 'Release', 'slimnet_native.node');

function newestSource() {
  const dir = join(root, 'native', 'src');
  const files = [join(root, 'CMakeLists.txt'), ...readdirSync(dir).map((f) => join(dir, f))];
  return Math.max(...files.map((f) => statSync(f).mtimeMs));
}

const force = process.argv.includes('--force') || process.env.LIBTORCH !== undefined;
if (!force && existsSync(addon) && statSync(addon).mtimeMs > newestSource()) {
  console.log(`slimnet: native addon is up to date (${addon})`);
  process.exit(0);
}

const torch = findLibtorch();
if (!torch) {
  console.error(
    'slimnet: no libtorch found. Install Debian\'s libtorch-dev (apt-get install libtorch-dev),\n' +
      'or a Python torch, or set LIBTORCH=/path/to/libtorch (a directory with include/ and lib/).',
  );
  process.exit(1);
}
console.log(`slimnet: building against libtorch from ${torch.source} (${torch.libdir}, cxx11 abi ${torch.cxx11Abi})`);
const addonApi = dirname(require.resolve('node-addon-api/package.json'));
const cmakeJs = join(dirname(require.resolve('cmake-js/package.json')), 'bin', 'cmake-js');
execFileSync(
  process.execPath,
  [
    cmakeJs,
    'compile',
    '--directory', root,
    '--out', join(root, 'build'),
    `--CDLIBTORCH_INCLUDE=${torch.include}`,
    `--CDLIBTORCH_LIBDIR=${torch.libdir}`,
    `--CDLIBTORCH_CXX11_ABI=${torch.cxx11Abi}`,
    `--CDNODE_ADDON_API_DIR=${addonApi}`,
    '--parallel', String(Math.max(1, (await import('node:os')).availableParallelism())),
  ],
  { stdio: 'inherit', cwd: root },
);
