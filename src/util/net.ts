// A free TCP port for a rendezvous on this machine (the --nproc launcher's
// MASTER_PORT, the distributed tests and the ddp benchmark).
import { createServer } from 'node:net';

/** A port nobody listens on right now (the kernel's pick, released at once). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}
