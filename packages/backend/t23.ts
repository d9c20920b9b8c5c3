import { initBackend, tf } from './src/index.ts';
import { simdKernels } from './src/kernels/simd/runtime.ts';
import { allocScratch, asWasmBackend } from './src/kernels/wasm-access.ts';

await initBackend('wasm');
const backend = asWasmBackend(tf.backend());
const simd = simdKernels(backend)!;
const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
for (const [P, Kp] of [
  [1960, 9],
  [490, 576],
  [160, 576],
  [40, 576],
] as const) {
  const patches = allocScratch(backend, P * Kp),
    pt = allocScratch(backend, P * Kp),
    dy = allocScratch(backend, P * 64),
    out = allocScratch(backend, Kp * 64);
  const best = { tn: 1e9, tnn: 1e9, t: 1e9 };
  for (let r = 0; r < 40; r++) {
    let t0 = cpu();
    for (let i = 0; i < 10; i++)
      simd.gemm_tn(patches.index * 4, dy.index * 4, out.index * 4, Kp, P, 64, 0, 0);
    best.tn = Math.min(best.tn, (cpu() - t0) / 10);
    t0 = cpu();
    for (let i = 0; i < 10; i++) {
      simd.transpose(patches.index * 4, pt.index * 4, P, Kp);
      simd.gemm_nn(pt.index * 4, dy.index * 4, out.index * 4, Kp, P, 64, 0, 0);
    }
    best.tnn = Math.min(best.tnn, (cpu() - t0) / 10);
    t0 = cpu();
    for (let i = 0; i < 10; i++) simd.transpose(patches.index * 4, pt.index * 4, P, Kp);
    best.t = Math.min(best.t, (cpu() - t0) / 10);
  }
  console.log(
    `P=${P} Kp=${Kp}: tn ${best.tn.toFixed(3)} | transpose+nn ${best.tnn.toFixed(3)} (transpose ${best.t.toFixed(3)})`,
  );
}
