// Test support for the CLI: runs bin/slimnet.js in a child process (one
// libtorch thread, so runs are reproducible and CI's two cores are not
// oversubscribed) and reads what commands leave behind.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../../bin/slimnet.js', import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** Environment variables over the test's (SLIMNET_NUM_THREADS is '1' unless given here). */
  env?: NodeJS.ProcessEnv;
  /** Sees the stdout so far as it arrives, with the child (e.g. to close its stdout like `| head`). */
  onStdout?: (text: string, child: ChildProcess) => void;
}

/** Runs `slimnet ...args`; `onStderr` sees the stderr so far as it arrives (with the child, to send it signals). */
export function cli(args: string[], onStderr?: (text: string, child: ChildProcess) => void, options: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, SLIMNET_NUM_THREADS: '1', ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      options.onStdout?.(stdout, child);
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      onStderr?.(stderr, child);
    });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** The JSON object a `--json` command prints as its last stdout line. */
export function lastJson(stdout: string): Record<string, unknown> {
  return JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, unknown>;
}

const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

export function isPng(path: string): boolean {
  return readFileSync(path).subarray(0, 8).equals(PNG_MAGIC);
}
