// GEMM without workgroup memory, one column of C per invocation and 32 rows per workgroup:
// C[M, N] = act(A[M, K] · W[N, K]ᵀ + bias[N]), K divisible by 4 (A, W bound as vec4 arrays;
// a_stride too).
//
// The same contract and parameters as gemm.wgsl. Built for drivers that run a subgroup as the
// lanes of one SIMD register (CPU Vulkan: lavapipe): the 32 rows of A a workgroup needs are
// the same in every invocation, so a driver that tracks uniform values (Mesa 26 does) loads
// each of them once and broadcasts it, and the one load that differs per invocation, its
// column's 4 weights, is shared by the 32 rows' dot products. Per 4 k an invocation makes one
// divergent vec4 load for 32 four-wide dot products; `direct4x4` makes four for 16. On a GPU
// the weight loads are strided by K across a subgroup (uncoalesced): the tuner measures it
// against the tiled kernels and picks by time. Rows and columns past the matrix are clamped
// on load and skipped on store. The 32 accumulators are written out one by one (eight vec4s)
// because a loop over an array of them is not unrolled into registers by every driver.

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<vec4<st>>;
@group(0) @binding(2) var<storage, read> w: array<vec4<st>>;
@group(0) @binding(3) var<storage, read> bias: array<st>;
@group(0) @binding(4) var<storage, read_write> c: array<st>;

// Four rows' dot products with the column's weights y: a0..a3 are the rows' first vec4 in A.
fn rows4(y: vec4<f32>, q: u32, a0: u32, a1: u32, a2: u32, a3: u32) -> vec4<f32> {
    return vec4<f32>(
        dot(vec4<f32>(a[a0 + q]), y),
        dot(vec4<f32>(a[a1 + q]), y),
        dot(vec4<f32>(a[a2 + q]), y),
        dot(vec4<f32>(a[a3 + q]), y),
    );
}

@compute @workgroup_size(32, 1, 1)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let col = wid.x * 32u + lid.x;
    let r0 = wid.y * 32u; // the same in every invocation of the workgroup
    let k4 = params.k / 4u;
    let sa = params.a_stride / 4u;
    let last_r = params.m - 1u;
    let wc = min(col, params.n - 1u) * k4;
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
    let a16 = min(r0 + 16u, last_r) * sa;
    let a17 = min(r0 + 17u, last_r) * sa;
    let a18 = min(r0 + 18u, last_r) * sa;
    let a19 = min(r0 + 19u, last_r) * sa;
    let a20 = min(r0 + 20u, last_r) * sa;
    let a21 = min(r0 + 21u, last_r) * sa;
    let a22 = min(r0 + 22u, last_r) * sa;
    let a23 = min(r0 + 23u, last_r) * sa;
    let a24 = min(r0 + 24u, last_r) * sa;
    let a25 = min(r0 + 25u, last_r) * sa;
    let a26 = min(r0 + 26u, last_r) * sa;
    let a27 = min(r0 + 27u, last_r) * sa;
    let a28 = min(r0 + 28u, last_r) * sa;
    let a29 = min(r0 + 29u, last_r) * sa;
    let a30 = min(r0 + 30u, last_r) * sa;
    let a31 = min(r0 + 31u, last_r) * sa;
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    var acc4 = vec4<f32>(0.0);
    var acc5 = vec4<f32>(0.0);
    var acc6 = vec4<f32>(0.0);
    var acc7 = vec4<f32>(0.0);
    for (var q = 0u; q < k4; q = q + 1u) {
        let y = vec4<f32>(w[wc + q]);
        acc0 = acc0 + rows4(y, q, a0, a1, a2, a3);
        acc1 = acc1 + rows4(y, q, a4, a5, a6, a7);
        acc2 = acc2 + rows4(y, q, a8, a9, a10, a11);
        acc3 = acc3 + rows4(y, q, a12, a13, a14, a15);
        acc4 = acc4 + rows4(y, q, a16, a17, a18, a19);
        acc5 = acc5 + rows4(y, q, a20, a21, a22, a23);
        acc6 = acc6 + rows4(y, q, a24, a25, a26, a27);
        acc7 = acc7 + rows4(y, q, a28, a29, a30, a31);
    }
    if (col >= params.n) {
        return; // no barriers in this kernel
    }
    let b = f32(bias[col]);
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
        for (var j = 0u; j < 4u; j = j + 1u) {
            let r = r0 + 4u * i + j;
            if (r < params.m) {
                c[r * params.n + col] = st(activate(v[j] + b, params.act));
            }
        }
    }
}
