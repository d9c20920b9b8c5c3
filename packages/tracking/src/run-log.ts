// The append-only event log of one run (`runs/<id>/log.jsonl`): one JSON object per line. Appends of whole
// lines are atomic enough for a crash to leave at most a torn last line, which readers ignore; every byte
// offset that ends a line is a stable position the outbox can record as "delivered up to here".
import { open } from 'node:fs/promises';
import type { RunStatus } from './types.ts';

export interface EndEvent {
  end: Exclude<RunStatus, 'RUNNING'>;
  t: number;
  summary?: Record<string, number | string>;
  error?: string;
}

/**
 * A run continued from a checkpoint. Whatever the log holds between byte `from` (where it stood when the
 * checkpoint was written) and this event was written by the stopped process after that checkpoint, and is
 * superseded: readers drop it.
 */
export interface ResumeEvent {
  resume: { iteration: number; phase: string; commit: string; from: number };
  t: number;
}

export type LogEvent =
  | { m: string; s: number; v: number | string; t: number }
  | { tag: string; value: string; t: number }
  | { artifact: string; t: number }
  | EndEvent
  | ResumeEvent;

/** A parsed line and the byte offset just past its newline. */
export interface LogEntry {
  event: LogEvent;
  end: number;
}

/**
 * The entries that stand: those a later resume event supersedes (written after the checkpoint it resumed from,
 * by the process that stopped) are left out. Entries must be in log order; `start` is where the first one begins.
 */
export function liveEntries(entries: LogEntry[], start = 0): LogEntry[] {
  const superseded = new Set<number>();
  let begin = start;
  const begins = entries.map((entry) => {
    const at = begin;
    begin = entry.end;
    return at;
  });
  entries.forEach((entry, i) => {
    if (!('resume' in entry.event)) return;
    const from = entry.event.resume.from;
    for (let j = i - 1; j >= 0 && begins[j]! >= from; j--) superseded.add(j);
  });
  return superseded.size === 0 ? entries : entries.filter((_, i) => !superseded.has(i));
}

/** JSON has no NaN or infinities; a diverged run still records them, as MLflow's own JSON spelling. */
export function encodeValue(value: number): number | string {
  return Number.isFinite(value) ? value : String(value);
}

export function decodeValue(value: number | string): number {
  return typeof value === 'number' ? value : Number(value);
}

export function encodeEvent(event: LogEvent): string {
  return `${JSON.stringify(event)}\n`;
}

const NEWLINE = 0x0a;

/**
 * Reads complete lines starting at byte `from`. A last line without its newline is a write cut short by a
 * crash (or still being written) and is left out; a malformed complete line means the file was damaged.
 */
export async function readLog(file: string, from = 0): Promise<LogEntry[]> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(file, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  let bytes: Buffer;
  try {
    const { size } = await handle.stat();
    if (size <= from) return [];
    bytes = Buffer.alloc(size - from);
    let read = 0;
    while (read < bytes.length) {
      const { bytesRead } = await handle.read(bytes, read, bytes.length - read, from + read);
      if (bytesRead === 0) break;
      read += bytesRead;
    }
    bytes = bytes.subarray(0, read);
  } finally {
    await handle.close();
  }
  return parseLog(bytes, file, from);
}

/**
 * Parses the complete lines of log bytes (that start at byte `from` of the file named `file`, for messages). A
 * last line without its newline is left out; a malformed complete line throws, naming the file and the offset.
 */
export function parseLog(bytes: Buffer, file: string, from = 0): LogEntry[] {
  const entries: LogEntry[] = [];
  let start = 0;
  for (let newline = bytes.indexOf(NEWLINE); newline !== -1; newline = bytes.indexOf(NEWLINE, start)) {
    const lineStart = start;
    const line = bytes.toString('utf8', lineStart, newline);
    start = newline + 1;
    if (line.length === 0) continue;
    let event: LogEvent;
    try {
      event = JSON.parse(line) as LogEvent;
    } catch {
      throw new Error(
        `${file}: damaged line at byte ${from + lineStart} (${JSON.stringify(line.slice(0, 80))}); ` +
          'remove the run folder and run it again',
      );
    }
    entries.push({ event, end: from + start });
  }
  return entries;
}
