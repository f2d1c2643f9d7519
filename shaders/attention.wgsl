// Multi-head self-attention for one layer, fused (flash-attention style: the S×S score matrix is
// never stored):
//   ctx[b, i, h·D + d] = Σ_j softmax_j(q_i · k_j / √D + mask_j) · v_j[d]
// Params, bindings and the additive mask (0 for real keys, -1e9 for padding keys) are in
// common/attention_io.wgsl.
//
// Work split: one workgroup of 32 invocations per (block of R query rows, head h, batch b),
// R = min(32, 2048 / D); each invocation owns one query row from start to end, so there are no
// barriers at all. Its scaled q and its output accumulator live in workgroup memory laid out
// [d][row], so that the invocations of a workgroup touch consecutive addresses (vector loads on
// SIMD CPUs, no bank conflicts on GPUs) while each only ever reads and writes its own column.
// Keys are taken 8 at a time (the same key for every row: a broadcast load) with an online
// softmax: running max and sum, the accumulator rescaled once per 8 keys. Any S; D ≤ 256.

const LANES: u32 = 32u;
const TILE: u32 = 2048u; // floats of q (and of acc) per workgroup: R · D ≤ TILE

var<workgroup> q_s: array<f32, TILE>;   // [D][R]
var<workgroup> acc_s: array<f32, TILE>; // [D][R]

@compute @workgroup_size(32, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
    let s_len = params.seq;
    let d_len = params.head_dim;
    let rows = min(LANES, TILE / d_len);
    let b = wid.z;
    let h = wid.y;
    let i = wid.x * rows + t;
    if (t >= rows || i >= s_len) {
        return; // no barriers below, so idle invocations may leave
    }
    let hidden = params.hidden;
    let stride = 3u * hidden;
    let q_base = (b * s_len + i) * stride + h * d_len;
    for (var d = 0u; d < d_len; d = d + 1u) {
        q_s[d * rows + t] = f32(qkv[q_base + d]) * params.scale;
        acc_s[d * rows + t] = 0.0;
    }
    let seq_base = b * s_len * stride + h * d_len; // row 0 of this sequence, this head

    var m_run = PAST_END;
    var l_run = 0.0;
    // The workgroup's rows are wid.x·rows .. +rows−1; every invocation walks the same keys.
    let keys = key_range(wid.x * rows, min(wid.x * rows + rows, s_len) - 1u, 8u);
    for (var j0 = keys.x; j0 < keys.y; j0 = j0 + 8u) {
        // Rows of keys j0..j0+7, clamped so that reads stay inside the sequence.
        let last = s_len - 1u;
        let k0 = seq_base + min(j0, last) * stride + hidden;
        let k1 = seq_base + min(j0 + 1u, last) * stride + hidden;
        let k2 = seq_base + min(j0 + 2u, last) * stride + hidden;
        let k3 = seq_base + min(j0 + 3u, last) * stride + hidden;
        let k4 = seq_base + min(j0 + 4u, last) * stride + hidden;
        let k5 = seq_base + min(j0 + 5u, last) * stride + hidden;
        let k6 = seq_base + min(j0 + 6u, last) * stride + hidden;
        let k7 = seq_base + min(j0 + 7u, last) * stride + hidden;
        var s_lo = vec4<f32>(0.0);
        var s_hi = vec4<f32>(0.0);
        for (var d = 0u; d < d_len; d = d + 1u) {
            let qd = q_s[d * rows + t];
            s_lo = s_lo + qd * vec4<f32>(f32(qkv[k0 + d]), f32(qkv[k1 + d]), f32(qkv[k2 + d]), f32(qkv[k3 + d]));
            s_hi = s_hi + qd * vec4<f32>(f32(qkv[k4 + d]), f32(qkv[k5 + d]), f32(qkv[k6 + d]), f32(qkv[k7 + d]));
        }
        s_lo = s_lo + vec4<f32>(key_bias(b, h, i, j0), key_bias(b, h, i, j0 + 1u), key_bias(b, h, i, j0 + 2u), key_bias(b, h, i, j0 + 3u));
        s_hi = s_hi + vec4<f32>(key_bias(b, h, i, j0 + 4u), key_bias(b, h, i, j0 + 5u), key_bias(b, h, i, j0 + 6u), key_bias(b, h, i, j0 + 7u));
        let block_max = max(max(max(s_lo.x, s_lo.y), max(s_lo.z, s_lo.w)), max(max(s_hi.x, s_hi.y), max(s_hi.z, s_hi.w)));
        let m_new = max(m_run, block_max);
        let corr = exp(m_run - m_new);
        let p_lo = exp(s_lo - vec4<f32>(m_new));
        let p_hi = exp(s_hi - vec4<f32>(m_new));
        l_run = l_run * corr + dot(p_lo, vec4<f32>(1.0)) + dot(p_hi, vec4<f32>(1.0));
        m_run = m_new;
        let v_off = hidden; // V columns follow K columns
        for (var d = 0u; d < d_len; d = d + 1u) {
            let v_lo = vec4<f32>(f32(qkv[k0 + v_off + d]), f32(qkv[k1 + v_off + d]), f32(qkv[k2 + v_off + d]), f32(qkv[k3 + v_off + d]));
            let v_hi = vec4<f32>(f32(qkv[k4 + v_off + d]), f32(qkv[k5 + v_off + d]), f32(qkv[k6 + v_off + d]), f32(qkv[k7 + v_off + d]));
            let a = d * rows + t;
            acc_s[a] = acc_s[a] * corr + dot(p_lo, v_lo) + dot(p_hi, v_hi);
        }
    }

    let out_base = (b * s_len + i) * hidden + h * d_len;
    let inv = 1.0 / l_run;
    for (var d = 0u; d < d_len; d = d + 1u) {
        ctx[out_base + d] = st(acc_s[d * rows + t] * inv);
    }
}
