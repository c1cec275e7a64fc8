// Least-squares branch initialisation ('lsq'): for each replaced conv, the
// 1×1 kernel and bias that best reproduce the k×k conv's output on data,
//   min over W₁, b  Σ over samples and output positions ‖y − (W₁·x + b)‖²,
// where x is the input value the branch reads at that position (the centre
// tap's, see branch.ts). The centre-tap init minimises the distance between
// kernels; this minimises the distance between outputs, so it also takes in
// what the other taps contribute on correlated inputs (images are smooth:
// a 3×3 kernel's off-centre taps read values close to the centre's).
//
// The fit accumulates the normal equations (Xᵀ X and Xᵀ Y over every batch,
// in float64) so memory does not grow with the data, and solves them with
// the engine's linalg_lstsq (LAPACK gelsy: a rank-deficient X still gets the
// minimum-norm least-squares solution, so an input channel that a ReLU keeps
// at 0 on the data gets weight 0).
//
// A narrow branch (rank r, branch.ts) gets the best rank-r fit of the same
// outputs, reduced-rank regression: with Ŷ = X·S the full fit's outputs,
//   ‖Y − X·Wᵀ‖² = ‖Y − Ŷ‖² + ‖Ŷ − X·Wᵀ‖²
// (Y − Ŷ is orthogonal to X's columns), and the best rank-r Ŷ·P (Eckart–Young;
// P = V_r·V_rᵀ, V_r the top r eigenvectors of ŶᵀŶ = S·XᵀX·Sᵀ, [Cout, Cout])
// is reached by W = V_r·V_rᵀ·S: so B = V_r and A = V_rᵀ·S. This minimises the
// output residual, not the distance to the full fit's weights (a truncated
// SVD of S would be the rank-r minimiser only in the weight metric). The
// intercept is left out of the rank: X and Y are centred for ŶᵀŶ, and the bias
// is then the best one for the rank-r weights, mean(y) − W·mean(x).
import { Capture, conv2dGeometry, explicitPadding, type Model } from '../graph/index.js';
import { F, callOp, eye, noGrad, ones, tensor, tidy, type Tensor } from '../tensor/index.js';
import { branchInName, branchName, narrowRank, replacedConvs } from './branch.js';
import { ReplaceError } from './errors.js';

/** What a fit did per replaced conv. */
export interface BranchFit {
  conv: string;
  /** Output positions (samples × height × width) the fit saw. */
  rows: number;
  /** Mean squared error of the fitted branch against the conv's output, over those positions and output channels. */
  mse: number;
}

/**
 * The branch's input at every output position of conv `node`: a 1×1 identity
 * convolution with the branch's stride and padding, i.e. exactly what the
 * branch's own 1×1 kernel multiplies, as [positions, Cin].
 */
function branchInputs(x: Tensor, geometry: ReturnType<typeof conv2dGeometry>): Tensor {
  const pad = explicitPadding(geometry)!;
  const padding: [number, number] = [pad[0] - (geometry.dilation[0] * (geometry.kernel[0] - 1)) / 2, pad[1] - (geometry.dilation[1] * (geometry.kernel[1] - 1)) / 2];
  const cin = geometry.inChannels;
  const picked = F.conv2d(x.double(), eye(cin, { dtype: 'float64' }).reshape([cin, cin, 1, 1]), { stride: geometry.stride, padding });
  return picked.permute(0, 2, 3, 1).reshape([-1, cin]);
}

/**
 * Overwrites the branch weights (and biases) of every replaced conv of
 * `blended` (attachBranches' model) with the least-squares fit of the
 * original conv's output in `original` on `batches` (input images
 * [N, C, H, W], normalised as the model sees them; not disposed). Both
 * models run in eval mode; `original` is only read. Returns the fit per
 * conv, in replacedConvs order.
 */
export function fitBranches(original: Model, blended: Model, batches: Iterable<Tensor>): BranchFit[] {
  const convs = replacedConvs(blended.graph);
  if (!convs.length) throw new ReplaceError('the model has no replaced convolution (no blend node): attach branches first');
  const specs = convs.map((c) => {
    if (!original.graph.has(c) || original.graph.node(c).kind !== 'conv2d') throw new ReplaceError(`the original model has no convolution '${c}' to fit the branch of`);
    const node = original.graph.node(c);
    return { conv: c, input: node.inputs[0]!, g: conv2dGeometry(node), rank: narrowRank(blended.graph, c) };
  });
  const acc = specs.map((s) => {
    const k = s.g.inChannels + (s.g.bias ? 1 : 0);
    return { gram: new Float64Array(k * k), cross: new Float64Array(k * s.g.outChannels), yy: 0, rows: 0 };
  });
  const names = [...new Set(specs.flatMap((s) => [s.input, s.conv]))];
  for (const x of batches) {
    const cap = new Capture(names);
    try {
      noGrad(() => tidy(() => void original.forward(x, { training: false, hooks: cap })));
      specs.forEach((s, i) => {
        const a = acc[i]!;
        tidy(() => {
          let design = branchInputs(cap.activation(s.input), s.g);
          const rows = design.size(0);
          if (s.g.bias) design = F.cat([design, ones([rows, 1], { dtype: 'float64' })], 1); // the intercept's column
          const y = cap.activation(s.conv).double().permute(0, 2, 3, 1).reshape([-1, s.g.outChannels]);
          if (y.size(0) !== rows) throw new ReplaceError(`'${s.conv}': the branch reads ${rows} positions but the conv writes ${y.size(0)}`);
          const dt = design.transpose(0, 1);
          addInto(a.gram, dt.matmul(design));
          addInto(a.cross, dt.matmul(y));
          a.yy += y.mul(y).sum().item();
          a.rows += rows;
        });
      });
    } finally {
      cap.dispose();
    }
  }
  if (acc.some((a) => a.rows === 0)) throw new ReplaceError('fitting the branches needs at least one batch of data');
  return specs.map((s, i) => {
    const a = acc[i]!;
    const cin = s.g.inChannels;
    const cout = s.g.outChannels;
    const k = cin + (s.g.bias ? 1 : 0);
    const full = tidy(() => {
      const [solution] = callOp('aten::linalg_lstsq', fromF64(a.gram, [k, k]), fromF64(a.cross, [k, cout]), null, null) as Tensor[];
      return Float64Array.from(solution!.reshape([-1]).toArray());
    }); // [k, cout]: row j is input channel j (the last row the bias)
    const reduced = s.rank === null ? null : reducedRank(full, a, cin, cout, s.g.bias, s.rank);
    const sol = reduced?.sol ?? full;
    const w = new Float32Array(cout * cin);
    const b = new Float32Array(cout);
    for (let o = 0; o < cout; o++) {
      for (let j = 0; j < cin; j++) w[o * cin + j] = sol[j * cout + o]!;
      if (s.g.bias) b[o] = sol[cin * cout + o]!;
    }
    noGrad(() => {
      if (reduced) {
        const r = s.rank!;
        tidy(() => void blended.tensor(`${branchInName(s.conv)}.weight`).copy_(fromF32(Float32Array.from(reduced.a), [r, cin, 1, 1])));
        tidy(() => void blended.tensor(`${branchName(s.conv)}.weight`).copy_(fromF32(Float32Array.from(reduced.b), [cout, r, 1, 1])));
      } else tidy(() => void blended.tensor(`${branchName(s.conv)}.weight`).copy_(fromF32(w, [cout, cin, 1, 1])));
      if (s.g.bias) tidy(() => void blended.tensor(`${branchName(s.conv)}.bias`).copy_(fromF32(b, [cout])));
    });
    // Residual from the normal equations: ‖Y − XS‖² = ‖Y‖² − 2·tr(Sᵀ XᵀY) + tr(Sᵀ XᵀX S).
    let cross = 0;
    let quad = 0;
    for (let o = 0; o < cout; o++) {
      for (let j = 0; j < k; j++) {
        const sj = sol[j * cout + o]!;
        cross += sj * a.cross[j * cout + o]!;
        let gs = 0;
        for (let l = 0; l < k; l++) gs += a.gram[j * k + l]! * sol[l * cout + o]!;
        quad += sj * gs;
      }
    }
    return { conv: s.conv, rows: a.rows, mse: Math.max(0, a.yy - 2 * cross + quad) / (a.rows * cout) };
  });
}

/**
 * The rank-`rank` fit from the full one (see the top): A [rank, cin] and
 * B [cout, rank] row-major, and the solution [k, cout] of W = B·A with its
 * best bias, in the layout of `full`.
 */
function reducedRank(full: Float64Array, acc: { gram: Float64Array; cross: Float64Array; rows: number }, cin: number, cout: number, bias: boolean, rank: number): { a: Float64Array; b: Float64Array; sol: Float64Array } {
  const k = cin + (bias ? 1 : 0);
  return tidy(() => {
    const st = fromF64(full, [k, cout]).narrow(0, 0, cin); // Sᵀ: [cin, cout]
    let gram = fromF64(acc.gram, [k, k]).narrow(0, 0, cin).narrow(1, 0, cin);
    if (bias) {
      const sums = fromF64(acc.gram, [k, k]).narrow(0, cin, 1).narrow(1, 0, cin); // Σx, [1, cin]
      gram = gram.sub(sums.transpose(0, 1).matmul(sums).mul(1 / acc.rows));
    }
    const yy = st.transpose(0, 1).matmul(gram).matmul(st); // ŶᵀŶ, centred: [cout, cout]
    const [u] = callOp('aten::linalg_svd', yy, false, null) as Tensor[]; // symmetric PSD: its SVD is its eigendecomposition, largest first
    const b = u!.narrow(1, 0, rank).contiguous(); // [cout, rank]
    const a = b.transpose(0, 1).matmul(st.transpose(0, 1)).contiguous(); // [rank, cin]
    const w = b.matmul(a); // [cout, cin]
    const sol = new Float64Array(k * cout);
    const wv = w.contiguous().data<'float64'>();
    for (let o = 0; o < cout; o++) for (let j = 0; j < cin; j++) sol[j * cout + o] = wv[o * cin + j]!;
    if (bias) {
      for (let o = 0; o < cout; o++) {
        let v = acc.cross[cin * cout + o]!; // Σy
        for (let j = 0; j < cin; j++) v -= wv[o * cin + j]! * acc.gram[cin * k + j]!;
        sol[cin * cout + o] = v / acc.rows;
      }
    }
    return { a: Float64Array.from(a.data<'float64'>()), b: Float64Array.from(b.data<'float64'>()), sol };
  });
}

/** Adds a float64 tensor's values into `into` (same length). */
function addInto(into: Float64Array, t: Tensor): void {
  const v = t.contiguous().data<'float64'>();
  for (let i = 0; i < into.length; i++) into[i]! += v[i]!;
}

const fromF64 = (v: Float64Array, shape: number[]): Tensor => tensor(v, shape, { dtype: 'float64' });
const fromF32 = (v: Float32Array, shape: number[]): Tensor => tensor(v, shape);
