// A fuzz worker (a child process of the campaign): makes cases [from, to) of
// one format and reads each, writing one line before each case and one after
// with its outcome. The lines go out with a synchronous write, so when a case
// kills the process (a native abort) the campaign knows which case it was.
import { mkdirSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import { FUZZ_FORMATS, makeCase, readBase, readCase, type FuzzCase } from './formats.js';
import { rngFor } from './mutate.js';
import { classify, type WorkerArgs, type WorkerLine } from './protocol.js';

const emit = (line: WorkerLine): void => {
  writeSync(1, `${JSON.stringify(line)}\n`);
};

function selfTestCase(i: number): void {
  if (i === 1) process.abort();
  if (i === 2) for (;;);
}

async function main(): Promise<void> {
  const a = JSON.parse(process.argv[2]!) as WorkerArgs;
  // Case files are new paths each time, but libvips must not answer from a cache either.
  sharp.cache(false);
  const base = readBase(a.baseDir);
  const fi = FUZZ_FORMATS.indexOf(a.format);
  for (let i = a.from; i < a.to; i++) {
    let c: FuzzCase;
    try {
      c = makeCase(a.format, rngFor(a.seed, fi, i), base);
    } catch (e) {
      emit({ b: i, how: 'generator' });
      emit({ e: i, o: 'generator', m: (e as Error).stack?.slice(0, 400) });
      continue;
    }
    const dir = join(a.scratchDir, `c${i}`);
    for (const [name, bytes] of Object.entries(c.files)) {
      mkdirSync(dirname(join(dir, name)), { recursive: true });
      writeFileSync(join(dir, name), bytes);
    }
    emit({ b: i, how: c.how });
    const target = join(dir, c.target);
    let line: WorkerLine;
    try {
      if (a.selfTest) selfTestCase(i);
      else await readCase(a.format, dir, c);
      line = { e: i, o: 'accepted' };
    } catch (e) {
      const o = classify(e, target);
      const m = e instanceof Error ? `${e.constructor.name}: ${e.message}` : String(e);
      line = { e: i, o, m: (o === 'rejected' ? m : `${m}\n${(e as Error)?.stack ?? ''}`).slice(0, 600) };
    }
    rmSync(dir, { recursive: true, force: true });
    emit(line);
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    writeSync(2, `fuzz worker: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exit(3);
  },
);
