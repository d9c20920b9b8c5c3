// Public surface of @reptile-bench/reptile: filled in as the package grows.
export {};
