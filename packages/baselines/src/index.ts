// Public surface of @reptile-bench/baselines: filled in as the package grows.
export {};
