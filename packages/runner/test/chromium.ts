import { existsSync } from 'node:fs';

/**
 * Debian's headless Chromium for the tests that look at pages (report.html, MLflow's UI). Without it those tests
 * fail on purpose, saying how to install it: a skipped test would let a broken page through unnoticed.
 */
export function chromiumPath(): string {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'];
  const found = candidates.find((c): c is string => c !== undefined && c !== '' && existsSync(c));
  if (!found) {
    throw new Error(
      'Chromium is needed to test report.html but was not found (looked at $CHROMIUM_PATH, /usr/bin/chromium, ' +
        '/usr/bin/chromium-browser). Install it with `bash .ci/setup.d/chromium.sh` (apt-get install -y chromium) ' +
        'or point CHROMIUM_PATH at a Chromium binary.',
    );
  }
  return found;
}

export const chromiumFlags = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
