// SPLADE's sparse vector of each sequence from one row chunk of the masked-word logits, so the
// B·S·V logits never leave the GPU:
//   w = log(1 + relu(logit))            (params.twice = 1: log(1 + w) again, OpenSearch's
//                                        "log1p_relu")
//   MODE SPLADE_MAX: out[b, v] = max over real tokens s of w[b, s, v]   (SPLADE v2 and later)
//   MODE SPLADE_SUM: out[b, v] = Σ over real tokens s of w[b, s, v]     (the first SPLADE)
// Padding rows (mask = 0) count as w = 0, as sentence-transformers' SpladePooling multiplies
// the logits by the mask. The logits come in chunks of rows [row0, row0 + rows) of the B·S
// token rows (each chunk within one storage binding); a chunk may cut a sequence. The first
// chunk (params.init = 1) writes every out[b, v]; later ones fold their rows into it. With a
// word table split across bindings the logits also come in column blocks: this call's columns
// are vocabulary entries [col0, col0 + vocab) of out's `stride`.
//
// Work split: one invocation per (b, v): 64 consecutive vocabulary entries per workgroup
// (coalesced reads of each logits row), workgroup row y = b.

override MODE: u32 = SPLADE_MAX;

struct Params {
    batch: u32,
    seq: u32,
    vocab: u32,
    row0: u32,
    rows: u32,
    init: u32,
    twice: u32,
    col0: u32,
    stride: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> logits: array<st>;
@group(0) @binding(2) var<storage, read> mask: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<st>;

// log(1 + x) for x ≥ 0 to f32 accuracy. WGSL's log is only absolutely accurate (2⁻²¹) near 1,
// which would lose the small weights, so below 1 it is the series of
// log(1 + x) = 2·atanh(z), z = x / (2 + x) ≤ 1/3 (terms to z¹⁷: relative error < 1e-9).
fn log1p_pos(x: f32) -> f32 {
    if (x >= 1.0) {
        return log(1.0 + x);
    }
    let z = x / (2.0 + x);
    let z2 = z * z;
    var p = 1.0 / 17.0;
    p = p * z2 + 1.0 / 15.0;
    p = p * z2 + 1.0 / 13.0;
    p = p * z2 + 1.0 / 11.0;
    p = p * z2 + 1.0 / 9.0;
    p = p * z2 + 1.0 / 7.0;
    p = p * z2 + 1.0 / 5.0;
    p = p * z2 + 1.0 / 3.0;
    p = p * z2 + 1.0;
    return 2.0 * z * p;
}

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let v = gid.x;
    let b = gid.y;
    if (v >= params.vocab || b >= params.batch) {
        return;
    }
    let first = max(params.row0, b * params.seq);
    let end = min(params.row0 + params.rows, (b + 1u) * params.seq);
    if (params.init == 0u && first >= end) {
        return; // none of this sequence's rows is in the chunk
    }
    let o = b * params.stride + params.col0 + v;
    var acc = 0.0;
    if (params.init == 0u) {
        acc = f32(out[o]);
    }
    for (var r = first; r < end; r = r + 1u) {
        if (mask[r] == 0u) {
            continue;
        }
        var w = log1p_pos(max(f32(logits[(r - params.row0) * params.vocab + v]), 0.0));
        if (params.twice != 0u) {
            w = log1p_pos(w);
        }
        if (MODE == SPLADE_SUM) {
            acc = acc + w;
        } else {
            acc = max(acc, w);
        }
    }
    out[o] = st(acc);
}
