// GEMM without workgroup memory, 16 rows × 2 columns of C per invocation, 16 × 64 per
// workgroup: C[M, N] = act(A[M, K] · W[N, K]ᵀ + bias[N]), K divisible by 4 (A, W bound as
// vec4 arrays; a_stride too).
//
// The same contract and parameters as gemm.wgsl. Built for drivers that run a subgroup as the
// lanes of one SIMD register (CPU Vulkan: lavapipe). The 16 rows of A a workgroup needs are
// the same in every invocation, so a driver that tracks uniform values (Mesa 26 does) loads
// each of them once per subgroup and broadcasts it; the only loads that differ per invocation
// are its two columns' weights. Per 4 k an invocation makes 2 divergent vec4 loads and 16
// uniform ones for 32 four-wide dot products (`direct4x4`: 4 divergent, 4 uniform, 16 dot
// products). On Mesa 26 lavapipe a uniform load costs about 12 instructions (bounds checks)
// and a divergent vec4 about 240 (one lane at a time): 16 × 2 balances the two with 32
// accumulators. On a GPU the weight loads are strided by K across a subgroup (uncoalesced):
// the tuner measures it against the tiled kernels and picks by time. Rows and columns past
// the matrix are clamped on load and skipped on store. The accumulators are written out one
// by one (eight vec4s) because a loop over an array of them is not unrolled into registers by
// every driver.

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<vec4<st>>;
@group(0) @binding(2) var<storage, read> w: array<vec4<st>>;
@group(0) @binding(3) var<storage, read> bias: array<st>;
@group(0) @binding(4) var<storage, read_write> c: array<st>;

// Dot products of one column's weights y with four rows x0..x3.
fn dots4(y: vec4<f32>, x0: vec4<f32>, x1: vec4<f32>, x2: vec4<f32>, x3: vec4<f32>) -> vec4<f32> {
    return vec4<f32>(dot(x0, y), dot(x1, y), dot(x2, y), dot(x3, y));
}

// Row r of C, column col: act(v + bias), if inside the matrix.
fn store_one(r: u32, col: u32, v: f32) {
    if (r < params.m && col < params.n) {
        c[r * params.n + col] = st(activate(v + f32(bias[col]), params.act));
    }
}

@compute @workgroup_size(32, 1, 1)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let col0 = wid.x * 64u + lid.x;
    let col1 = col0 + 32u;
    let r0 = wid.y * 16u; // the same in every invocation of the workgroup
    let k4 = params.k / 4u;
    let sa = params.a_stride / 4u;
    let last_r = params.m - 1u;
    let w0 = min(col0, params.n - 1u) * k4;
    let w1 = min(col1, params.n - 1u) * k4;
    let a0 = min(r0 + 0u, last_r) * sa;
    let a1 = min(r0 + 1u, last_r) * sa;
    let a2 = min(r0 + 2u, last_r) * sa;
    let a3 = min(r0 + 3u, last_r) * sa;
    let a4 = min(r0 + 4u, last_r) * sa;
    let a5 = min(r0 + 5u, last_r) * sa;
    let a6 = min(r0 + 6u, last_r) * sa;
    let a7 = min(r0 + 7u, last_r) * sa;
    let a8 = min(r0 + 8u, last_r) * sa;
    let a9 = min(r0 + 9u, last_r) * sa;
    let a10 = min(r0 + 10u, last_r) * sa;
    let a11 = min(r0 + 11u, last_r) * sa;
    let a12 = min(r0 + 12u, last_r) * sa;
    let a13 = min(r0 + 13u, last_r) * sa;
    let a14 = min(r0 + 14u, last_r) * sa;
    let a15 = min(r0 + 15u, last_r) * sa;
    // acc0..acc3: column col0, rows 4i..4i+3; acc4..acc7: column col1.
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    var acc4 = vec4<f32>(0.0);
    var acc5 = vec4<f32>(0.0);
    var acc6 = vec4<f32>(0.0);
    var acc7 = vec4<f32>(0.0);
    for (var q = 0u; q < k4; q = q + 1u) {
        let y0 = vec4<f32>(w[w0 + q]);
        let y1 = vec4<f32>(w[w1 + q]);
        let x0 = vec4<f32>(a[a0 + q]);
        let x1 = vec4<f32>(a[a1 + q]);
        let x2 = vec4<f32>(a[a2 + q]);
        let x3 = vec4<f32>(a[a3 + q]);
        acc0 = acc0 + dots4(y0, x0, x1, x2, x3);
        acc4 = acc4 + dots4(y1, x0, x1, x2, x3);
        let x4 = vec4<f32>(a[a4 + q]);
        let x5 = vec4<f32>(a[a5 + q]);
        let x6 = vec4<f32>(a[a6 + q]);
        let x7 = vec4<f32>(a[a7 + q]);
        acc1 = acc1 + dots4(y0, x4, x5, x6, x7);
        acc5 = acc5 + dots4(y1, x4, x5, x6, x7);
        let x8 = vec4<f32>(a[a8 + q]);
        let x9 = vec4<f32>(a[a9 + q]);
        let x10 = vec4<f32>(a[a10 + q]);
        let x11 = vec4<f32>(a[a11 + q]);
        acc2 = acc2 + dots4(y0, x8, x9, x10, x11);
        acc6 = acc6 + dots4(y1, x8, x9, x10, x11);
        let x12 = vec4<f32>(a[a12 + q]);
        let x13 = vec4<f32>(a[a13 + q]);
        let x14 = vec4<f32>(a[a14 + q]);
        let x15 = vec4<f32>(a[a15 + q]);
        acc3 = acc3 + dots4(y0, x12, x13, x14, x15);
        acc7 = acc7 + dots4(y1, x12, x13, x14, x15);
    }
    // One store site in a loop, as in gemm_direct.wgsl.
    for (var i = 0u; i < 8u; i = i + 1u) {
        var v = acc0;
        switch i {
            case 1u: { v = acc1; }
            case 2u: { v = acc2; }
            case 3u: { v = acc3; }
            case 4u: { v = acc4; }
            case 5u: { v = acc5; }
            case 6u: { v = acc6; }
            case 7u: { v = acc7; }
            default: {}
        }
        let col = select(col0, col1, i >= 4u);
        for (var j = 0u; j < 4u; j = j + 1u) {
            store_one(r0 + 4u * (i % 4u) + j, col, v[j]);
        }
    }
}
