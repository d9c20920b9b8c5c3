import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { registerCommands } from './commands/index.ts';

const packageJson = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

export const version: string = packageJson.version;

/** The `reptile-bench` command tree. Each subcommand lives in its own module and registers itself here. */
export function buildProgram(): Command {
  const program = new Command('reptile-bench')
    .description('Reproducible meta-learning benchmarks: Reptile versus its baselines on TensorFlow.js')
    .version(version, '-V, --version', 'print the version and exit')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerCommands(program);
  return program;
}
