// Runs `bin/slimnet.js` as a child process from source (tests of whole
// command lines: --nproc launches, exit codes, what lands on disk).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../../bin/slimnet.js', import.meta.url));

export interface ChildResult {
  code: number | null;
  out: string;
  err: string;
}

/** `slimnet ...args` with one thread per process; resolves when it closed. */
export function slimnet(args: readonly string[]): Promise<ChildResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, SLIMNET_FROM_SOURCE: '1', SLIMNET_NUM_THREADS: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('close', (code) => resolve({ code, out, err }));
  });
}
