// Logit regression (Ba & Caruana 2014; seed 001: "the sum of MSE between the
// student's and the pretrained model's logits"): Σ over classes of
// (s − t)², averaged over the batch. Seed 001 trains with it instead of
// cross-entropy, hence CE weight 0. A student of the teacher's own
// architecture trained with it converges to the teacher's outputs.
import { defineDistillLoss } from './registry.js';

defineDistillLoss({
  name: 'logits',
  title: 'logit regression (Ba & Caruana 2014)',
  source: 'Ba & Caruana 2014 (logit matching); seed 001 replaces cross-entropy by it (weight 1, CE 0)',
  needs: 'logits',
  adapt: false,
  sameSpatial: false,
  params: {
    weight: { default: 1, desc: 'factor of the term', min: 0 },
  },
  ceWeight: 0,
  compute({ studentLogits, teacherLogits }) {
    const d = studentLogits.sub(teacherLogits);
    return d.mul(d).sum().div(studentLogits.size(0));
  },
});
