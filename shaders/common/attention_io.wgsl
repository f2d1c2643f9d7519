// What both attention kernels share (prepended by the Rust shader registry): the parameters
// (`AttentionParams` in src/kernels.rs), the bindings and the additive key mask. q, k, v are
// read from the fused QKV projection qkv[B·S, 3·H] (columns [0, H) = Q, [H, 2H) = K, [2H, 3H) =
// V; head h at offset h·D in each); ctx[B·S, H] gets the heads' outputs side by side.

struct Params {
    batch: u32,
    seq: u32,
    heads: u32,
    head_dim: u32,
    hidden: u32,
    scale: f32,
    window: u32,   // 0: every key; w > 0: query i sees keys j with |i - j| <= w (sliding window)
    relative: u32, // 1: add rel_bias[h, j - i] (MPNet's relative position buckets, ALiBi)
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> qkv: array<st>;
@group(0) @binding(2) var<storage, read> mask: array<u32>;
@group(0) @binding(3) var<storage, read_write> ctx: array<st>;
// [heads, 2S - 1]: the bias of key j for query i in head h at h·(2S − 1) + j − i + S − 1 (f32,
// computed on the host once per plan and shared by every layer). Unread unless params.relative.
@group(0) @binding(4) var<storage, read> rel_bias: array<f32>;

const MASKED: f32 = -1.0e9;    // padding keys (input_mask == 0), as Hugging Face's additive mask
const PAST_END: f32 = -3.0e38; // keys beyond S: weight exactly 0

// Additive bias of key j of sequence b for query i. Keys outside a sliding window weigh
// exactly 0 (as if absent, so the kernels may skip them: `key_range`); padding keys inside it
// get MASKED. Real queries always see themselves; a padding query whose window holds only
// padding averages those keys (Hugging Face gives such rows NaN).
fn key_bias(b: u32, h: u32, i: u32, j: u32) -> f32 {
    if (j >= params.seq || (params.window != 0u && max(i, j) - min(i, j) > params.window)) {
        return PAST_END;
    }
    var bias = 0.0;
    if (params.relative != 0u) {
        let qi = min(i, params.seq - 1u); // rows past S (a ragged last block) are never stored
        bias = rel_bias[h * (2u * params.seq - 1u) + j + params.seq - 1u - qi];
    }
    return select(MASKED, bias, mask[b * params.seq + j] != 0u);
}

// The keys a block of queries [q_first, q_last] needs: all of them, or with a sliding window
// [q_first − w, q_last + w] clamped to the sequence, so that local attention costs O(S·w).
// The start is rounded down to a multiple of `align` (the kernels' key block).
fn key_range(q_first: u32, q_last: u32, align: u32) -> vec2<u32> {
    if (params.window == 0u) {
        return vec2<u32>(0u, params.seq);
    }
    let lo = select(0u, q_first - params.window, q_first > params.window);
    return vec2<u32>(lo - lo % align, min(params.seq, q_last + params.window + 1u));
}
