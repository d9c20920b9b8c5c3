// Float64 definitions of the ops the kernels implement: the tests differentiate these numerically, where
// float64 leaves central differences far more accurate than the 1e-4 the float32 kernels are held to.

export interface Conv2DSpec {
  xShape: [number, number, number, number];
  filterShape: [number, number, number, number];
  strides: [number, number];
  dilations: [number, number];
  pad: 'same' | 'valid';
}

/** Output size and leading padding exactly as TensorFlow defines 'same' and 'valid'. */
function padding(size: number, filter: number, stride: number, dilation: number, pad: 'same' | 'valid') {
  const effective = (filter - 1) * dilation + 1;
  if (pad === 'valid') return { out: Math.ceil((size - effective + 1) / stride), before: 0 };
  const out = Math.ceil(size / stride);
  const total = Math.max(0, (out - 1) * stride + effective - size);
  return { out, before: Math.floor(total / 2) };
}

export function conv2dOutShape(spec: Conv2DSpec): [number, number, number, number] {
  const [n, h, w] = spec.xShape;
  const [fh, fw, , o] = spec.filterShape;
  return [
    n,
    padding(h, fh, spec.strides[0], spec.dilations[0], spec.pad).out,
    padding(w, fw, spec.strides[1], spec.dilations[1], spec.pad).out,
    o,
  ];
}

export function conv2d64(spec: Conv2DSpec, x: Float64Array, filter: Float64Array): Float64Array {
  const [n, h, w, c] = spec.xShape;
  const [fh, fw, , o] = spec.filterShape;
  const ph = padding(h, fh, spec.strides[0], spec.dilations[0], spec.pad);
  const pw = padding(w, fw, spec.strides[1], spec.dilations[1], spec.pad);
  const out = new Float64Array(n * ph.out * pw.out * o);
  for (let b = 0; b < n; b++)
    for (let oh = 0; oh < ph.out; oh++)
      for (let ow = 0; ow < pw.out; ow++)
        for (let kh = 0; kh < fh; kh++) {
          const ih = oh * spec.strides[0] - ph.before + kh * spec.dilations[0];
          if (ih < 0 || ih >= h) continue;
          for (let kw = 0; kw < fw; kw++) {
            const iw = ow * spec.strides[1] - pw.before + kw * spec.dilations[1];
            if (iw < 0 || iw >= w) continue;
            for (let ci = 0; ci < c; ci++) {
              const xv = x[((b * h + ih) * w + iw) * c + ci] as number;
              const fBase = ((kh * fw + kw) * c + ci) * o;
              const oBase = ((b * ph.out + oh) * pw.out + ow) * o;
              for (let co = 0; co < o; co++)
                out[oBase + co] = (out[oBase + co] as number) + xv * (filter[fBase + co] as number);
            }
          }
        }
  return out;
}

/** relu?(γ·(z − mean)/√(var + ε) + β) with z = x + bias, statistics over every axis but the last. */
export function batchNormRelu64(
  x: Float64Array,
  bias: Float64Array,
  gamma: Float64Array,
  beta: Float64Array,
  epsilon: number,
  relu: boolean,
): Float64Array {
  const c = gamma.length;
  const m = x.length / c;
  const out = new Float64Array(x.length);
  for (let k = 0; k < c; k++) {
    let mean = 0;
    for (let i = 0; i < m; i++) mean += (x[i * c + k] as number) + (bias[k] as number);
    mean /= m;
    let variance = 0;
    for (let i = 0; i < m; i++) variance += ((x[i * c + k] as number) + (bias[k] as number) - mean) ** 2;
    variance /= m;
    const inv = 1 / Math.sqrt(variance + epsilon);
    for (let i = 0; i < m; i++) {
      const v =
        (gamma[k] as number) * ((x[i * c + k] as number) + (bias[k] as number) - mean) * inv +
        (beta[k] as number);
      out[i * c + k] = relu ? Math.max(0, v) : v;
    }
  }
  return out;
}

/** Mean over rows of log Σ exp(logits) − logits[label]. */
export function softmaxCrossEntropy64(
  logits: Float64Array,
  labels: Int32Array,
  classes: number,
): Float64Array {
  let total = 0;
  for (let n = 0; n < labels.length; n++) {
    const row = logits.subarray(n * classes, (n + 1) * classes);
    const max = Math.max(...row);
    let sum = 0;
    for (const v of row) sum += Math.exp(v - max);
    total += Math.log(sum) + max - (row[labels[n] as number] as number);
  }
  return Float64Array.of(total / labels.length);
}

/** C = op(A)·op(B) (+ bias, then activation) for rank-3 operands [batch, rows, cols]; batch 1 broadcasts. */
export function matMul64(
  a: Float64Array,
  aShape: [number, number, number],
  b: Float64Array,
  bShape: [number, number, number],
  options: {
    transposeA?: boolean;
    transposeB?: boolean;
    bias?: Float64Array;
    activation?: (v: number) => number;
  } = {},
): Float64Array {
  const [m, k] = options.transposeA ? [aShape[2], aShape[1]] : [aShape[1], aShape[2]];
  const n = options.transposeB ? bShape[1] : bShape[2];
  const batch = Math.max(aShape[0], bShape[0]);
  const out = new Float64Array(batch * m * n);
  for (let t = 0; t < batch; t++) {
    const aOff = (aShape[0] === 1 ? 0 : t) * m * k;
    const bOff = (bShape[0] === 1 ? 0 : t) * k * n;
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let sum = options.bias?.[j] ?? 0;
        for (let l = 0; l < k; l++) {
          const av = a[aOff + (options.transposeA ? l * m + i : i * k + l)] as number;
          const bv = b[bOff + (options.transposeB ? j * k + l : l * n + j)] as number;
          sum += av * bv;
        }
        out[(t * m + i) * n + j] = options.activation ? options.activation(sum) : sum;
      }
  }
  return out;
}
