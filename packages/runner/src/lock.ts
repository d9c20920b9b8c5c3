import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Makes sure only one sweep at a time schedules runs into an output folder, so that a RUNNING record there
 * always means a run whose sweep died. The lock names its owner's pid: a lock left by a killed sweep is taken
 * over at once (a time-based stale lock would make every resume wait).
 */
export function acquireSweepLock(out: string): () => void {
  if (existsSync(out) && !statSync(out).isDirectory())
    throw new Error(`--out ${out} is a file; give a folder for the run store and the reports`);
  // A folder this sweep creates and then leaves empty (it failed before recording anything) is removed again.
  const created = !existsSync(out);
  mkdirSync(out, { recursive: true });
  const file = join(out, 'sweep.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx');
      writeSync(fd, JSON.stringify({ pid: process.pid, host: hostname(), since: new Date().toISOString() }));
      closeSync(fd);
      return () => {
        rmSync(file, { force: true });
        if (created && readdirSync(out).length === 0) rmSync(out, { recursive: true, force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      let owner: { pid?: number; host?: string; since?: string } = {};
      try {
        owner = JSON.parse(readFileSync(file, 'utf8'));
      } catch {
        // Unreadable: its writer died between creating and filling it.
      }
      if (
        owner.pid !== undefined &&
        owner.host === hostname() &&
        alive(owner.pid) &&
        owner.pid !== process.pid
      ) {
        throw new Error(
          `another sweep (pid ${owner.pid}, since ${owner.since}) is running in ${out}; wait for it to end ` +
            'or pass another --out',
        );
      }
      rmSync(file, { force: true });
    }
  }
  throw new Error(`cannot take the sweep lock ${file}; remove it if no sweep is running`);
}
