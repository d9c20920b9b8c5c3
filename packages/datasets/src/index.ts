// Public surface of @reptile-bench/datasets: filled in as the package grows.
export {};
