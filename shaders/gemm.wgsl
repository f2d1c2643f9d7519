// GEMM with bias epilogue: C[M, N] = act(A[M, K] · W[N, K]ᵀ + bias[N]).
//
// W is a Hugging Face Linear weight ([out_features, in_features] = [N, K], row-major), so both
// operands are contiguous along K.
//
// Work split: one workgroup per 128×128 tile of C, 16×16 invocations with 8×8 register blocks
// (the shared body: common/gemm_blocked.wgsl). K is consumed in slices of BK = 16 staged in
// workgroup memory (16 KiB, the WebGPU default limit), k-major as vec4s of four consecutive
// rows (A) or columns (W); this file loads them one scalar at a time (any K).
// Any M, N, K work: loads outside the matrix read 0 and stores outside it are skipped.
// params.act (see common/activations.wgsl) is the fused epilogue: identity, GELU (erf or
// tanh), tanh, ReLU. It is a uniform rather than a pipeline constant so that one pipeline
// serves every layer: a CPU driver (lavapipe) JIT-compiles each GEMM pipeline for 0.2–0.4 s.

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<st>;
@group(0) @binding(2) var<storage, read> w: array<st>;
@group(0) @binding(3) var<storage, read> bias: array<st>;
@group(0) @binding(4) var<storage, read_write> c: array<st>;

// Stages rows row0.. of a [rows, k] matrix, columns k0..k0+BK, into `a_tile` or `w_tile`.
// Consecutive invocations read consecutive k of one row (contiguous in memory).
fn stage_a(lidx: u32, row0: u32, k0: u32) {
    for (var s = 0u; s < (BM * BK) / THREADS; s = s + 1u) {
        let e = lidx + s * THREADS;
        let r = e / BK;
        let kk = e % BK;
        var v = 0.0;
        if (row0 + r < params.m && k0 + kk < params.k) {
            v = f32(a[(row0 + r) * params.a_stride + k0 + kk]);
        }
        a_tile[kk * (BM / 4u) + r / 4u][r % 4u] = v;
    }
}

fn stage_w(lidx: u32, col0: u32, k0: u32) {
    for (var s = 0u; s < (BN * BK) / THREADS; s = s + 1u) {
        let e = lidx + s * THREADS;
        let r = e / BK;
        let kk = e % BK;
        var v = 0.0;
        if (col0 + r < params.n && k0 + kk < params.k) {
            v = f32(w[(col0 + r) * params.k + k0 + kk]);
        }
        w_tile[kk * (BN / 4u) + r / 4u][r % 4u] = v;
    }
}

