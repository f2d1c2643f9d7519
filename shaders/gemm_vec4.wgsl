// GEMM with bias epilogue, vectorised loads: C[M, N] = act(A[M, K] · W[N, K]ᵀ + bias[N]),
// for K divisible by 4 (the engine falls back to gemm.wgsl otherwise).
//
// gemm.wgsl's tiling (the shared body: common/gemm_blocked.wgsl), with A and W bound as arrays of vec4 so that each global
// load brings 4 consecutive k of one row: 2 vec4 loads per matrix per invocation per slice
// instead of 8 scalar ones. Same accumulation order, so results equal gemm.wgsl's bit for bit
// without FMA fusion. One of the variants the autotuner (`src/tune.rs`) times.

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<vec4<st>>;
@group(0) @binding(2) var<storage, read> w: array<vec4<st>>;
@group(0) @binding(3) var<storage, read> bias: array<st>;
@group(0) @binding(4) var<storage, read_write> c: array<st>;

// Stages rows row0.. of a [rows, K] matrix (as [rows, K/4] vec4s), k0..k0+BK, into the tile:
// consecutive invocations read consecutive vec4s of one row. K % 4 == 0, so a vec4 is either
// wholly inside the matrix or wholly past its end.
fn stage_a(lidx: u32, row0: u32, k0: u32) {
    let k4 = params.a_stride / 4u; // a_stride is a multiple of 4 when K is
    for (var s = 0u; s < (BM * BK) / (4u * THREADS); s = s + 1u) {
        let e = lidx + s * THREADS;
        let r = e / (BK / 4u);
        let q = e % (BK / 4u);
        var v = vec4<f32>(0.0);
        if (row0 + r < params.m && k0 + q * 4u < params.k) {
            v = vec4<f32>(a[(row0 + r) * k4 + k0 / 4u + q]);
        }
        let t = (q * 4u) * (BM / 4u) + r / 4u;
        a_tile[t][r % 4u] = v.x;
        a_tile[t + BM / 4u][r % 4u] = v.y;
        a_tile[t + 2u * (BM / 4u)][r % 4u] = v.z;
        a_tile[t + 3u * (BM / 4u)][r % 4u] = v.w;
    }
}

fn stage_w(lidx: u32, col0: u32, k0: u32) {
    let k4 = params.k / 4u;
    for (var s = 0u; s < (BN * BK) / (4u * THREADS); s = s + 1u) {
        let e = lidx + s * THREADS;
        let r = e / (BK / 4u);
        let q = e % (BK / 4u);
        var v = vec4<f32>(0.0);
        if (col0 + r < params.n && k0 + q * 4u < params.k) {
            v = vec4<f32>(w[(col0 + r) * k4 + k0 / 4u + q]);
        }
        let t = (q * 4u) * (BN / 4u) + r / 4u;
        w_tile[t][r % 4u] = v.x;
        w_tile[t + BN / 4u][r % 4u] = v.y;
        w_tile[t + 2u * (BN / 4u)][r % 4u] = v.z;
        w_tile[t + 3u * (BN / 4u)][r % 4u] = v.w;
    }
}
