// Entry point of a worker process: it executes one run sent by the sweep and exits. Each run gets its own
// process, hence its own TensorFlow.js backend and memory, and a crash cannot take the sweep down with it.
// When the sweep goes away (killed, Ctrl-C) the IPC channel closes and the run is recorded as KILLED.
import { createTracker, type RunWriter, type Tracker } from '@reptile-bench/tracking';
import { executeRun } from '../execute.ts';
import type { FromWorker, ToWorker } from './protocol.ts';

const controller = new AbortController();
let writer: RunWriter | undefined;
let tracker: Tracker | undefined;
let finishing = false;
let completed = false;

function send(message: FromWorker): void {
  if (process.connected) process.send?.(message);
}

/** Sends the run's outcome and exits once it is on its way; nothing left running may keep the process alive. */
async function complete(message: FromWorker): Promise<never> {
  completed = true;
  if (process.connected) {
    await new Promise<void>((resolve) => {
      process.send?.(message, undefined, {}, () => resolve());
    });
  }
  process.exit(0);
}

async function stop(reason: string): Promise<never> {
  if (!finishing) {
    finishing = true;
    controller.abort(new Error(reason));
    await writer?.finish('KILLED', {}, reason).catch(() => {});
    await tracker?.close().catch(() => {});
  }
  process.exit(130);
}

process.on('disconnect', () => {
  if (!completed) void stop('the sweep process went away');
});
process.on('SIGINT', () => void stop('interrupted (SIGINT)'));
process.on('SIGTERM', () => void stop('terminated (SIGTERM)'));

process.on('message', (message: ToWorker) => {
  if (message.type === 'abort') {
    void stop(message.reason);
    return;
  }
  const { run, out, commit, threads } = message;
  void (async () => {
    let lastProgress = 0;
    try {
      tracker = createTracker({ dir: out, experiment: run.sweep });
      const result = await executeRun(run, {
        tracker,
        commit,
        threads,
        signal: controller.signal,
        onStarted: (w) => {
          writer = w;
          send({ type: 'started', runId: run.runId });
        },
        onProgress: (progress) => {
          // A few messages a second are plenty for a progress bar.
          const now = Date.now();
          if (now - lastProgress < 200 && progress.done !== progress.total) return;
          lastProgress = now;
          send({ type: 'progress', runId: run.runId, progress });
        },
      });
      finishing = true;
      await tracker.close();
      await complete({ type: 'done', runId: run.runId, ...result });
    } catch (error) {
      // Failures before the run was recorded (backend, data) end here; the parent records them.
      finishing = true;
      const text = error instanceof Error ? error.message : String(error);
      await writer?.finish('FAILED', {}, text).catch(() => {});
      await complete({ type: 'done', runId: run.runId, status: 'FAILED', summary: {}, error: text });
    }
  })();
});
