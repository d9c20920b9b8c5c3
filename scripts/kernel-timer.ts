// Times every kernel of a backend: calls and milliseconds per kernel name, a kernel called from inside another
// counted in its caller. Shared by the step benchmarks (bench-step.ts, bench-lstm.ts).
import { type BackendName, tf } from '../packages/backend/src/index.ts';

export function timeKernels(backend: BackendName): Map<string, { calls: number; ms: number }> {
  const current = new Map<string, { calls: number; ms: number }>();
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
