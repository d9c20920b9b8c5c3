import { type LineTask, lineInputs } from '@reptile-bench/datasets/synthetic';

/** One full-batch SGD step on the MSE of y = w·x + b over `lineInputs` (float64, by hand). */
export function sgdStepByHand(w: number, b: number, task: LineTask, lr: number): [number, number] {
  const xs = lineInputs.map((x) => Math.fround(x));
  let gw = 0;
  let gb = 0;
  for (const x of xs) {
    const target = Math.fround(task.slope * x + task.intercept); // as the sampler stores it
    const r = w * x + b - target;
    gw += (2 * r * x) / xs.length;
    gb += (2 * r) / xs.length;
  }
  return [w - lr * gw, b - lr * gb];
}
