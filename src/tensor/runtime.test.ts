// Which BLAS libtorch runs on: read from the process's memory map.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { blasFromMaps, engineInfo } from './runtime.js';

const line = (path: string) => `7f3afc324000-7f3afc334000 r-xp 00002000 08:01 1234   ${path}`;

test('blasFromMaps tells the reference BLAS from OpenBLAS behind the same alternatives name', () => {
  const reference = blasFromMaps([line('/usr/lib/x86_64-linux-gnu/blas/libblas.so.3'), line('/usr/lib/x86_64-linux-gnu/lapack/liblapack.so.3'), '7ffd0000-7ffd1000 rw-p 00000000 00:00 0   [stack]'].join('\n'));
  assert.deepEqual(reference, { path: '/usr/lib/x86_64-linux-gnu/blas/libblas.so.3', reference: true });
  const openblas = blasFromMaps([line('/usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3'), line('/usr/lib/x86_64-linux-gnu/openblas-openmp/libopenblasp-r0.3.21.so')].join('\n'));
  assert.equal(openblas?.reference, false);
  assert.match(openblas!.path, /openblas/);
  assert.equal(blasFromMaps(line('/usr/lib/x86_64-linux-gnu/libtorch_cpu.so.1.13')), null);
});

test('engineInfo names a BLAS file that exists (the one libtorch loaded)', () => {
  const { blas } = engineInfo();
  // A pip libtorch links MKL statically: then there is no separate file to name.
  if (blas) assert.ok(existsSync(blas.path), blas.path);
});
