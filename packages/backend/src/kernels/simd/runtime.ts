import v8 from 'node:v8';
import wabtInit from 'wabt';
import type { WasmBackend } from '../wasm-access.ts';
import { simdKernelSource } from './source.ts';

/** The exports of the SIMD kernel module (see source.ts for what each computes). */
export interface SimdKernels {
  // biome-ignore format: one parameter per wasm argument
  bn_forward(x: number, m: number, c: number, gamma: number, beta: number, eps: number, relu: number, y: number,
    stats: number, scratch: number): void;
  // biome-ignore format: one parameter per wasm argument
  bn_backward(dy: number, x: number, m: number, c: number, stats: number, relu: number, dx: number, dbias: number,
    dgamma: number, dbeta: number, scratch: number): void;
  // biome-ignore format: one parameter per wasm argument
  adam(p: number, g: number, v: number, mom: number, n: number, step: number, beta1: number, beta2: number,
    eps: number, pOut: number, vOut: number, mOut: number): void;
  // biome-ignore format: one parameter per wasm argument
  im2col(x: number, col: number, batch: number, inH: number, inW: number, inC: number, outH: number,
    outW: number, fh: number, fw: number, sh: number, sw: number, dh: number, dw: number, padT: number,
    padL: number): void;
  // biome-ignore format: one parameter per wasm argument
  col2im(col: number, dx: number, batch: number, inH: number, inW: number, inC: number, outH: number,
    outW: number, fh: number, fw: number, sh: number, sw: number, dh: number, dw: number, padT: number,
    padL: number): void;
  transpose(src: number, dst: number, rows: number, cols: number): void;
  /** c[m×n] = a[m×k]·b[k×n] (+ bias[n] unless 0) (ReLU when relu ≠ 0). */
  gemm_nn(a: number, b: number, c: number, m: number, k: number, n: number, bias: number, relu: number): void;
  /** One row of one LSTM step (see lstm-source.ts); hidden % 4 == 0. */
  // biome-ignore format: one parameter per wasm argument
  lstm_cell(z: number, x: number, c: number, h: number, gates: number, tanhc: number, hprev: number, cprev: number,
    hidden: number): void;
  /** The same with a stored transposed, [k×m]. */
  gemm_tn(a: number, b: number, c: number, m: number, k: number, n: number, bias: number, relu: number): void;
}

/** The slice of the WebAssembly JS API used here (the project's TypeScript libs carry no DOM/wasm types). */
interface WasmModuleObject {
  readonly __brand: 'WebAssembly.Module';
}
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => WasmModuleObject;
  Instance: new (module: WasmModuleObject, imports: object) => { exports: unknown };
}
const webAssembly = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

let compiled: WasmModuleObject | undefined;
let fusedMultiplyAdd = false;
let compiling: Promise<void> | undefined;
const instances = new WeakMap<object, SimdKernels>();

/**
 * Assembles the SIMD kernels (once per thread, ~0.1 s). Kernels are synchronous, so this runs during
 * `initBackend`; until it has, the kernels take their JavaScript path.
 */
export function prepareSimdKernels(): Promise<void> {
  compiling ??= (async () => {
    const wabt = await wabtInit();
    const assemble = (fma: boolean): Uint8Array => {
      let module: ReturnType<typeof wabt.parseWat>;
      try {
        module = wabt.parseWat('reptile-bench-kernels.wat', simdKernelSource(fma), {
          simd: true,
          bulk_memory: true,
          relaxed_simd: fma,
        });
      } catch (error) {
        // wabt's own stack trace starts inside a one-line, multi-megabyte bundle; keep only its message.
        throw new Error(
          `SIMD kernels failed to assemble: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
      try {
        module.validate();
        return module.toBinary({}).buffer;
      } finally {
        module.destroy();
      }
    };
    // Fused multiply-add needs relaxed SIMD: standard from V8 11.4, behind a flag in Node 20's V8 11.3 (complete
    // there, it shipped unchanged). The flag is set only when the engine does not already accept the module.
    let fma = true;
    let binary = assemble(true);
    if (!webAssembly.validate(binary)) {
      v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
      if (!webAssembly.validate(binary)) {
        fma = false;
        binary = assemble(false);
      }
    }
    compiled = new webAssembly.Module(binary);
    fusedMultiplyAdd = fma;
  })();
  return compiling;
}

/** Whether the GEMMs use fused multiply-adds (relaxed SIMD), for the backend info. */
export function simdUsesFma(): boolean {
  return fusedMultiplyAdd;
}

/** The SIMD kernels bound to this backend's memory, or undefined before `prepareSimdKernels` finished. */
export function simdKernels(backend: WasmBackend): SimdKernels | undefined {
  if (compiled === undefined) return undefined;
  const memory = backend.wasm.asm.memory;
  let kernels = instances.get(memory);
  if (kernels === undefined) {
    kernels = new webAssembly.Instance(compiled, { env: { memory } }).exports as unknown as SimdKernels;
    instances.set(memory, kernels);
  }
  return kernels;
}
