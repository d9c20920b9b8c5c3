// Conv4's loss in float64, from host parameters: the reference whose central differences (step 1e-6, far below
// any ReLU kink the float32 model could cross) the analytic float32 gradients are checked against.

export function conv3x3Stride2Same(
  x: Float64Array,
  shape: number[],
  kernel: Float64Array,
  bias: Float64Array,
  out: number,
) {
  const [n, h, w, c] = shape as [number, number, number, number];
  const oh = Math.ceil(h / 2);
  const ow = Math.ceil(w / 2);
  // TensorFlow's 'same': total padding max(0, (o − 1)·2 + 3 − size), the smaller half before.
  const top = Math.floor(Math.max(0, (oh - 1) * 2 + 3 - h) / 2);
  const left = Math.floor(Math.max(0, (ow - 1) * 2 + 3 - w) / 2);
  const y = new Float64Array(n * oh * ow * out);
  for (let b = 0; b < n; b++)
    for (let i = 0; i < oh; i++)
      for (let j = 0; j < ow; j++)
        for (let o = 0; o < out; o++) {
          let sum = bias[o] as number;
          for (let kh = 0; kh < 3; kh++) {
            const ih = i * 2 - top + kh;
            if (ih < 0 || ih >= h) continue;
            for (let kw = 0; kw < 3; kw++) {
              const iw = j * 2 - left + kw;
              if (iw < 0 || iw >= w) continue;
              for (let ci = 0; ci < c; ci++)
                sum +=
                  (x[((b * h + ih) * w + iw) * c + ci] as number) *
                  (kernel[((kh * 3 + kw) * c + ci) * out + o] as number);
            }
          }
          y[((b * oh + i) * ow + j) * out + o] = sum;
        }
  return { y, shape: [n, oh, ow, out] };
}

function batchNormRelu(
  x: Float64Array,
  gamma: Float64Array,
  beta: Float64Array,
  epsilon: number,
): Float64Array {
  const c = gamma.length;
  const m = x.length / c;
  const out = new Float64Array(x.length);
  for (let k = 0; k < c; k++) {
    let mean = 0;
    for (let i = 0; i < m; i++) mean += x[i * c + k] as number;
    mean /= m;
    let variance = 0;
    for (let i = 0; i < m; i++) variance += ((x[i * c + k] as number) - mean) ** 2;
    variance /= m;
    const inv = 1 / Math.sqrt(variance + epsilon);
    for (let i = 0; i < m; i++)
      out[i * c + k] = Math.max(
        0,
        (gamma[k] as number) * ((x[i * c + k] as number) - mean) * inv + (beta[k] as number),
      );
  }
  return out;
}

/** Mean softmax cross-entropy of Conv4 (4 blocks, then dense) on x [n, h, w, c] with integer labels. */
export function conv4Loss64(
  params: Float64Array[],
  x: Float64Array,
  xShape: number[],
  labels: number[],
  epsilon: number,
): number {
  let h = x;
  let shape = xShape;
  for (let block = 0; block < 4; block++) {
    const [kernel, bias, gamma, beta] = params.slice(4 * block, 4 * block + 4) as Float64Array[];
    const conv = conv3x3Stride2Same(
      h,
      shape,
      kernel as Float64Array,
      bias as Float64Array,
      (gamma as Float64Array).length,
    );
    h = batchNormRelu(conv.y, gamma as Float64Array, beta as Float64Array, epsilon);
    shape = conv.shape;
  }
  const [dense, denseBias] = params.slice(16) as Float64Array[];
  const ways = (denseBias as Float64Array).length;
  const n = shape[0] as number;
  const features = h.length / n;
  let total = 0;
  for (let b = 0; b < n; b++) {
    const logits = Array.from({ length: ways }, (_, o) => {
      let sum = denseBias?.[o] as number;
      for (let f = 0; f < features; f++)
        sum += (h[b * features + f] as number) * (dense?.[f * ways + o] as number);
      return sum;
    });
    const max = Math.max(...logits);
    const logSum = Math.log(logits.reduce((s, v) => s + Math.exp(v - max), 0)) + max;
    total += logSum - (logits[labels[b] as number] as number);
  }
  return total / n;
}
