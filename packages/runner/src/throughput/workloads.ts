// The throughput benchmark's workloads, apart from the benchmark so that `--help` can list them without TensorFlow.js.

/** Training settings of the paper's runs that the benchmark reproduces (compute only: synthetic inputs). */
export interface ThroughputWorkload {
  model: Record<string, unknown>;
  innerBatch: number;
  innerIterations: number;
  metaBatch: number;
  learningRate: number;
}

export const throughputWorkloads: Record<string, ThroughputWorkload> = {
  'omniglot-5w1s': {
    model: { kind: 'conv4', ways: 5, inputShape: [28, 28, 1], filters: 64 },
    innerBatch: 10,
    innerIterations: 5,
    metaBatch: 5,
    learningRate: 1e-3,
  },
  'omniglot-20w1s': {
    model: { kind: 'conv4', ways: 20, inputShape: [28, 28, 1], filters: 64 },
    innerBatch: 20,
    innerIterations: 10,
    metaBatch: 5,
    learningRate: 5e-4,
  },
  sine: {
    model: { kind: 'mlp', inputSize: 1, hidden: [64, 64], outputSize: 1, activation: 'tanh' },
    innerBatch: 10,
    innerIterations: 32,
    metaBatch: 5,
    learningRate: 1e-3,
  },
};
