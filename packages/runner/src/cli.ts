import { CommanderError } from 'commander';
import { buildProgram } from './program.ts';

/** Runs the CLI and returns the process exit code (never calls process.exit, so tests can call it in-process). */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
    process.stderr.write(`reptile-bench: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}
