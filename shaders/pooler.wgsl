// BERT pooler: pooled[b, n] = tanh(Σ_k x[b, 0, k] · W[n, k] + bias[n]) — dense + tanh on [CLS].
//
// Work split: one invocation per output (b, n); 64 invocations per workgroup along n,
// workgroup_id.y = b. x is the last layer's [B·S, H] output; row b·S is sequence b's [CLS].

struct Params {
    batch: u32,
    seq: u32,
    hidden: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<st>;
@group(0) @binding(2) var<storage, read> w: array<st>;
@group(0) @binding(3) var<storage, read> bias: array<st>;
@group(0) @binding(4) var<storage, read_write> pooled: array<st>;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let n = gid.x;
    let b = gid.y;
    let h = params.hidden;
    if (n >= h || b >= params.batch) {
        return;
    }
    let x_base = b * params.seq * h;
    var sum = 0.0;
    for (var k = 0u; k < h; k = k + 1u) {
        sum = sum + f32(x[x_base + k]) * f32(w[n * h + k]);
    }
    pooled[b * h + n] = st(tanh(clamp(sum + f32(bias[n]), -15.0, 15.0)));
}
