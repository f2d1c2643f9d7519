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

// Four rows of A (their vec4 q; a0..a3 are the rows' first vec4) against both columns'
// weights y0, y1: column 0 of the result is y0's four dot products, column 1 is y1's. Each
// row is loaded once for both columns.
fn rows4(y0: vec4<f32>, y1: vec4<f32>, q: u32, a0: u32, a1: u32, a2: u32, a3: u32) -> mat2x4<f32> {
    let x0 = vec4<f32>(a[a0 + q]);
    let x1 = vec4<f32>(a[a1 + q]);
    let x2 = vec4<f32>(a[a2 + q]);
    let x3 = vec4<f32>(a[a3 + q]);
    return mat2x4<f32>(
        vec4<f32>(dot(x0, y0), dot(x1, y0), dot(x2, y0), dot(x3, y0)),
        vec4<f32>(dot(x0, y1), dot(x1, y1), dot(x2, y1), dot(x3, y1)),
    );
}

@compute @workgroup_size(32, 1, 1)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    // Columns lid.x and lid.x + 32 of the workgroup's 64; a gated GEMM takes the adjacent
    // pair 2·lid.x, 2·lid.x + 1 instead (a gate and its linear half, see gemm_store.wgsl).
    let glu = params.glu != 0u;
    let col0 = wid.x * 64u + select(lid.x, 2u * lid.x, glu);
    let col1 = col0 + select(32u, 1u, glu);
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
        let d0 = rows4(y0, y1, q, a0, a1, a2, a3);
        acc0 = acc0 + d0[0];
        acc4 = acc4 + d0[1];
        let d1 = rows4(y0, y1, q, a4, a5, a6, a7);
        acc1 = acc1 + d1[0];
        acc5 = acc5 + d1[1];
        let d2 = rows4(y0, y1, q, a8, a9, a10, a11);
        acc2 = acc2 + d2[0];
        acc6 = acc6 + d2[1];
        let d3 = rows4(y0, y1, q, a12, a13, a14, a15);
        acc3 = acc3 + d3[0];
        acc7 = acc7 + d3[1];
    }
    // One store site per kind in a loop (common/gemm_store.wgsl's `store_one` / `store_glu`),
    // as in gemm_direct4x4.wgsl: v0 holds four rows of column col0, v1 the same rows of col1.
    for (var i = 0u; i < 4u; i = i + 1u) {
        var v0 = acc0;
        var v1 = acc4;
        switch i {
            case 1u: { v0 = acc1; v1 = acc5; }
            case 2u: { v0 = acc2; v1 = acc6; }
            case 3u: { v0 = acc3; v1 = acc7; }
            default: {}
        }
        for (var j = 0u; j < 4u; j = j + 1u) {
            let r = r0 + 4u * i + j;
            if (glu) {
                store_glu(r, col0, v0[j], v1[j]);
            } else {
                store_one(r, col0, v0[j]);
                store_one(r, col1, v1[j]);
            }
        }
    }
}
