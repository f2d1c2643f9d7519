// One piece of a word table too large for one storage binding: for every token row t whose id
// falls in this piece's rows [first, first + count), copy table row (id − first) to out[t].
// The pieces together fill every row of out; the embeddings kernel then reads out[t] in place
// of word[ids[t]] (EmbeddingsParams.gathered). ids are validated on the host (id < vocab_size).
//
// Work split: one workgroup (64 invocations) per token row; invocations stride over H.

struct Params {
    rows: u32,
    hidden: u32,
    first: u32,
    count: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> ids: array<u32>;
@group(0) @binding(2) var<storage, read> table: array<st>;
@group(0) @binding(3) var<storage, read_write> out: array<st>;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
    let row = wid.y * 65535u + wid.x;
    if (row >= params.rows) {
        return;
    }
    let id = ids[row];
    if (id < params.first || id - params.first >= params.count) {
        return; // another piece holds this row
    }
    let h = params.hidden;
    let src = (id - params.first) * h;
    let dst = row * h;
    for (var j = t; j < h; j = j + 64u) {
        out[dst + j] = table[src + j];
    }
}
