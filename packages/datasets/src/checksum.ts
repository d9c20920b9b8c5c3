import { hashValue } from '@reptile-bench/core';

/**
 * One stable id (sha256, hex) for the data a run used: the source files' sha256s (name → digest) together with
 * every setting that changes which examples a run sees (split, seed, image size, augmentation...).
 * Key order does not matter.
 */
export function dataChecksum(
  sources: Record<string, string>,
  settings: Record<string, unknown> = {},
): string {
  return hashValue({ sources, settings });
}
