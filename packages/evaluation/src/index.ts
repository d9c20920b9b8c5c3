// Public surface of @reptile-bench/evaluation: filled in as the package grows.
export {};
