// onnxruntime's channel block read from the CPU's flags.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { channelBlockFromCpuinfo, ortChannelBlock } from './blocks.js';

const cpu = (flags: string) => `processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: ${flags}\nbugs\t\t: spectre_v1\n\nprocessor\t: 1\nflags\t\t: ${flags}\n`;

test('the block follows the widest vector unit: AVX-512 16, AVX2 8, otherwise none', () => {
  assert.equal(channelBlockFromCpuinfo(cpu('fpu sse2 avx avx2 fma avx512f avx512dq avx512bw')), 16);
  assert.equal(channelBlockFromCpuinfo(cpu('fpu sse2 avx avx2 fma')), 8);
  assert.equal(channelBlockFromCpuinfo(cpu('fpu sse2 avx')), 1);
  // avx512 as part of another flag's name does not count.
  assert.equal(channelBlockFromCpuinfo(cpu('fpu sse2 avx2 avx512_vnni_like')), 8);
  assert.equal(channelBlockFromCpuinfo('Processor : AArch64\nFeatures : fp asimd'), 1);
});

test('this machine has a block of 1, 8 or 16', () => {
  assert.ok([1, 8, 16].includes(ortChannelBlock()));
});
