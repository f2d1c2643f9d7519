// BERT embeddings: out[t] = LayerNorm(word[ids[t]] + position[p(t)] + token_type[types[t]])
// (the position term only with params.positions = 1),
// p(t) = t mod S + pos_offset, or pad_position for padding tokens of RoBERTa-family models
// (whose positions start at pad_token_id + 1 and whose padding sits at pad_token_id). With
// gathered = 1, word holds each token's row already (a table split across bindings, gathered
// piece by piece by gather_rows.wgsl) and row t is read in place of row ids[t].
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
    pos_offset: u32,
    pad_position: u32,
    gathered: u32,
    positions: u32,
    _pad1: u32,
    _pad2: u32,
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

// word[w] + position[pos] + token_type[tt] at column j, in f32 (recomputed by each pass);
// without absolute positions (positions = 0, rotary models) the position term is left out.
fn gathered(w: u32, pos: u32, tt: u32, j: u32) -> f32 {
    let h = params.hidden;
    var v = f32(word[w * h + j]) + f32(token_type[tt * h + j]);
    if (params.positions != 0u) {
        v = v + f32(position[pos * h + j]);
    }
    return v;
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
    var pos = row % params.seq + params.pos_offset;
    if (params.pad_position != 0xffffffffu && ids[row] == params.pad_position) {
        pos = params.pad_position;
    }
    let w = select(id, row, params.gathered != 0u);
    let base = row * h;

    var sum = 0.0;
    for (var j = t; j < h; j = j + WG) {
        sum = sum + gathered(w, pos, tt, j);
    }
    let mean = wg_sum(rid, sum) / f32(h);
    var sq = 0.0;
    for (var j = t; j < h; j = j + WG) {
        let d = gathered(w, pos, tt, j) - mean;
        sq = sq + d * d;
    }
    let inv = 1.0 / sqrt(wg_sum(rid, sq) / f32(h) + params.eps);
    for (var j = t; j < h; j = j + WG) {
        out[base + j] = st((gathered(w, pos, tt, j) - mean) * inv * f32(gamma[j]) + f32(beta[j]));
    }
}
