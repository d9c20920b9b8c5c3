/** Registers the project's training kernels (filled in as kernels are added). Safe to call repeatedly. */
export function registerTrainingKernels(): void {}
