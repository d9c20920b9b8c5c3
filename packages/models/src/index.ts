// Public surface of @reptile-bench/models: filled in as the package grows.
export {};
