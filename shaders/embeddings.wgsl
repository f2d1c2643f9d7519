// BERT embeddings: out[t] = LayerNorm(word[ids[t]] + position[t mod S] + token_type[types[t]]).
//
// Work split: one workgroup (WG = 64 invocations) per token row t of the [B·S, H] output; each
// invocation owns columns lid, lid + 64, … and the mean/variance come from workgroup reductions
// (two passes: mean first, then the centred sum of squares, as torch's LayerNorm).
// ids and types are validated on the host (id < vocab_size, type < type_vocab_size); the
// clamps below only keep a bad value from reading outside the tables.

struct Params {
    rows: u32,
    seq: u32,
    hidden: u32,
    vocab: u32,
    type_vocab: u32,
    eps: f32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> ids: array<u32>;
@group(0) @binding(2) var<storage, read> types: array<u32>;
@group(0) @binding(3) var<storage, read> word: array<st>;
@group(0) @binding(4) var<storage, read> position: array<st>;
@group(0) @binding(5) var<storage, read> token_type: array<st>;
@group(0) @binding(6) var<storage, read> gamma: array<st>;
@group(0) @binding(7) var<storage, read> beta: array<st>;
@group(0) @binding(8) var<storage, read_write> out: array<st>;

// word[id] + position[pos] + token_type[tt] at column j, in f32 (recomputed by each pass).
fn gathered(id: u32, pos: u32, tt: u32, j: u32) -> f32 {
    let h = params.hidden;
    return f32(word[id * h + j]) + f32(position[pos * h + j]) + f32(token_type[tt * h + j]);
}

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, rid: ReduceIds) {
    let t = rid.t;
    let row = wid.y * 65535u + wid.x;
    if (row >= params.rows) {
        return; // whole workgroup leaves together: row is uniform
    }
    let h = params.hidden;
    let id = min(ids[row], params.vocab - 1u);
    let tt = min(types[row], params.type_vocab - 1u);
    let pos = row % params.seq;
    let base = row * h;

    var sum = 0.0;
    for (var j = t; j < h; j = j + WG) {
        sum = sum + gathered(id, pos, tt, j);
    }
    let mean = wg_sum(rid, sum) / f32(h);
    var sq = 0.0;
    for (var j = t; j < h; j = j + WG) {
        let d = gathered(id, pos, tt, j) - mean;
        sq = sq + d * d;
    }
    let inv = 1.0 / sqrt(wg_sum(rid, sq) / f32(h) + params.eps);
    for (var j = t; j < h; j = j + WG) {
        out[base + j] = st((gathered(id, pos, tt, j) - mean) * inv * f32(gamma[j]) + f32(beta[j]));
    }
}
