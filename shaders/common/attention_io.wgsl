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
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> qkv: array<st>;
@group(0) @binding(2) var<storage, read> mask: array<u32>;
@group(0) @binding(3) var<storage, read_write> ctx: array<st>;

const MASKED: f32 = -1.0e9;    // padding keys (input_mask == 0), as Hugging Face's additive mask
const PAST_END: f32 = -3.0e38; // keys beyond S: weight exactly 0

// Additive bias of key j of sequence b.
fn key_bias(b: u32, j: u32) -> f32 {
    if (j >= params.seq) {
        return PAST_END;
    }
    return select(MASKED, 0.0, mask[b * params.seq + j] != 0u);
}
