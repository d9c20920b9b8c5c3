/**
 * WAT for the elementwise part of an LSTM step, four hidden units at a time: the gate activations, the new cell
 * and hidden state. Measured on the text classifier (scripts/bench-lstm.ts), this part cost ~4× the step's
 * recurrent matrix product in JavaScript, almost all of it in the five exponentials per unit (Math.exp is
 * 12–25 ns a call here); vectorised with the polynomial exponential below it costs a fraction of it.
 *
 * exp(x) is Cephes' expf: n = round(x·log₂e), r = x − n·ln 2 (in two parts), a degree-5 minimax polynomial in r,
 * then 2ⁿ put into the exponent bits; relative error ~2 ulp over the clamped range [−87.3, 88], which keeps 2ⁿ
 * normal. σ(v) = 1/(1 + e^{−v}) and tanh(v) = 1 − 2/(e^{2v} + 1) follow (exact limits at both ends).
 */

const splat = (value: number) => `(f32x4.splat (f32.const ${value}))`;
const get = (name: string) => `(local.get $${name})`;
const mul = (a: string, b: string) => `(f32x4.mul ${a} ${b})`;
const add = (a: string, b: string) => `(f32x4.add ${a} ${b})`;
const i32add = (a: string, b: string) => `(i32.add ${a} ${b})`;

const exp4 = `
  (func $exp4 (param $x v128) (result v128) (local $n v128) (local $r v128) (local $p v128)
    (local.set $x (f32x4.min (f32x4.max ${get('x')} ${splat(-87.33654)}) ${splat(88.0)}))
    (local.set $n (f32x4.nearest ${mul(get('x'), splat(Math.LOG2E))}))
    (local.set $r (f32x4.sub (f32x4.sub ${get('x')} ${mul(get('n'), splat(0.693359375))})
      ${mul(get('n'), splat(-2.1219444e-4))}))
    (local.set $p ${add(mul(splat(1.98756915e-4), get('r')), splat(1.39819995e-3))})
    (local.set $p ${add(mul(get('p'), get('r')), splat(8.33345191e-3))})
    (local.set $p ${add(mul(get('p'), get('r')), splat(4.16657959e-2))})
    (local.set $p ${add(mul(get('p'), get('r')), splat(1.66666655e-1))})
    (local.set $p ${add(mul(get('p'), get('r')), splat(5.00000012e-1))})
    (local.set $p ${add(add(mul(get('p'), mul(get('r'), get('r'))), get('r')), splat(1))})
    ${mul(
      get('p'),
      `(i32x4.shl (i32x4.add (i32x4.trunc_sat_f32x4_s ${get('n')}) (i32x4.splat (i32.const 127))) (i32.const 23))`,
    )})

  (func $sigmoid4 (param $v v128) (result v128)
    (f32x4.div ${splat(1)} ${add(splat(1), `(call $exp4 (f32x4.neg ${get('v')}))`)}))

  (func $tanh4 (param $v v128) (result v128)
    (f32x4.sub ${splat(1)} (f32x4.div ${splat(2)} ${add(`(call $exp4 ${add(get('v'), get('v'))})`, splat(1))})))
`;

/**
 * lstm_cell: one row of one step. z: h·U for the row (4·hidden floats, gates i, f, g, o); x: the row's projected
 * input at this step; c, h: the row's cell and hidden state (read, then overwritten with the new ones); the
 * activations go to gates (4·hidden), tanh(c) to tanhc, and the state the step started from to hprev and cprev
 * (what the gradient needs). hidden must be a multiple of 4 (callers check).
 */
const cell = `
  (func (export "lstm_cell") (param $z i32) (param $x i32) (param $c i32) (param $h i32) (param $gates i32)
      (param $tanhc i32) (param $hprev i32) (param $cprev i32) (param $hidden i32)
    (local $k i32) (local $end i32) (local $block i32) (local $i v128) (local $f v128) (local $g v128)
    (local $o v128) (local $cn v128) (local $tc v128) (local $cold v128)
    (local.set $block (i32.shl ${get('hidden')} (i32.const 2)))
    (local.set $end ${get('block')})
    (local.set $k (i32.const 0))
    (block $done (loop $next
      (br_if $done (i32.ge_u ${get('k')} ${get('end')}))
      (local.set $cold (v128.load ${i32add(get('c'), get('k'))}))
      (v128.store ${i32add(get('hprev'), get('k'))} (v128.load ${i32add(get('h'), get('k'))}))
      (v128.store ${i32add(get('cprev'), get('k'))} ${get('cold')})
      (local.set $i (call $sigmoid4 ${add(`(v128.load ${i32add(get('z'), get('k'))})`, `(v128.load ${i32add(get('x'), get('k'))})`)}))
      (local.set $f (call $sigmoid4 ${add(
        `(v128.load ${i32add(i32add(get('z'), get('block')), get('k'))})`,
        `(v128.load ${i32add(i32add(get('x'), get('block')), get('k'))})`,
      )}))
      (local.set $g (call $tanh4 ${add(
        `(v128.load ${i32add(i32add(get('z'), `(i32.shl ${get('block')} (i32.const 1))`), get('k'))})`,
        `(v128.load ${i32add(i32add(get('x'), `(i32.shl ${get('block')} (i32.const 1))`), get('k'))})`,
      )}))
      (local.set $o (call $sigmoid4 ${add(
        `(v128.load ${i32add(i32add(get('z'), `(i32.mul ${get('block')} (i32.const 3))`), get('k'))})`,
        `(v128.load ${i32add(i32add(get('x'), `(i32.mul ${get('block')} (i32.const 3))`), get('k'))})`,
      )}))
      (local.set $cn ${add(mul(get('f'), get('cold')), mul(get('i'), get('g')))})
      (local.set $tc (call $tanh4 ${get('cn')}))
      (v128.store ${i32add(get('gates'), get('k'))} ${get('i')})
      (v128.store ${i32add(i32add(get('gates'), get('block')), get('k'))} ${get('f')})
      (v128.store ${i32add(i32add(get('gates'), `(i32.shl ${get('block')} (i32.const 1))`), get('k'))} ${get('g')})
      (v128.store ${i32add(i32add(get('gates'), `(i32.mul ${get('block')} (i32.const 3))`), get('k'))} ${get('o')})
      (v128.store ${i32add(get('tanhc'), get('k'))} ${get('tc')})
      (v128.store ${i32add(get('c'), get('k'))} ${get('cn')})
      (v128.store ${i32add(get('h'), get('k'))} ${mul(get('o'), get('tc'))})
      (local.set $k (i32.add ${get('k')} (i32.const 16)))
      (br $next))))
`;

export const lstmSource = `${exp4}${cell}`;
