// Builds the N-API addon with cmake-js against the libtorch find-libtorch.mjs
// locates. Skips the build when the addon is newer than every native source
// and, with LIBTORCH set, was built against that libtorch (pass --force to
// rebuild). It is the package's `install` script too: `npm ci` here and
// `npm install slimnet` in a user's project build the addon through it, from
// wherever the package lies (node_modules/slimnet included), so setup.sh's
// own call after `npm ci` finds it up to date.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findLibtorch } from './find-libtorch.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const addon = join(root, 'build', 'Release', 'slimnet_native.node');

function newestSource() {
  const dir = join(root, 'native', 'src');
  const files = [join(root, 'CMakeLists.txt'), join(root, 'scripts', 'build-native.mjs'), join(root, 'scripts', 'find-libtorch.mjs'), ...readdirSync(dir).map((f) => join(dir, f))];
  return Math.max(...files.map((f) => statSync(f).mtimeMs));
}

// The libtorch the addon was last built against (written after each build).
const built = join(root, 'build', 'libtorch.json');
function builtAgainst() {
  try {
    return JSON.parse(readFileSync(built, 'utf8')).libdir;
  } catch {
    return undefined;
  }
}

const force = process.argv.includes('--force');
// LIBTORCH names a libtorch explicitly: rebuild when the addon was built against another one.
const libtorchChanged = process.env.LIBTORCH !== undefined && builtAgainst() !== join(process.env.LIBTORCH, 'lib');
if (!force && !libtorchChanged && existsSync(addon) && statSync(addon).mtimeMs > newestSource()) {
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
// Node's own headers of the running Node (nodedir), when they offer GC-time
// finalizers (node_api_post_finalizer); see CMakeLists.txt.
const nodeInclude = [join(dirname(process.execPath), '..', 'include', 'node'), process.env.npm_config_nodedir && join(process.env.npm_config_nodedir, 'include', 'node')]
  .filter(Boolean)
  .find((d) => existsSync(join(d, 'js_native_api.h')) && readFileSync(join(d, 'js_native_api.h'), 'utf8').includes('node_api_post_finalizer'));
console.log(nodeInclude ? `slimnet: GC-time finalizers with Node headers in ${nodeInclude}` : 'slimnet: Node headers without GC-time finalizers; using node-api-headers (Node-API 8)');
const cmakeJs = join(dirname(require.resolve('cmake-js/package.json')), 'bin', 'cmake-js');
execFileSync(
  process.execPath,
  [
    cmakeJs,
    'rebuild',
    '--directory', root,
    '--out', join(root, 'build'),
    `--CDLIBTORCH_INCLUDE=${torch.include}`,
    `--CDLIBTORCH_LIBDIR=${torch.libdir}`,
    `--CDLIBTORCH_CXX11_ABI=${torch.cxx11Abi}`,
    `--CDNODE_ADDON_API_DIR=${addonApi}`,
    ...(nodeInclude ? [`--CDSLIMNET_NODE_API_INCLUDE=${nodeInclude}`] : []),
    '--parallel', String(Math.max(1, (await import('node:os')).availableParallelism())),
  ],
  { stdio: 'inherit', cwd: root },
);
writeFileSync(built, `${JSON.stringify(torch)}\n`);
