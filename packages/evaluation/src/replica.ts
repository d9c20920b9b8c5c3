// Runs in replica threads (see @reptile-bench/backend's createReplicaPool): scores prepared test episodes on the
// thread's own backend. A shared initialisation arrives packed in a SharedArrayBuffer and is read in place.
import { type PackedArrays, unpackArrays } from '@reptile-bench/backend';
import { modelFor } from '@reptile-bench/models';
import { type PreparedEpisode, runEpisode } from './evaluate.ts';
import type { AdaptOptions, EpisodeScores, PredictionMode } from './types.ts';

export interface ReplicaEpisodesJob {
  /** `Model.config`. */
  model: Record<string, unknown>;
  /** The initialisation shared by all episodes (absent when every episode carries its own). */
  init?: PackedArrays;
  episodes: PreparedEpisode[];
  adapt: Pick<AdaptOptions, 'optimizer' | 'learningRate' | 'startState'>;
  modes: PredictionMode[];
}

export function scoreEpisodes(job: ReplicaEpisodesJob): EpisodeScores[] {
  const model = modelFor(job.model);
  const init = job.init === undefined ? undefined : unpackArrays(job.init);
  return job.episodes.map((episode, e) => {
    const start = episode.init ?? init;
    if (start === undefined) throw new Error(`scoreEpisodes: episode ${e} has no initialisation`);
    return runEpisode(model, start, episode, job.adapt, job.modes);
  });
}
