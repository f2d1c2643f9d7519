// Residual add + LayerNorm: out[r] = LayerNorm(x[r] + residual[r]) · gamma + beta, per row of [R, H].
// params.mode: bit 0 (MODE_RESIDUAL) adds the residual (without it, a plain LayerNorm of x);
// bit 1 (MODE_SUM) also writes x + residual to `sum` (pre-LayerNorm blocks keep the residual
// stream and normalise it in one pass). Without MODE_SUM the host binds `out` as `sum`, unwritten.
//
// Work split: one workgroup (WG = 64 invocations) per row; invocations stride over the H columns;
// mean and biased variance come from two workgroup reductions (eps from config.json).
// out may not alias x or residual. x + residual is recomputed in each pass (not stored in
// out) so that with f16 storage the statistics see the unrounded sum.

struct Params {
    rows: u32,
    hidden: u32,
    eps: f32,
    mode: u32,
}

const MODE_RESIDUAL: u32 = 1u;
const MODE_SUM: u32 = 2u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<st>;
@group(0) @binding(2) var<storage, read> residual: array<st>;
@group(0) @binding(3) var<storage, read> gamma: array<st>;
@group(0) @binding(4) var<storage, read> beta: array<st>;
@group(0) @binding(5) var<storage, read_write> out: array<st>;
@group(0) @binding(6) var<storage, read_write> sum_out: array<st>;

// x + residual (or x alone) at flat index i, in f32.
fn input(i: u32) -> f32 {
    if ((params.mode & MODE_RESIDUAL) != 0u) {
        return f32(x[i]) + f32(residual[i]);
    }
    return f32(x[i]);
}

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, rid: ReduceIds) {
    let t = rid.t;
    let row = wid.y * 65535u + wid.x;
    if (row >= params.rows) {
        return; // row is uniform across the workgroup
    }
    let h = params.hidden;
    let base = row * h;
    var sum = 0.0;
    for (var j = t; j < h; j = j + WG) {
        sum = sum + input(base + j);
    }
    let mean = wg_sum(rid, sum) / f32(h);
    var sq = 0.0;
    for (var j = t; j < h; j = j + WG) {
        let d = input(base + j) - mean;
        sq = sq + d * d;
    }
    let inv = 1.0 / sqrt(wg_sum(rid, sq) / f32(h) + params.eps);
    for (var j = t; j < h; j = j + WG) {
        let v = input(base + j);
        out[base + j] = st((v - mean) * inv * f32(gamma[j]) + f32(beta[j]));
        if ((params.mode & MODE_SUM) != 0u) {
            sum_out[base + j] = st(v);
        }
    }
}
