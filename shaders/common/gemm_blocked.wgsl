// The register-blocked GEMM body shared by gemm.wgsl and gemm_vec4.wgsl (appended after the
// variant's file by the Rust shader registry): the workgroup tiles, the epilogue and the main
// loop. The variant file supplies Params, the bindings and how a K-slice of A and W is staged
// (`stage_a`, `stage_w`); the registry prepends the tile: BM × BN (128 × 128 for the batch
// variants, 32 × 64 for small M) and THREADS = BM · BN / 64.
//
// (BN/8)×(BM/8) invocations, each owning an 8×8 register block split in two halves of the
// tile: rows 4·ty .. 4·ty+3 and BM/2+4·ty .., columns 4·tx .. 4·tx+3 and BN/2+4·tx ..,
// held as sixteen vec4 accumulators (acc_r_lo = the first four columns of block row r, acc_r_hi
// = the other four; block rows 0..3 are the first row group, 4..7 the second). Per k of a
// staged slice: 4 vec4 loads from workgroup memory and 16 vec4 multiply-adds; no private array
// is indexed dynamically (CPU drivers such as lavapipe turn those into memory traffic).
// Neighbouring invocations read neighbouring vec4s of the tiles and write neighbouring vec4s of
// C (16 invocations cover 64 contiguous columns): on GPUs that is conflict-free workgroup
// memory and coalesced stores, where owning 8 adjacent columns would stride by 32 bytes.



var<workgroup> a_tile: array<vec4<f32>, BK * BM / 4u>; // [BK][BM / 4]
var<workgroup> w_tile: array<vec4<f32>, BK * BN / 4u>; // [BK][BN / 4]

@compute @workgroup_size(BN / 8u, BM / 8u, 1)
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
            let a_top = a_tile[kk * (BM / 4u) + lid.y];             // rows 4·ty ..
            let a_bot = a_tile[kk * (BM / 4u) + BM / 8u + lid.y];   // rows BM/2+4·ty ..
            let w_lo = w_tile[kk * (BN / 4u) + lid.x];              // columns 4·tx ..
            let w_hi = w_tile[kk * (BN / 4u) + BN / 8u + lid.x];    // columns BN/2+4·tx ..
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

    // The epilogue is a loop over the 8 rows with one pair of `store` call sites, not 16
    // unrolled calls: every call inlines the activation (erf, tanh), and on lavapipe (Mesa 25)
    // 16 copies made the first dispatch JIT-compile for 2.1 s instead of 0.42 s, at the same
    // run time.
    let r0 = row0 + lid.y * 4u;
    let c0 = col0 + lid.x * 4u;
    for (var i = 0u; i < 8u; i = i + 1u) {
        var lo = acc0_lo;
        var hi = acc0_hi;
        switch i {
            case 1u: { lo = acc1_lo; hi = acc1_hi; }
            case 2u: { lo = acc2_lo; hi = acc2_hi; }
            case 3u: { lo = acc3_lo; hi = acc3_hi; }
            case 4u: { lo = acc4_lo; hi = acc4_hi; }
            case 5u: { lo = acc5_lo; hi = acc5_hi; }
            case 6u: { lo = acc6_lo; hi = acc6_hi; }
            case 7u: { lo = acc7_lo; hi = acc7_hi; }
            default: {}
        }
        let r = r0 + (i % 4u) + (i / 4u) * (BM / 2u);
        store(r, c0, lo);
        store(r, c0 + BN / 2u, hi);
    }
}
