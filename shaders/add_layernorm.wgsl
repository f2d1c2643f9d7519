// Residual add + LayerNorm: out[r] = LayerNorm(x[r] + residual[r]) · gamma + beta, per row of [R, H].
//
// Work split: one workgroup (WG = 64 invocations) per row; invocations stride over the H columns;
// mean and biased variance come from two workgroup reductions (eps from config.json).
// out may not alias x or residual.

struct Params {
    rows: u32,
    hidden: u32,
    eps: f32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> residual: array<f32>;
@group(0) @binding(3) var<storage, read> gamma: array<f32>;
@group(0) @binding(4) var<storage, read> beta: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
    let row = wid.y * 65535u + wid.x;
    if (row >= params.rows) {
        return; // row is uniform across the workgroup
    }
    let h = params.hidden;
    let base = row * h;
    var sum = 0.0;
    for (var j = t; j < h; j = j + WG) {
        let v = x[base + j] + residual[base + j];
        out[base + j] = v;
        sum = sum + v;
    }
    let mean = wg_sum(t, sum) / f32(h);
    var sq = 0.0;
    for (var j = t; j < h; j = j + WG) {
        let d = out[base + j] - mean;
        sq = sq + d * d;
    }
    let inv = 1.0 / sqrt(wg_sum(t, sq) / f32(h) + params.eps);
    for (var j = t; j < h; j = j + WG) {
        out[base + j] = (out[base + j] - mean) * inv * gamma[j] + beta[j];
    }
}
