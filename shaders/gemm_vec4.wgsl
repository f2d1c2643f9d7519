// GEMM with bias epilogue, vectorised loads: C[M, N] = act(A[M, K] · W[N, K]ᵀ + bias[N]),
// for K divisible by 4 (the engine falls back to gemm.wgsl otherwise).
//
// gemm.wgsl's tiling (128×128 tiles, 8×8 register blocks as sixteen vec4 accumulators, BK = 16
// staged k-major in workgroup memory), with A and W bound as arrays of vec4 so that each global
// load brings 4 consecutive k of one row: 2 vec4 loads per matrix per invocation per slice
// instead of 8 scalar ones. Same accumulation order, so results equal gemm.wgsl's bit for bit
// without FMA fusion. One of the variants the autotuner (`src/tune.rs`) times.

struct Params {
    m: u32,
    n: u32,
    k: u32,
    act: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<vec4<st>>;
@group(0) @binding(2) var<storage, read> w: array<vec4<st>>;
@group(0) @binding(3) var<storage, read> bias: array<st>;
@group(0) @binding(4) var<storage, read_write> c: array<st>;

const BM: u32 = 128u;
const BN: u32 = 128u;
const BK: u32 = 16u;
const THREADS: u32 = 256u;

var<workgroup> a_tile: array<vec4<f32>, 512>; // [BK][BM / 4]
var<workgroup> w_tile: array<vec4<f32>, 512>; // [BK][BN / 4]

// Stages rows row0.. of a [rows, K] matrix (as [rows, K/4] vec4s), k0..k0+BK, into the tile:
// consecutive invocations read consecutive vec4s of one row. K % 4 == 0, so a vec4 is either
// wholly inside the matrix or wholly past its end.
fn stage_a(lidx: u32, row0: u32, k0: u32) {
    let k4 = params.k / 4u;
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

fn store(r: u32, c0: u32, v: vec4<f32>) {
    if (r >= params.m) {
        return;
    }
    for (var j = 0u; j < 4u; j = j + 1u) {
        let col = c0 + j;
        if (col < params.n) {
            c[r * params.n + col] = st(activate(v[j] + f32(bias[col]), params.act));
        }
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

    var acc0_lo = vec4<f32>(0.0);
    var acc1_lo = vec4<f32>(0.0);
    var acc2_lo = vec4<f32>(0.0);
    var acc3_lo = vec4<f32>(0.0);
    var acc4_lo = vec4<f32>(0.0);
    var acc5_lo = vec4<f32>(0.0);
    var acc6_lo = vec4<f32>(0.0);
    var acc7_lo = vec4<f32>(0.0);
    var acc0_hi = vec4<f32>(0.0);
    var acc1_hi = vec4<f32>(0.0);
    var acc2_hi = vec4<f32>(0.0);
    var acc3_hi = vec4<f32>(0.0);
    var acc4_hi = vec4<f32>(0.0);
    var acc5_hi = vec4<f32>(0.0);
    var acc6_hi = vec4<f32>(0.0);
    var acc7_hi = vec4<f32>(0.0);

    for (var k0 = 0u; k0 < params.k; k0 = k0 + BK) {
        stage_a(lidx, row0, k0);
        stage_w(lidx, col0, k0);
        workgroupBarrier();

        for (var kk = 0u; kk < BK; kk = kk + 1u) {
            let a_top = a_tile[kk * (BM / 4u) + lid.y * 2u];      // rows 0..3 of the block
            let a_bot = a_tile[kk * (BM / 4u) + lid.y * 2u + 1u]; // rows 4..7
            let w_lo = w_tile[kk * (BN / 4u) + lid.x * 2u];       // columns 0..3
            let w_hi = w_tile[kk * (BN / 4u) + lid.x * 2u + 1u];  // columns 4..7
            acc0_lo = acc0_lo + a_top.x * w_lo;
            acc1_lo = acc1_lo + a_top.y * w_lo;
            acc2_lo = acc2_lo + a_top.z * w_lo;
            acc3_lo = acc3_lo + a_top.w * w_lo;
            acc4_lo = acc4_lo + a_bot.x * w_lo;
            acc5_lo = acc5_lo + a_bot.y * w_lo;
            acc6_lo = acc6_lo + a_bot.z * w_lo;
            acc7_lo = acc7_lo + a_bot.w * w_lo;
            acc0_hi = acc0_hi + a_top.x * w_hi;
            acc1_hi = acc1_hi + a_top.y * w_hi;
            acc2_hi = acc2_hi + a_top.z * w_hi;
            acc3_hi = acc3_hi + a_top.w * w_hi;
            acc4_hi = acc4_hi + a_bot.x * w_hi;
            acc5_hi = acc5_hi + a_bot.y * w_hi;
            acc6_hi = acc6_hi + a_bot.z * w_hi;
            acc7_hi = acc7_hi + a_bot.w * w_hi;
        }
        workgroupBarrier();
    }

    let r0 = row0 + lid.y * 8u;
    let c0 = col0 + lid.x * 8u;
    store(r0, c0, acc0_lo);
    store(r0 + 1u, c0, acc1_lo);
    store(r0 + 2u, c0, acc2_lo);
    store(r0 + 3u, c0, acc3_lo);
    store(r0 + 4u, c0, acc4_lo);
    store(r0 + 5u, c0, acc5_lo);
    store(r0 + 6u, c0, acc6_lo);
    store(r0 + 7u, c0, acc7_lo);
    store(r0, c0 + 4u, acc0_hi);
    store(r0 + 1u, c0 + 4u, acc1_hi);
    store(r0 + 2u, c0 + 4u, acc2_hi);
    store(r0 + 3u, c0 + 4u, acc3_hi);
    store(r0 + 4u, c0 + 4u, acc4_hi);
    store(r0 + 5u, c0 + 4u, acc5_hi);
    store(r0 + 6u, c0 + 4u, acc6_hi);
    store(r0 + 7u, c0 + 4u, acc7_hi);
}
