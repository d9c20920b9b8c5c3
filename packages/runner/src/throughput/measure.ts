import { loadavg } from 'node:os';
import {
  type BackendInfo,
  type BackendName,
  createReplicaPool,
  initBackend,
  packArrays,
  tf,
} from '@reptile-bench/backend';
import { createRng } from '@reptile-bench/core';
import { meanUpdate, metaStepAt } from '@reptile-bench/meta';
import { adam, createModel, toTensors, trainStep } from '@reptile-bench/models';
import { syntheticBatch } from './replica.ts';
import { type ThroughputWorkload, throughputWorkloads } from './workloads.ts';

export { type ThroughputWorkload, throughputWorkloads };

/** The paper's ε schedule for the benchmark's meta-iterations (it never runs near 100k of them). */
const paperSchedule = { metaIterations: 100_000, metaStep: 1, metaStepFinal: 0 };

export interface ThroughputOptions {
  workload: string;
  backend?: BackendName;
  /** Replica threads for the parallel measurements; default: the machine's parallelism. */
  workers?: number;
  /** Time budget of the two parallel measurements together (default 10 s), unless `steps` is given. */
  seconds?: number;
  /** Instead of a time budget: inner steps per worker, and as many meta-iterations' worth of inner steps. */
  steps?: number;
}

export interface ThroughputResult {
  workload: string;
  backend: BackendName;
  backend_version: string;
  threads_per_worker: number;
  workers: number;
  /** Inner-loop training steps per second, all workers together. */
  inner_steps_per_s: number;
  /**
   * Inner steps per second of CPU time of one replica thread (Linux only): what one core delivers when no other
   * job competes for it; with n idle cores, n replicas give about n times this. Not for tensorflow, which computes
   * in threads of its own.
   */
  inner_steps_per_cpu_s?: number;
  /**
   * Inner steps per second of CPU time of the whole process while they ran (every thread: the replicas and, on
   * tensorflow, TensorFlow's own): the steps a core delivers, comparable across backends on a shared machine.
   */
  inner_steps_per_process_cpu_s: number;
  /** Reptile meta-iterations per second: metaBatch tasks adapted on the replicas, then φ moves to their mean. */
  meta_iters_per_s: number;
  /** One training step and one forward pass on this thread: wall-clock and CPU time (10th percentiles, ms). */
  train_step_ms: number;
  forward_ms: number;
  train_step_cpu_ms: number;
  forward_cpu_ms: number;
  /** train_step_cpu_ms / forward_cpu_ms. */
  train_step_over_forward: number;
  /** The machine's 1-minute load average when the measurement started and ended (context for the figures). */
  load_average: [number, number];
  inner_steps: number;
  meta_iterations: number;
  seconds: number;
  settings: ThroughputWorkload;
}

const quantile = (values: number[], q: number) =>
  [...values].sort((a, b) => a - b)[Math.floor(q * (values.length - 1))] as number;

/** Process CPU time in ms (all threads; while this runs, only this thread computes). */
function cpuMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

/**
 * Times of a training step and a forward pass on this thread, interleaved so both see the same load: wall-clock
 * and CPU time, each the 10th percentile of the runs. On a machine shared with other jobs the upper part of a
 * distribution measures those jobs, and CPU time (which excludes time waiting for a core) more so than wall time;
 * the ratio is taken from CPU time. On an idle machine the two agree.
 */
function stepOverForward(workload: ThroughputWorkload, seconds: number, minRuns: number) {
  const model = createModel(workload.model);
  const { x, y } = syntheticBatch(model, workload.innerBatch, 'throughput/ratio');
  const optimizer = adam({ learningRate: workload.learningRate });
  let params = toTensors(model, model.init(createRng('throughput/init')));
  const forward = () => tf.tidy(() => model.apply(params, x).dataSync());
  for (let i = 0; i < 3; i++) {
    params = trainStep(model, optimizer, params, x, y).params;
    forward();
  }
  const wall = { step: [] as number[], forward: [] as number[] };
  const cpu = { step: [] as number[], forward: [] as number[] };
  const end = performance.now() + seconds * 1000;
  while (wall.step.length < minRuns || (performance.now() < end && wall.step.length < 500)) {
    let [t, c] = [performance.now(), cpuMs()];
    params = trainStep(model, optimizer, params, x, y).params;
    wall.step.push(performance.now() - t);
    cpu.step.push(cpuMs() - c);
    [t, c] = [performance.now(), cpuMs()];
    forward();
    wall.forward.push(performance.now() - t);
    cpu.forward.push(cpuMs() - c);
  }
  tf.dispose([...params, x, y]);
  optimizer.dispose();
  return {
    stepMs: quantile(wall.step, 0.1),
    forwardMs: quantile(wall.forward, 0.1),
    stepCpuMs: quantile(cpu.step, 0.1),
    forwardCpuMs: quantile(cpu.forward, 0.1),
  };
}

/**
 * Measures training throughput of a workload: the step/forward ratio on this thread, then inner steps per second
 * and Reptile meta-iterations per second with replicas in worker threads.
 */
export async function measureThroughput(options: ThroughputOptions): Promise<ThroughputResult> {
  const workload = throughputWorkloads[options.workload];
  if (workload === undefined)
    throw new Error(
      `throughput: unknown workload "${options.workload}"; use one of ${Object.keys(throughputWorkloads).join(', ')}`,
    );
  const budget = options.seconds ?? 10;
  if (!(budget > 0)) throw new Error(`throughput: seconds must be positive, got ${options.seconds}`);
  if (options.steps !== undefined && !(Number.isInteger(options.steps) && options.steps > 0))
    throw new Error(`throughput: steps must be a positive integer, got ${options.steps}`);
  const backend = options.backend ?? 'wasm';
  const info: BackendInfo = await initBackend(backend);
  const started = performance.now();
  const loadStart = loadavg()[0] as number;

  // With a step count (e.g. on the slow cpu backend) a few runs suffice; otherwise up to a quarter of the budget.
  const ratio =
    options.steps === undefined
      ? stepOverForward(workload, Math.min(3, budget / 4), 10)
      : stepOverForward(workload, 0, 3);

  const pool = await createReplicaPool({
    module: new URL('./replica.ts', import.meta.url),
    backend,
    ...(options.workers === undefined ? {} : { workers: options.workers }),
  });
  try {
    const model = createModel(workload.model);
    const phi = model.init(createRng('throughput/phi'));
    const work = {
      config: workload.model,
      batchSize: workload.innerBatch,
      learningRate: workload.learningRate,
    };

    // Untimed warm-up: the first steps in a fresh thread compile the JavaScript and wasm they run.
    const shared = packArrays(phi);
    await Promise.all(
      Array.from({ length: pool.workers }, (_, w) =>
        pool.run('innerSteps', {
          ...work,
          params: shared,
          steps: options.steps === undefined ? 3 : 1,
          seed: `throughput/warm-up/${w}`,
        }),
      ),
    );

    // Inner steps: every worker trains continuously; rounds of a fixed step count until the budget is spent.
    const perTask = options.steps ?? Math.max(5, Math.round(4 * workload.innerIterations));
    let innerSteps = 0;
    let innerSeconds = 0;
    let innerCpuSeconds: number | undefined = 0;
    const innerEnd = performance.now() + (budget / 2) * 1000;
    const processCpuStart = cpuMs();
    do {
      const t = performance.now();
      const reports = await Promise.all(
        Array.from({ length: pool.workers }, (_, w) =>
          pool.run<{ seconds: number; cpuSeconds?: number }>('innerSteps', {
            ...work,
            params: shared,
            steps: perTask,
            seed: `throughput/inner/${innerSteps}/${w}`,
          }),
        ),
      );
      for (const report of reports)
        innerCpuSeconds =
          innerCpuSeconds === undefined || report.cpuSeconds === undefined
            ? undefined
            : innerCpuSeconds + report.cpuSeconds;
      innerSeconds += (performance.now() - t) / 1000;
      innerSteps += perTask * pool.workers;
    } while (options.steps === undefined && performance.now() < innerEnd);
    const processCpuSeconds = (cpuMs() - processCpuStart) / 1000;

    // Meta-iterations: φ shared with every task, adapted parameters moved back, φ ← φ + ε (mean φ' − φ).
    const metaTarget =
      options.steps === undefined
        ? Number.POSITIVE_INFINITY
        : Math.max(
            1,
            Math.round((options.steps * pool.workers) / (workload.metaBatch * workload.innerIterations)),
          );
    const metaEnd = performance.now() + (budget / 2) * 1000;
    const metaStart = performance.now();
    let metaIterations = 0;
    while (
      metaIterations < metaTarget &&
      (metaIterations === 0 || performance.now() < metaEnd || options.steps !== undefined)
    ) {
      const packed = packArrays(phi);
      const adapted = await Promise.all(
        Array.from({ length: workload.metaBatch }, (_, task) =>
          pool.run<Float32Array[]>('adaptTask', {
            ...work,
            phi: packed,
            iterations: workload.innerIterations,
            seed: `throughput/meta/${metaIterations}/${task}`,
          }),
        ),
      );
      // The paper's meta-step: 1 annealed linearly to 0 over 100k iterations; the update every learner uses.
      const epsilon = metaStepAt(metaIterations, paperSchedule);
      meanUpdate(phi, adapted, epsilon, 'towards');
      metaIterations++;
    }
    const metaSeconds = (performance.now() - metaStart) / 1000;

    return {
      workload: options.workload,
      backend,
      backend_version: info.version,
      threads_per_worker: info.threads,
      workers: pool.workers,
      inner_steps_per_s: innerSteps / innerSeconds,
      // tensorflow computes in its own thread pool, whose time the replica thread's CPU time leaves out
      ...(innerCpuSeconds === undefined || innerCpuSeconds <= 0 || backend === 'tensorflow'
        ? {}
        : { inner_steps_per_cpu_s: innerSteps / innerCpuSeconds }),
      inner_steps_per_process_cpu_s: innerSteps / processCpuSeconds,
      meta_iters_per_s: metaIterations / metaSeconds,
      train_step_ms: ratio.stepMs,
      forward_ms: ratio.forwardMs,
      train_step_cpu_ms: ratio.stepCpuMs,
      forward_cpu_ms: ratio.forwardCpuMs,
      train_step_over_forward: ratio.stepCpuMs / ratio.forwardCpuMs,
      load_average: [loadStart, loadavg()[0] as number],
      inner_steps: innerSteps,
      meta_iterations: metaIterations,
      seconds: (performance.now() - started) / 1000,
      settings: workload,
    };
  } finally {
    await pool.destroy();
  }
}
