import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// One config for the whole monorepo: each package is a vitest project named after its folder, so
// `vitest run` runs everything and `vitest run --project datasets` runs one package.
const packages = readdirSync(new URL('./packages', import.meta.url), { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name);

export default defineConfig({
  test: {
    passWithNoTests: true,
    projects: packages.map((name) => ({
      test: {
        name,
        // Absolute, so that `pnpm test` inside a package (cwd there) finds the same files.
        root: fileURLToPath(new URL(`./packages/${name}`, import.meta.url)),
        include: ['test/**/*.test.ts'],
        testTimeout: 120_000,
        hookTimeout: 300_000,
        pool: 'forks',
      },
    })),
  },
});
