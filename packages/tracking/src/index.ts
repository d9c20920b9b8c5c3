// Public surface of @reptile-bench/tracking: filled in as the package grows.
export {};
