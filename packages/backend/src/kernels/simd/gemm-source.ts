/**
 * WAT for dense matrix products C[M×N] = A·B (+ bias[N]) (then ReLU), row-major, on the wasm backend's memory.
 * XNNPACK's fully-connected operator (what tfjs's MatMul uses) repacks B on every call at ~7 ns per element,
 * which costs more than the product itself for the short, wide operands of convolution gradients; these kernels
 * read B in place. The register block is 4 rows × 8 columns (8 accumulators + 2 B vectors + 1 A splat fit in
 * the 16 SIMD registers of x86-64); edges use 1-row and 4- or 1-column blocks.
 *
 * Two layouts of A: "nn" (A is [M×K]) and "tn" (A is stored transposed, [K×M], as the patch matrix is when the
 * filter gradient is patchesᵀ·dy). "tn" walks K in chunks of `tnChunk` rows, accumulating in C between chunks:
 * a register block reads one cache line of A and one of B per K step there, and a whole-K walk touches more lines
 * than L1 holds (Conv4's layer-2 filter gradient: 16.4 GMAC/s whole, 20.5 in chunks of 32, 20.3 of 64, against
 * 18.4 for transposing the patches and using "nn"). Measured here: one K step per loop iteration beats unrolling
 * (which spills), and broadcasting A with load32_splat beats one wide load plus lane shuffles; 4×8 beats 6×8,
 * also with FMA.
 */

const get = (name: string) => `(local.get $${name})`;
const add = (a: string, b: string) => `(i32.add ${a} ${b})`;
const mul = (a: string, b: string) => `(i32.mul ${a} ${b})`;
const shl2 = (a: string) => `(i32.shl ${a} (i32.const 2))`;

function loop(variable: string, start: string, end: string, step: string, body: string): string {
  return `
    (local.set $${variable} ${start})
    (block $${variable}_done (loop $${variable}_next
      (br_if $${variable}_done (i32.gt_u (i32.add ${get(variable)} ${step}) ${end}))
      ${body}
      (local.set $${variable} (i32.add ${get(variable)} ${step}))
      (br $${variable}_next)))`;
}

type Layout = 'nn' | 'tn';

/** K rows per chunk of the "tn" layout (see above). */
const tnChunk = 32;

/**
 * One register block: rows i0..i0+rows, columns j0..j0+cols (cols 8 and 4 use vectors, 1 is scalar), the K loop
 * (all of K for "nn"; rows $kc0..$kc1 for "tn", continuing from C after the first chunk), then, after the last
 * K step, bias and ReLU, and the store.
 */
function block(layout: Layout, rows: 1 | 4, cols: 8 | 4 | 1, fma: boolean): string {
  const chunked = layout === 'tn';
  const vec = cols !== 1;
  const type = vec ? 'v128' : 'f32';
  const zero = vec ? '(v128.const i32x4 0 0 0 0)' : '(f32.const 0)';
  const halves = cols === 8 ? 2 : 1;
  const acc = (r: number, h: number) => (vec ? `acc${r}${h}` : `sacc${r}`);
  const lines = (f: (r: number, h: number) => string) => {
    const out: string[] = [];
    for (let r = 0; r < rows; r++) for (let h = 0; h < halves; h++) out.push(f(r, h));
    return out.join('\n');
  };

  const cAddress = (r: number) =>
    add(shl2(add(mul(add(get('i0'), `(i32.const ${r})`), get('n')), get('j0'))), get('c'));
  const init = lines((r, h) =>
    chunked
      ? `(local.set $${acc(r, h)} (if (result ${type}) ${get('kc0')}
          (then (${type}.load offset=${16 * h} ${cAddress(r)})) (else ${zero})))`
      : `(local.set $${acc(r, h)} ${zero})`,
  );
  const aSetup = chunked
    ? `(local.set $pa0 ${add(get('a'), shl2(add(get('i0'), mul(get('kc0'), get('m')))))})`
    : `${Array.from({ length: rows }, (_, r) => `(local.set $pa${r} ${add(get('a'), shl2(mul(add(get('i0'), `(i32.const ${r})`), get('k'))))})`).join('\n')}
         (local.set $kb (i32.const 0))`;

  // B row kk, columns j0.. (pb walks down the column block).
  const bLoads = vec
    ? Array.from(
        { length: halves },
        (_, h) => `(local.set $b${h} (v128.load offset=${16 * h} ${get('pb')}))`,
      ).join('\n')
    : `(local.set $bs (f32.load ${get('pb')}))`;

  // A[i0 + r, kk], broadcast to all lanes for vector blocks (load32_splat: one instruction).
  const aAddress = (r: number) => (layout === 'nn' ? add(get(`pa${r}`), get('kb')) : get('pa0'));
  const aOffset = (r: number) => (layout === 'tn' ? ` offset=${4 * r}` : '');
  const steps: string[] = [];
  for (let r = 0; r < rows; r++) {
    steps.push(
      vec
        ? `(local.set $av (v128.load32_splat${aOffset(r)} ${aAddress(r)}))`
        : `(local.set $as (f32.load${aOffset(r)} ${aAddress(r)}))`,
    );
    for (let h = 0; h < halves; h++) {
      steps.push(
        vec
          ? fma
            ? `(local.set $${acc(r, h)} (f32x4.relaxed_madd ${get('av')} ${get(`b${h}`)} ${get(acc(r, h))}))`
            : `(local.set $${acc(r, h)} (f32x4.add ${get(acc(r, h))} (f32x4.mul ${get('av')} ${get(`b${h}`)})))`
          : `(local.set $${acc(r, h)} (f32.add ${get(acc(r, h))} (f32.mul ${get('as')} ${get('bs')})))`,
      );
    }
  }
  const aAdvance =
    layout === 'nn'
      ? '(local.set $kb (i32.add (local.get $kb) (i32.const 4)))'
      : `(local.set $pa0 ${add(get('pa0'), get('mBytes'))})`;

  const stores = lines((r, h) => {
    const address = cAddress(r);
    const biasAddress = add(get('bias'), shl2(get('j0')));
    if (!vec) {
      let value = `(if (result f32) ${get('bias')} (then (f32.add ${get(acc(r, h))} (f32.load ${biasAddress}))) (else ${get(acc(r, h))}))`;
      value = `(if (result f32) ${get('relu')} (then (f32.max ${value} (f32.const 0))) (else ${value}))`;
      return `(f32.store ${address} ${value})`;
    }
    let value = `(if (result v128) ${get('bias')} (then (f32x4.add ${get(acc(r, h))} (v128.load offset=${16 * h} ${biasAddress}))) (else ${get(acc(r, h))}))`;
    value = `(if (result v128) ${get('relu')} (then (f32x4.max ${value} (v128.const i32x4 0 0 0 0))) (else ${value}))`;
    return `(v128.store offset=${16 * h} ${address} ${value})`;
  });
  const partialStores = lines((r, h) =>
    vec
      ? `(v128.store offset=${16 * h} ${cAddress(r)} ${get(acc(r, h))})`
      : `(f32.store ${cAddress(r)} ${get(acc(r, h))})`,
  );

  return `
    ${init}
    ${aSetup}
    (local.set $pb ${add(get('b'), shl2(chunked ? add(get('j0'), mul(get('kc0'), get('n'))) : get('j0')))})
    ${loop(
      'kk',
      chunked ? get('kc0') : '(i32.const 0)',
      chunked ? get('kc1') : get('k'),
      '(i32.const 1)',
      `
      ${bLoads}
      ${steps.join('\n')}
      ${aAdvance}
      (local.set $pb ${add(get('pb'), get('nBytes'))})`,
    )}
    ${chunked ? `(if (i32.eq ${get('kc1')} ${get('k')}) (then ${stores}) (else ${partialStores}))` : stores}`;
}

/** All column blocks of a row block: 8-wide, then one 4-wide, then single columns. */
function rowBlock(layout: Layout, rows: 1 | 4, fma: boolean): string {
  return `
    (local.set $j0 (i32.const 0))
    ${loop('j0', '(i32.const 0)', get('n'), '(i32.const 8)', block(layout, rows, 8, fma))}
    (if (i32.le_u (i32.add ${get('j0')} (i32.const 4)) ${get('n')}) (then
      ${block(layout, rows, 4, fma)}
      (local.set $j0 (i32.add ${get('j0')} (i32.const 4)))))
    ${loop('j0', get('j0'), get('n'), '(i32.const 1)', block(layout, rows, 1, fma))}`;
}

function gemm(layout: Layout, fma: boolean): string {
  const accLocals: string[] = [];
  for (let r = 0; r < 4; r++) for (let h = 0; h < 2; h++) accLocals.push(`(local $acc${r}${h} v128)`);
  const scalarAcc = Array.from({ length: 4 }, (_, r) => `(local $sacc${r} f32)`).join(' ');
  const rowBlocks = `
    ${loop('i0', '(i32.const 0)', get('m'), '(i32.const 4)', rowBlock(layout, 4, fma))}
    ${loop('i0', get('i0'), get('m'), '(i32.const 1)', rowBlock(layout, 1, fma))}`;
  // "tn": all row blocks for K rows kc0..kc1, chunk after chunk (an empty K still stores bias, ReLU or zeros).
  const body =
    layout === 'tn'
      ? `(local.set $kc0 (i32.const 0))
    (block $chunks_done (loop $chunks_next
      (local.set $kc1 (select (i32.add ${get('kc0')} (i32.const ${tnChunk})) ${get('k')}
        (i32.lt_u (i32.add ${get('kc0')} (i32.const ${tnChunk})) ${get('k')})))
      ${rowBlocks}
      (local.set $kc0 ${get('kc1')})
      (br_if $chunks_next (i32.lt_u ${get('kc0')} ${get('k')}))))`
      : rowBlocks;
  return `
  (func (export "gemm_${layout}")
    (param $a i32) (param $b i32) (param $c i32) (param $m i32) (param $k i32) (param $n i32)
    (param $bias i32) (param $relu i32)
    (local $i0 i32) (local $j0 i32) (local $kk i32) (local $kb i32) (local $pb i32)
    (local $pa0 i32) (local $pa1 i32) (local $pa2 i32) (local $pa3 i32)
    (local $nBytes i32) (local $mBytes i32) (local $kc0 i32) (local $kc1 i32)
    (local $av v128) (local $b0 v128) (local $b1 v128) (local $as f32) (local $bs f32)
    ${accLocals.join(' ')} ${scalarAcc}
    (local.set $nBytes ${shl2(get('n'))})
    (local.set $mBytes ${shl2(get('m'))})
    ${body})`;
}

/** The two GEMMs; with `fma` they accumulate with relaxed-SIMD fused multiply-adds (15–30 % faster here). */
export function gemmSource(fma: boolean): string {
  return `${gemm('nn', fma)}\n${gemm('tn', fma)}`;
}
