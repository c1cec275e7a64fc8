// Locates a libtorch to build against, in the order the README documents:
// 1. LIBTORCH=<dir> (an unpacked libtorch zip or any tree with include/ and lib/),
// 2. a Python `torch` install (python3, then /usr/bin/python3),
// 3. Debian's libtorch-dev.
import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

function layout(root, source) {
  const include = join(root, 'include');
  const libdir = join(root, 'lib');
  if (!existsSync(join(include, 'ATen', 'ATen.h'))) return null;
  if (!existsSync(join(libdir, 'libtorch_cpu.so'))) return null;
  return { source, include, libdir, cxx11Abi: abiOf(libdir) };
}

// A libtorch built with the pre-C++11 ABI names std::string symbols without
// __cxx11; compiling the addon with the wrong flag links but crashes.
function abiOf(libdir) {
  try {
    const out = execFileSync('nm', ['-D', '--defined-only', join(libdir, 'libc10.so')], { encoding: 'utf8', maxBuffer: 1 << 28 });
    return out.includes('__cxx11') ? 1 : 0;
  } catch {
    return 1;
  }
}

function fromPython(python) {
  try {
    const out = execFileSync(python, ['-c', 'import os, torch; print(os.path.dirname(torch.__file__)); print(int(torch._C._GLIBCXX_USE_CXX11_ABI))'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const [dir, abi] = out.trim().split('\n');
    const found = layout(dir, `python torch (${python})`);
    if (found) found.cxx11Abi = Number(abi);
    return found;
  } catch {
    return null;
  }
}

export function findLibtorch() {
  const env = process.env.LIBTORCH;
  if (env) {
    const found = layout(env, `LIBTORCH=${env}`);
    if (!found) throw new Error(`LIBTORCH=${env} does not look like libtorch: expected ${env}/include/ATen/ATen.h and ${env}/lib/libtorch_cpu.so`);
    return found;
  }
  for (const py of ['python3', '/usr/bin/python3']) {
    const found = fromPython(py);
    if (found) return found;
  }
  const debian = { source: 'Debian libtorch-dev', include: '/usr/include', libdir: '/usr/lib/x86_64-linux-gnu' };
  for (const libdir of ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib']) {
    if (existsSync(join(libdir, 'libtorch_cpu.so')) && existsSync('/usr/include/ATen/ATen.h')) {
      return { ...debian, libdir, cxx11Abi: abiOf(libdir) };
    }
  }
  return null;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(findLibtorch(), null, 2));
}
