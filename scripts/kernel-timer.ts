// Times every kernel of a backend: calls and milliseconds per kernel name, a kernel called from inside another
// counted in its caller; then samples a training step and a forward pass and prints where their time goes.
// Shared by the step benchmarks (bench-step.ts, bench-lstm.ts).
import { type BackendName, tf } from '../packages/backend/src/index.ts';

type KernelTimes = Map<string, { calls: number; ms: number }>;

export function timeKernels(backend: BackendName): KernelTimes {
  const current: KernelTimes = new Map();
  let depth = 0;
  for (const config of tf.getKernelsForBackend(backend)) {
    const kernelFunc = config.kernelFunc;
    config.kernelFunc = (args) => {
      if (depth > 0) return kernelFunc(args);
      depth++;
      const start = performance.now();
      try {
        return kernelFunc(args);
      } finally {
        const entry = current.get(config.kernelName) ?? { calls: 0, ms: 0 };
        entry.calls++;
        entry.ms += performance.now() - start;
        current.set(config.kernelName, entry);
        depth--;
      }
    };
  }
  return current;
}

interface Sample {
  ms: number;
  kernels: KernelTimes;
}

const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)] ?? 0;
const kernelTotal = (s: Sample) => [...s.kernels.values()].reduce((sum, k) => sum + k.ms, 0);
const dispatches = (s: Sample) => [...s.kernels.values()].reduce((n, k) => n + k.calls, 0);

/**
 * Runs `step` and `forward` `warmUp` times, then `steps` times each, alternating, timing every kernel; prints the
 * kernels by median time per step (the `top` slowest), then the step's and the forward pass's medians, the part
 * of each spent outside kernels (tfjs's bookkeeping: tape, saved-tensor clones, gradient dispatch), the kernel
 * dispatches, the step/forward ratio and the CPU time per step + forward. Medians, so that other jobs on a
 * shared machine disturb the figures little.
 */
export function profileStep(options: {
  backend: BackendName;
  steps: number;
  warmUp: number;
  step: () => void;
  forward: () => void;
  top?: number;
}): void {
  const { steps, step, forward } = options;
  const current = timeKernels(options.backend);
  for (let i = 0; i < options.warmUp; i++) {
    step();
    forward();
  }
  const run = (f: () => void): Sample => {
    current.clear();
    const start = performance.now();
    f();
    return { ms: performance.now() - start, kernels: new Map(current) };
  };
  const stepSamples: Sample[] = [];
  const forwardSamples: Sample[] = [];
  const cpuStart = process.cpuUsage();
  for (let i = 0; i < steps; i++) {
    stepSamples.push(run(step));
    forwardSamples.push(run(forward));
  }
  const cpu = process.cpuUsage(cpuStart);

  const names = [...new Set(stepSamples.flatMap((s) => [...s.kernels.keys()]))];
  const rows = names
    .map((name) => ({
      name,
      calls: median(stepSamples.map((s) => s.kernels.get(name)?.calls ?? 0)),
      ms: median(stepSamples.map((s) => s.kernels.get(name)?.ms ?? 0)),
    }))
    .sort((a, b) => b.ms - a.ms);
  for (const { name, calls, ms } of rows.slice(0, options.top ?? rows.length))
    console.log(`${name.padEnd(36)} ${String(calls).padStart(5)} calls ${ms.toFixed(3).padStart(9)} ms`);
  const summary = (label: string, samples: Sample[]) => {
    const total = median(samples.map((s) => s.ms));
    const outside = median(samples.map((s) => s.ms - kernelTotal(s)));
    console.log(
      `${label} ${total.toFixed(2)} ms, of which outside kernels ${outside.toFixed(2)} ms; ` +
        `${median(samples.map(dispatches))} dispatches`,
    );
    return total;
  };
  const stepMs = summary('step   ', stepSamples);
  const forwardMs = summary('forward', forwardSamples);
  console.log(
    `step / forward ${(stepMs / forwardMs).toFixed(2)} (timing each kernel adds a little to both); ` +
      `CPU time per step + forward ${((cpu.user + cpu.system) / 1000 / steps).toFixed(2)} ms`,
  );
}
