// Starts a local MLflow tracking server (sqlite backend, served artifacts, 127.0.0.1) from the project
// virtualenv, for tests and for `scripts/mlflow-server.mjs`. The virtualenv is created on first use.
import { execFile, spawn } from 'node:child_process';
import { openSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const VENV_SCRIPT = join(repoRoot, 'scripts', 'mlflow-venv.sh');

export interface MlflowServer {
  /** `http://127.0.0.1:<port>`: the tracking URI. */
  uri: string;
  port: number;
  /** Holds `mlflow.db`, `artifacts/` and `server.log`. */
  dir: string;
  /** Stops the server and its workers (SIGTERM, then SIGKILL after 10 s). */
  stop(): Promise<void>;
  /** Kills the server at once, as a crash would (SIGKILL to its whole process group). */
  kill(): void;
}

export interface StartMlflowServerOptions {
  /** Where the database and artifacts live; a new temporary folder by default. Reusing a folder keeps the data. */
  dir?: string;
  /** A free port is chosen by default. */
  port?: number;
  /** How long to wait for the server to answer /health (default 180 s). */
  startTimeoutMs?: number;
}

/** Makes sure the project virtualenv holds the pinned MLflow; returns the venv folder. */
export async function ensureMlflowVenv(): Promise<string> {
  return new Promise((resolvePath, reject) => {
    execFile('bash', [VENV_SCRIPT], { maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) {
        reject(
          new Error(
            `could not prepare the MLflow virtualenv with ${VENV_SCRIPT}:\n${stderr.trim() || error.message}`,
          ),
        );
        return;
      }
      const lines = stdout.trim().split('\n');
      resolvePath(lines[lines.length - 1]!);
    });
  });
}

export async function startMlflowServer(options: StartMlflowServerOptions = {}): Promise<MlflowServer> {
  const venv = await ensureMlflowVenv();
  const dir = resolve(options.dir ?? (await mkdtemp(join(tmpdir(), 'reptile-bench-mlflow-'))));
  await mkdir(dir, { recursive: true });
  for (let attempt = 0; ; attempt++) {
    const port = options.port ?? (await freePort());
    try {
      return await launch(venv, dir, port, options.startTimeoutMs ?? 180_000);
    } catch (error) {
      // Another process may have taken the free port between our probe and the server's bind.
      const portTaken = /address already in use/i.test(String(error));
      if (!portTaken || options.port !== undefined || attempt >= 3) throw error;
    }
  }
}

async function launch(
  venv: string,
  dir: string,
  port: number,
  startTimeoutMs: number,
): Promise<MlflowServer> {
  const logFile = join(dir, 'server.log');
  const log = openSync(logFile, 'a');
  const child = spawn(
    join(venv, 'bin', 'mlflow'),
    [
      'server',
      '--backend-store-uri',
      `sqlite:///${join(dir, 'mlflow.db')}`,
      '--artifacts-destination',
      join(dir, 'artifacts'),
      '--serve-artifacts',
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--workers',
      '1',
    ],
    {
      // Its own process group, so stopping it also stops the uvicorn workers it starts.
      detached: true,
      stdio: ['ignore', log, log],
      // The background job runner is for MLflow's GenAI features; tracking does not need its processes.
      env: { ...process.env, MLFLOW_SERVER_ENABLE_JOB_EXECUTION: 'false' },
    },
  );
  const exited = new Promise<number | string>((resolveExit) => {
    child.on('exit', (code, signal) => resolveExit(code ?? signal ?? 'unknown'));
    child.on('error', (error) => resolveExit(error.message));
  });
  const killGroup = (signal: NodeJS.Signals): void => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // Already gone.
    }
  };
  // A test process that dies must not leave servers behind.
  const onExit = (): void => killGroup('SIGKILL');
  process.on('exit', onExit);
  child.unref();

  const uri = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + startTimeoutMs;
  let exitCode: number | string | undefined;
  void exited.then((code) => {
    exitCode = code;
  });
  while (exitCode === undefined) {
    if (await isHealthy(uri)) {
      return {
        uri,
        port,
        dir,
        async stop() {
          killGroup('SIGTERM');
          const timer = setTimeout(() => killGroup('SIGKILL'), 10_000);
          await exited;
          clearTimeout(timer);
          killGroup('SIGKILL'); // workers that outlived their parent
          process.off('exit', onExit);
        },
        kill() {
          killGroup('SIGKILL');
          process.off('exit', onExit);
        },
      };
    }
    if (Date.now() > deadline) {
      killGroup('SIGKILL');
      throw new Error(
        `MLflow server on ${uri} did not answer within ${startTimeoutMs} ms; see ${logFile}:\n${tail(logFile)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  killGroup('SIGKILL');
  process.off('exit', onExit);
  throw new Error(
    `MLflow server exited (${exitCode}) before answering on ${uri}; see ${logFile}:\n${tail(logFile)}`,
  );
}

async function isHealthy(uri: string): Promise<boolean> {
  try {
    const response = await fetch(`${uri}/health`, { signal: AbortSignal.timeout(2000) });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolvePort(address.port) : reject(new Error('no port')),
      );
    });
  });
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter((line) => !/Deprecat|from starlette/.test(line))
      .slice(-15)
      .join('\n');
  } catch {
    return '(no log)';
  }
}
