export { main } from './cli.ts';
export { buildProgram, version } from './program.ts';
