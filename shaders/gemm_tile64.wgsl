// GEMM with bias epilogue, small tiles: C[M, N] = act(A[M, K] · W[N, K]ᵀ + bias[N]).
//
// The same contract, parameters and bindings as gemm.wgsl, for adapters (or shapes) where
// more, smaller workgroups win: one workgroup per 64×64 tile of C; 16×16 invocations, each
// owning a 4×4 register block held as four vec4 accumulators (one per row). K is consumed in
// slices of BK = 16 staged in workgroup memory (8 KiB), k-major as vec4s of four consecutive
// rows (A) or columns (W). Per k: 2 vec4 loads, 4 vec4 multiply-adds. The autotuner
// (`src/tune.rs`) times both variants on the adapter and keeps the faster.
// Accumulation order over k is the same as gemm.wgsl's, so without FMA fusion (lavapipe) both
// give bit-identical results.

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<st>;
@group(0) @binding(2) var<storage, read> w: array<st>;
@group(0) @binding(3) var<storage, read> bias: array<st>;
@group(0) @binding(4) var<storage, read_write> c: array<st>;

const BM: u32 = 64u;
const BN: u32 = 64u;
const BK: u32 = 16u;
const THREADS: u32 = 256u;

var<workgroup> a_tile: array<vec4<f32>, 256>; // [BK][BM / 4]
var<workgroup> w_tile: array<vec4<f32>, 256>; // [BK][BN / 4]

// Stages a 64-row × BK slice of A (rows row0..) and of W (rows col0..), 4 values each per
// invocation; consecutive invocations read consecutive k of one row.
fn stage(lidx: u32, row0: u32, col0: u32, k0: u32) {
    for (var s = 0u; s < (BM * BK) / THREADS; s = s + 1u) {
        let e = lidx + s * THREADS;
        let r = e / BK;
        let kk = e % BK;
        let in_k = k0 + kk < params.k;
        var av = 0.0;
        if (row0 + r < params.m && in_k) {
            av = f32(a[(row0 + r) * params.a_stride + k0 + kk]);
        }
        a_tile[kk * (BM / 4u) + r / 4u][r % 4u] = av;
        var wv = 0.0;
        if (col0 + r < params.n && in_k) {
            wv = f32(w[(col0 + r) * params.k + k0 + kk]);
        }
        w_tile[kk * (BN / 4u) + r / 4u][r % 4u] = wv;
    }
}

@compute @workgroup_size(16, 16, 1)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) lidx: u32,
) {
    let row0 = wid.y * BM;
    let col0 = wid.x * BN;
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);

    for (var k0 = 0u; k0 < params.k; k0 = k0 + BK) {
        stage(lidx, row0, col0, k0);
        workgroupBarrier();
        for (var kk = 0u; kk < BK; kk = kk + 1u) {
            let a4 = a_tile[kk * (BM / 4u) + lid.y]; // rows 0..3 of the block
            let w4 = w_tile[kk * (BN / 4u) + lid.x]; // columns 0..3
            acc0 = acc0 + a4.x * w4;
            acc1 = acc1 + a4.y * w4;
            acc2 = acc2 + a4.z * w4;
            acc3 = acc3 + a4.w * w4;
        }
        workgroupBarrier();
    }

    let r0 = row0 + lid.y * 4u;
    let c0 = col0 + lid.x * 4u;
    // One `store` call site in a loop (see common/gemm_blocked.wgsl): each call inlines the
    // activation, and unrolled copies multiply the driver's compile time.
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
