// Progress of a Trainer.fit() as observer progress events: one task per
// epoch and phase (training, then validation), counted in images, with the
// running loss and accuracy as the task's info.
import type { ProgressListener } from '../util/events.js';
import { ProgressTask } from '../util/events.js';
import type { Callback, ProgressInfo } from '../train/index.js';

export interface FitProgress {
  /** Give to the Trainer's callbacks (it reads each step's batch size). */
  callback: Callback;
  /** Give to fit()'s onProgress. */
  onProgress: (p: ProgressInfo) => void;
  /** Ends the open task (after fit() returns or throws). */
  close(): void;
}

/**
 * `label` names the tasks ('λ=1e-2' gives 'λ=1e-2 epoch 1/10' and
 * 'λ=1e-2 val   1/10'); `id` keeps them apart from other tasks of the run.
 */
export function fitProgress(listener: ProgressListener | undefined, o: { id: string; label: string; trainImages: number; valImages: number; evalBatch: number }): FitProgress {
  let task: ProgressTask | undefined;
  let key = '';
  let stepImages = 0;
  const close = () => {
    task?.end();
    task = undefined;
    key = '';
  };
  return {
    callback: { onStepEnd: (info) => void (stepImages = info.batchSize) },
    onProgress: (p) => {
      if (!listener) return;
      const k = `${p.phase}${p.epoch}`;
      const images = p.phase === 'train' ? o.trainImages : o.valImages;
      if (k !== key) {
        task?.end();
        key = k;
        task = new ProgressTask(listener, { id: `${o.id}.${p.phase}.${p.epoch}`, label: `${o.label} ${p.phase === 'train' ? 'epoch' : 'val  '} ${p.epoch + 1}/${p.epochs}`, total: images, unit: 'img' });
      }
      const n = p.phase === 'train' ? stepImages : Math.min(o.evalBatch, images - (p.step - 1) * o.evalBatch);
      task!.tick(n, `loss ${p.loss.toFixed(4)} acc ${(p.accuracy * 100).toFixed(2)} %`);
    },
    close,
  };
}
