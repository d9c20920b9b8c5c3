// Entry point of a worker process: it executes one run sent by the sweep and exits. Each run gets its own
// process, hence its own TensorFlow.js backend and memory, and a crash cannot take the sweep down with it.
//
// Stopping: the first SIGINT/SIGTERM, an abort message, or the sweep going away (the IPC channel closes) stops the
// run between steps: it is checkpointed, recorded KILLED, and the process exits with 130 (SIGINT) or 143
// (otherwise). A second signal exits at once. A sweep killed outright (SIGKILL) is noticed through the closed
// channel, so no worker outlives it.
import { createTracker, type RunWriter, type Tracker } from '@reptile-bench/tracking';
import { executeRun } from '../execute.ts';
import type { FromWorker, ToWorker } from './protocol.ts';

/**
 * Fault injection for the resume tests: `REPTILE_BENCH_CRASH_AT=train:<n>` or `eval:<n>` makes this process kill
 * itself (SIGKILL, no cleanup at all) once the run reports n iterations or episodes done.
 */
const crashAt = /^(train|eval):(\d+)$/.exec(process.env.REPTILE_BENCH_CRASH_AT ?? '');

const controller = new AbortController();
let writer: RunWriter | undefined;
let tracker: Tracker | undefined;
let running: Promise<void> | undefined;
let stopping = false;
let completed = false;
let stopCode = 143;

function send(message: FromWorker): void {
  // With a callback a broken channel (the sweep died) is an error passed here, not a crash: 'disconnect' follows.
  if (process.connected) process.send?.(message, undefined, {}, () => {});
}

/** Sends the run's outcome and exits once it is on its way; nothing left running may keep the process alive. */
async function complete(message: FromWorker, code: number): Promise<never> {
  completed = true;
  if (process.connected) {
    await new Promise<void>((resolve) => {
      process.send?.(message, undefined, {}, () => resolve());
    });
  }
  process.exit(code);
}

let signalled = false;

/**
 * The first request stops the run cleanly (checkpoint, KILLED). A second signal exits at once; the sweep's abort
 * message and the closed channel never count as a second request (Ctrl-C reaches this process and the sweep
 * together, and the sweep then asks again).
 */
function stop(reason: string, code: number, fromSignal: boolean): void {
  if (fromSignal && signalled) {
    process.stderr.write(`${reason} again: exiting now\n`);
    process.exit(code);
  }
  signalled ||= fromSignal;
  if (stopping) return;
  stopping = true;
  stopCode = code;
  controller.abort(new Error(reason));
  if (running === undefined) process.exit(code);
}

process.on('disconnect', () => {
  if (!completed) stop('the sweep process went away', 143, false);
});
process.on('SIGINT', () => stop('interrupted (SIGINT)', 130, true));
process.on('SIGTERM', () => stop('terminated (SIGTERM)', 143, true));
process.on('SIGHUP', () => stop('hung up (SIGHUP)', 129, true));

process.on('message', (message: ToWorker) => {
  if (message.type === 'abort') {
    stop(message.reason, 143, false);
    return;
  }
  const { run, out, commit, threads, resume } = message;
  running = (async () => {
    let lastProgress = 0;
    try {
      tracker = createTracker({ dir: out, experiment: run.sweep });
      const result = await executeRun(run, {
        tracker,
        commit,
        threads,
        resume,
        signal: controller.signal,
        onStarted: (w) => {
          writer = w;
          send({ type: 'started', runId: run.runId });
        },
        onNote: (text) => send({ type: 'note', runId: run.runId, text }),
        onCheckpoint: () => send({ type: 'checkpoint', runId: run.runId }),
        onProgress: (progress) => {
          if (crashAt && progress.phase === crashAt[1] && progress.done >= Number(crashAt[2]))
            process.kill(process.pid, 'SIGKILL');
          // A few messages a second are plenty for a progress bar.
          const now = Date.now();
          if (now - lastProgress < 200 && progress.done !== progress.total) return;
          lastProgress = now;
          send({ type: 'progress', runId: run.runId, progress });
        },
      });
      await tracker.close();
      await complete(
        { type: 'done', runId: run.runId, ...result },
        result.status === 'KILLED' ? stopCode : 0,
      );
    } catch (error) {
      // Failures before the run was recorded (backend, data) end here; the parent records them.
      const text = error instanceof Error ? error.message : String(error);
      await writer?.finish(stopping ? 'KILLED' : 'FAILED', {}, text).catch(() => {});
      await complete(
        { type: 'done', runId: run.runId, status: stopping ? 'KILLED' : 'FAILED', summary: {}, error: text },
        stopping ? stopCode : 0,
      );
    }
  })();
});
