// GEMM with bias epilogue: C[M, N] = act(A[M, K] · W[N, K]ᵀ + bias[N]).
//
// W is a Hugging Face Linear weight ([out_features, in_features] = [N, K], row-major), so both
// operands are contiguous along K. Work split: one workgroup per 64×64 tile of C; 16×16
// invocations, each owning a 4×4 register block. K is consumed in slices of BK = 16 staged in
// workgroup memory (stored k-major so the inner loop reads 4 consecutive rows/columns).
// Any M, N, K work: loads outside the matrix read 0 and stores outside it are skipped.
// ACT (see common/activations.wgsl) is the fused epilogue: identity, GELU (erf or tanh), tanh.

override ACT: u32 = 0u;

struct Params {
    m: u32,
    n: u32,
    k: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> c: array<f32>;

const BM: u32 = 64u;
const BN: u32 = 64u;
const BK: u32 = 16u;
const TM: u32 = 4u;
const TN: u32 = 4u;
const THREADS: u32 = 256u;

var<workgroup> a_tile: array<f32, 1024>; // [BK][BM]
var<workgroup> w_tile: array<f32, 1024>; // [BK][BN]

@compute @workgroup_size(16, 16, 1)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) lidx: u32,
) {
    let m = params.m;
    let n = params.n;
    let k = params.k;
    let row0 = wid.y * BM;
    let col0 = wid.x * BN;

    var acc: array<f32, 16>;
    for (var i = 0u; i < 16u; i = i + 1u) {
        acc[i] = 0.0;
    }

    for (var k0 = 0u; k0 < k; k0 = k0 + BK) {
        // Stage A[row0.., k0..] and W[col0.., k0..]: 1024 values each, 4 per invocation.
        for (var s = 0u; s < (BM * BK) / THREADS; s = s + 1u) {
            let e = lidx + s * THREADS;
            let r = e / BK;
            let kk = e % BK;
            let gk = k0 + kk;
            let gr = row0 + r;
            var av = 0.0;
            if (gr < m && gk < k) {
                av = a[gr * k + gk];
            }
            a_tile[kk * BM + r] = av;
            let gn = col0 + r;
            var wv = 0.0;
            if (gn < n && gk < k) {
                wv = w[gn * k + gk];
            }
            w_tile[kk * BN + r] = wv;
        }
        workgroupBarrier();

        for (var kk = 0u; kk < BK; kk = kk + 1u) {
            var av: array<f32, 4>;
            var wv: array<f32, 4>;
            for (var i = 0u; i < TM; i = i + 1u) {
                av[i] = a_tile[kk * BM + lid.y * TM + i];
            }
            for (var j = 0u; j < TN; j = j + 1u) {
                wv[j] = w_tile[kk * BN + lid.x * TN + j];
            }
            for (var i = 0u; i < TM; i = i + 1u) {
                for (var j = 0u; j < TN; j = j + 1u) {
                    acc[i * TN + j] = acc[i * TN + j] + av[i] * wv[j];
                }
            }
        }
        workgroupBarrier();
    }

    for (var i = 0u; i < TM; i = i + 1u) {
        let r = row0 + lid.y * TM + i;
        if (r >= m) {
            continue;
        }
        for (var j = 0u; j < TN; j = j + 1u) {
            let col = col0 + lid.x * TN + j;
            if (col < n) {
                c[r * n + col] = activate(acc[i * TN + j] + bias[col], ACT);
            }
        }
    }
}
