// Starting one run in a fresh run process (run-process.ts, which executes it with executeRun) and following it:
// what a queue worker does for each job it takes. The process has its own TensorFlow.js backend and memory, so a
// crash fails that run only, and its training never blocks the event loop that keeps the job's lock alive.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { FromWorker, ToWorker } from './protocol.ts';

const workerEntry = fileURLToPath(new URL('./run-process.ts', import.meta.url));
const tsxLoader = import.meta.resolve('tsx');

export type RunDone = FromWorker & { type: 'done' };

export interface RunExit {
  /** The run's outcome, unless the process died before it could say (then see code and signal). */
  done?: RunDone;
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ForkedRun {
  pid: number | undefined;
  /** Resolves when the run process has exited. */
  exited: Promise<RunExit>;
  /** Stops the run between steps: it checkpoints, records itself KILLED and exits. */
  abort(reason: string): void;
  /** Ends the process at once (SIGKILL). */
  kill(): void;
}

export function forkRun(
  message: Extract<ToWorker, { type: 'run' }>,
  onMessage: (message: FromWorker) => void,
): ForkedRun {
  const child = fork(workerEntry, [], {
    execArgv: ['--import', tsxLoader],
    // Whatever the run prints goes to this process's stderr.
    stdio: ['ignore', 2, 2, 'ipc'],
    serialization: 'advanced',
  });
  let done: RunDone | undefined;
  let failure: string | undefined;
  child.on('message', (m: FromWorker) => {
    if (m.type === 'done') done = m;
    onMessage(m);
  });
  child.on('error', (error) => {
    failure ??= String(error);
  });
  const exited = new Promise<RunExit>((resolve) => {
    child.on('exit', (code, signal) => {
      resolve({
        ...(done
          ? { done }
          : failure
            ? {
                done: {
                  type: 'done',
                  runId: message.run.runId,
                  status: 'FAILED',
                  summary: {},
                  error: failure,
                } satisfies RunDone,
              }
            : {}),
        code,
        signal,
      });
    });
  });
  child.send(message);
  return {
    pid: child.pid,
    exited,
    abort(reason) {
      if (child.connected) child.send({ type: 'abort', reason } satisfies ToWorker);
    },
    kill() {
      child.kill('SIGKILL');
    },
  };
}
