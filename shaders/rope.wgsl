// Rotary position embeddings in Hugging Face's `rotate_half` layout, in place on the query and
// key blocks of token rows (the fused QKV rows [R, 3H]: `parts` = 2 blocks of H at the start of
// each `stride`-wide row). For token row r at position p = r mod seq, head h and pair i < rot/2
// (the first `rot_dim` values of each head rotate; the rest pass through):
//   x[i]         ← x[i]·cos(p·θ_i) − x[i + rot/2]·sin(p·θ_i)
//   x[i + rot/2] ← x[i + rot/2]·cos(p·θ_i) + x[i]·sin(p·θ_i)
// with θ_i = base^(−2i/rot) as the config scales it. cos and sin come from `table`,
// [seq, rot/2] pairs (cos, sin) the host computes in f64 once per plan: the f32 angle of a
// position in the thousands would be off by more than the values it rotates.
//
// Work split: one workgroup (64 invocations) per token row; invocations stride over
// parts × heads × pairs. Each pair is read and written by one invocation.

struct Params {
    rows: u32,
    seq: u32,
    heads: u32,
    head_dim: u32,
    rot_dim: u32,
    stride: u32,
    parts: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> x: array<st>;
@group(0) @binding(2) var<storage, read> table: array<f32>;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
    let row = wid.y * 65535u + wid.x;
    if (row >= params.rows) {
        return;
    }
    let half_rot = params.rot_dim / 2u;
    let pos = row % params.seq;
    let per_part = params.heads * half_rot;
    for (var k = t; k < params.parts * per_part; k = k + 64u) {
        let part = k / per_part;
        let rest = k % per_part;
        let h = rest / half_rot;
        let i = rest % half_rot;
        let base = row * params.stride + part * params.heads * params.head_dim + h * params.head_dim;
        let c = table[(pos * half_rot + i) * 2u];
        let s = table[(pos * half_rot + i) * 2u + 1u];
        let a = f32(x[base + i]);
        let b = f32(x[base + i + half_rot]);
        x[base + i] = st(a * c - b * s);
        x[base + i + half_rot] = st(b * c + a * s);
    }
}
