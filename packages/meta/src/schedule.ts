/** The settings that decide the meta-step size at each meta-iteration. */
export interface MetaStepSchedule {
  metaIterations: number;
  metaStep: number;
  metaStepFinal: number;
}

/**
 * The meta-step size ε at `iteration` (0-based): linear from `metaStep` at iteration 0 towards `metaStepFinal`,
 * reached at `iteration = metaIterations` (so the last iteration run, `metaIterations − 1`, is one step short of
 * it), exactly as in the paper's code: `frac = i / n; ε = frac · final + (1 − frac) · initial`.
 */
export function metaStepAt(iteration: number, options: MetaStepSchedule): number {
  const { metaIterations, metaStep, metaStepFinal } = options;
  if (!Number.isInteger(metaIterations) || metaIterations <= 0)
    throw new RangeError(`metaIterations must be a positive integer, got ${metaIterations}`);
  if (!Number.isInteger(iteration) || iteration < 0 || iteration > metaIterations)
    throw new RangeError(`iteration must be an integer in [0, ${metaIterations}], got ${iteration}`);
  const fractionDone = iteration / metaIterations;
  return fractionDone * metaStepFinal + (1 - fractionDone) * metaStep;
}
