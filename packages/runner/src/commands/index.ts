import type { Command } from 'commander';

/**
 * Every subcommand is a module in this folder exporting `register(program)`; list it here.
 * Keeping one line per command means packages can add their commands without touching each other's code.
 */
const commands: Array<(program: Command) => void> = [];

export function registerCommands(program: Command): void {
  for (const register of commands) register(program);
}
