// Multi-head self-attention for one layer, fused, without materialising the score matrix:
//   ctx[b, i, h·D + d] = Σ_j softmax_j(q_i · k_j · scale + mask_j) · v_j[d]
// where q, k, v are read from the fused QKV projection qkv[B·S, 3·H] (columns [0, H) = Q,
// [H, 2H) = K, [2H, 3H) = V, head h at offset h·D in each), and mask_j is 0 for real keys and
// -1e9 for padding keys (input_mask == 0), as Hugging Face's additive mask.
//
// Work split: one workgroup (WG = 64 invocations) per (query row i, head h, batch b). Keys are
// streamed in chunks of 64 (one key per invocation) with an online softmax: a running max and
// sum, and the accumulator rescaled when the max grows, so any sequence length works with fixed
// workgroup memory. Invocation t owns output dims t, t + 64, t + 128, t + 192 (D ≤ 256).

struct Params {
    batch: u32,
    seq: u32,
    heads: u32,
    head_dim: u32,
    hidden: u32,
    scale: f32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> qkv: array<f32>;
@group(0) @binding(2) var<storage, read> mask: array<u32>;
@group(0) @binding(3) var<storage, read_write> ctx: array<f32>;

const MAX_HEAD_DIM: u32 = 256u;
const MASKED: f32 = -1.0e9;

var<workgroup> q_s: array<f32, MAX_HEAD_DIM>;
var<workgroup> p_s: array<f32, WG>;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
    let i = wid.x;
    let h = wid.y;
    let b = wid.z;
    let s_len = params.seq;
    let d_len = params.head_dim;
    let hidden = params.hidden;
    let stride = 3u * hidden;
    let q_base = (b * s_len + i) * stride + h * d_len;

    for (var d = t; d < d_len; d = d + WG) {
        q_s[d] = qkv[q_base + d];
    }
    workgroupBarrier();

    var m_run = -3.0e38;
    var l_run = 0.0;
    var acc = array<f32, 4>(0.0, 0.0, 0.0, 0.0);

    for (var j0 = 0u; j0 < s_len; j0 = j0 + WG) {
        let j = j0 + t;
        var s = -3.0e38;
        if (j < s_len) {
            let k_base = (b * s_len + j) * stride + hidden + h * d_len;
            var dot = 0.0;
            for (var d = 0u; d < d_len; d = d + 1u) {
                dot = dot + q_s[d] * qkv[k_base + d];
            }
            s = dot * params.scale;
            if (mask[b * s_len + j] == 0u) {
                s = s + MASKED;
            }
        }
        let m_new = max(m_run, wg_max(t, s));
        var p = 0.0;
        if (j < s_len) {
            p = exp(s - m_new);
        }
        p_s[t] = p;
        let chunk_sum = wg_sum(t, p); // its barriers also publish p_s
        let alpha = exp(m_run - m_new);
        l_run = l_run * alpha + chunk_sum;
        m_run = m_new;

        let n_keys = min(WG, s_len - j0);
        for (var slot = 0u; slot < 4u; slot = slot + 1u) {
            let d = t + slot * WG;
            if (d < d_len) {
                var a = acc[slot] * alpha;
                for (var jj = 0u; jj < n_keys; jj = jj + 1u) {
                    let v_idx = (b * s_len + j0 + jj) * stride + 2u * hidden + h * d_len + d;
                    a = a + p_s[jj] * qkv[v_idx];
                }
                acc[slot] = a;
            }
        }
        workgroupBarrier(); // p_s is rewritten by the next chunk
    }

    let out_base = (b * s_len + i) * hidden + h * d_len;
    for (var slot = 0u; slot < 4u; slot = slot + 1u) {
        let d = t + slot * WG;
        if (d < d_len) {
            ctx[out_base + d] = acc[slot] / l_run;
        }
    }
}
