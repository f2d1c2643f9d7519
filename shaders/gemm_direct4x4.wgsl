// GEMM without workgroup memory, for small M: C[M, N] = act(A[M, K] · W[N, K]ᵀ + bias[N]),
// K divisible by 4 (A, W bound as vec4 arrays; a_stride too).
//
// The same contract, parameters and epilogue as gemm.wgsl. With one short query (M ≈ 32) a
// tiled kernel spends its time staging tiles that each invocation then uses little; here each
// invocation reads its own 4 rows of A and 4 rows of W straight from memory (each weight is
// read once per 4-row group; A is small and stays in cache) and keeps a 4 × 4 block of C in
// four vec4 accumulators: per 4 k, 8 vec4 loads and 16 four-wide dot products. 64 invocations
// per workgroup along N (256 columns), one workgroup row per 4 rows of C. Rows and columns past
// the matrix are clamped on load and skipped on store.

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<vec4<st>>;
@group(0) @binding(2) var<storage, read> w: array<vec4<st>>;
@group(0) @binding(3) var<storage, read> bias: array<st>;
@group(0) @binding(4) var<storage, read_write> c: array<st>;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let c0 = gid.x * 4u;
    let r0 = gid.y * 4u;
    if (c0 >= params.n || r0 >= params.m) {
        return; // no barriers in this kernel
    }
    let k4 = params.k / 4u;
    let sa = params.a_stride / 4u;
    let last_r = params.m - 1u;
    let last_c = params.n - 1u;
    let a0 = min(r0, last_r) * sa;
    let a1 = min(r0 + 1u, last_r) * sa;
    let a2 = min(r0 + 2u, last_r) * sa;
    let a3 = min(r0 + 3u, last_r) * sa;
    let w0 = min(c0, last_c) * k4;
    let w1 = min(c0 + 1u, last_c) * k4;
    let w2 = min(c0 + 2u, last_c) * k4;
    let w3 = min(c0 + 3u, last_c) * k4;
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    for (var q = 0u; q < k4; q = q + 1u) {
        let x0 = vec4<f32>(a[a0 + q]);
        let x1 = vec4<f32>(a[a1 + q]);
        let x2 = vec4<f32>(a[a2 + q]);
        let x3 = vec4<f32>(a[a3 + q]);
        let y0 = vec4<f32>(w[w0 + q]);
        let y1 = vec4<f32>(w[w1 + q]);
        let y2 = vec4<f32>(w[w2 + q]);
        let y3 = vec4<f32>(w[w3 + q]);
        acc0 = acc0 + vec4<f32>(dot(x0, y0), dot(x0, y1), dot(x0, y2), dot(x0, y3));
        acc1 = acc1 + vec4<f32>(dot(x1, y0), dot(x1, y1), dot(x1, y2), dot(x1, y3));
        acc2 = acc2 + vec4<f32>(dot(x2, y0), dot(x2, y1), dot(x2, y2), dot(x2, y3));
        acc3 = acc3 + vec4<f32>(dot(x3, y0), dot(x3, y1), dot(x3, y2), dot(x3, y3));
    }
    // One `store` call site in a loop (see common/gemm_blocked.wgsl).
    for (var i = 0u; i < 4u; i = i + 1u) {
        var v = acc0;
        switch i {
            case 1u: { v = acc1; }
            case 2u: { v = acc2; }
            case 3u: { v = acc3; }
            default: {}
        }
        store(r0 + i, c0, v);
    }
}
