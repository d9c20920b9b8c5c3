// Public surface of @reptile-bench/backend: filled in as the package grows.
export {};
