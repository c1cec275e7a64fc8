// `slimnet info`: the engine configuration (libtorch version, threads, CUDA, BLAS).
import { engineInfo } from '../../tensor/index.js';

export function infoCommand(): void {
  const i = engineInfo();
  const blas = i.blas ? `${i.blas.path}${i.blas.reference ? ' (the reference BLAS: slow; apt-get install libopenblas0-openmp)' : ''}` : 'not a separate library (built into libtorch, or /proc unreadable)';
  console.log(`libtorch ${i.torchVersion}\nthreads  ${i.threads}\ncuda     ${i.cuda}\nblas     ${blas}\n\n${i.parallel}`);
}
