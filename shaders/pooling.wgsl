// Sentence pooling over the last layer with optional L2 normalisation, one vector per sequence:
//   MODE POOL_MEAN: Σ_s x[b, s] · mask[b, s] / max(Σ_s mask[b, s], 1e-9)   (sentence-transformers)
//   MODE POOL_MAX: max over real tokens (mask = 1)
//   MODE POOL_CLS: x[b, 0]
//   MODE POOL_MEAN_SQRT_LEN: Σ_s x[b, s] · mask[b, s] / √max(Σ_s mask[b, s], 1e-9)
// then, when params.normalize = 1, v / max(‖v‖₂, 1e-12) (torch.nn.functional.normalize).
//
// Work split: one workgroup (WG = 64 invocations) per sequence b; invocations stride over H;
// the norm is a workgroup reduction. out is [B, H].

override MODE: u32 = POOL_MEAN;

struct Params {
    batch: u32,
    seq: u32,
    hidden: u32,
    normalize: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<st>;
@group(0) @binding(2) var<storage, read> mask: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<st>;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, rid: ReduceIds) {
    let t = rid.t;
    let b = wid.y * 65535u + wid.x;
    if (b >= params.batch) {
        return; // b is uniform across the workgroup
    }
    let h = params.hidden;
    let s_len = params.seq;
    var count = 0.0;
    for (var s = 0u; s < s_len; s = s + 1u) {
        if (mask[b * s_len + s] != 0u) {
            count = count + 1.0;
        }
    }
    var sq = 0.0;
    for (var j = t; j < h; j = j + WG) {
        var v = 0.0;
        if (MODE == POOL_CLS) {
            v = f32(x[b * s_len * h + j]);
        } else if (MODE == POOL_MAX) {
            v = -3.0e38;
            for (var s = 0u; s < s_len; s = s + 1u) {
                if (mask[b * s_len + s] != 0u) {
                    v = max(v, f32(x[(b * s_len + s) * h + j]));
                }
            }
            if (count == 0.0) {
                v = 0.0;
            }
        } else {
            for (var s = 0u; s < s_len; s = s + 1u) {
                if (mask[b * s_len + s] != 0u) {
                    v = v + f32(x[(b * s_len + s) * h + j]);
                }
            }
            if (MODE == POOL_MEAN_SQRT_LEN) {
                v = v / sqrt(max(count, 1e-9));
            } else {
                v = v / max(count, 1e-9);
            }
        }
        out[b * h + j] = st(v);
        sq = sq + v * v;
    }
    let norm = sqrt(wg_sum(rid, sq));
    if (params.normalize != 0u) {
        let inv = 1.0 / max(norm, 1e-12);
        for (var j = t; j < h; j = j + WG) {
            out[b * h + j] = st(f32(out[b * h + j]) * inv);
        }
    }
}
