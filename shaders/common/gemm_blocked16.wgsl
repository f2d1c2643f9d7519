// The GEMM body of `gemm_vec4_b16` (appended after gemm_vec4.wgsl by the Rust shader registry,
// which prepends the tile: BM = BN = 128, BK = 16, THREADS = 64): common/gemm_blocked.wgsl's
// tiles, staging and epilogue with a 16 × 16 register block per invocation instead of 8 × 8,
// so 64 invocations cover the 128 × 128 tile instead of 256.
//
// Why: a CPU Vulkan driver (lavapipe) runs the lanes of a subgroup as one SIMD register and
// reads workgroup memory one lane at a time when the address differs per lane; inside the
// k loop those reads cost more than the multiply-adds. Per k, an invocation here reads 8 vec4s
// (4 of A, 4 of W) for 256 multiply-adds, where the 8 × 8 block reads 4 for 64: half the reads
// per multiply-add. On Mesa 25 lavapipe the accumulators live in memory anyway (a shader with a
// barrier runs as a coroutine), so holding four times as many costs no more per multiply-add.
// On a GPU 256 accumulators per invocation spill; the tuner measures and picks by time.
//
// (BN/16)×(BM/16) invocations; invocation (tx, ty) owns rows g·BM/4 + 4·ty .. +3 and columns
// h·BN/4 + 4·tx .. +3 for g, h in 0..4, as sixteen mat4x4 accumulators: column i of acc_g_h is
// row g·BM/4 + 4·ty + i, its four components the four columns of group h. Neighbouring
// invocations read neighbouring vec4s of the tiles, as in the 8 × 8 body.

var<workgroup> a_tile: array<vec4<f32>, BK * BM / 4u>; // [BK][BM / 4]
var<workgroup> w_tile: array<vec4<f32>, BK * BN / 4u>; // [BK][BN / 4]

// Row group g's four rows times column group h's four columns.
fn outer4(x: vec4<f32>, y: vec4<f32>) -> mat4x4<f32> {
    return mat4x4<f32>(x.x * y, x.y * y, x.z * y, x.w * y);
}

@compute @workgroup_size(BN / 16u, BM / 16u, 1)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) lidx: u32,
) {
    let row0 = wid.y * BM;
    let col0 = wid.x * BN;
    let z = mat4x4<f32>();
    var acc0_0 = z;
    var acc0_1 = z;
    var acc0_2 = z;
    var acc0_3 = z;
    var acc1_0 = z;
    var acc1_1 = z;
    var acc1_2 = z;
    var acc1_3 = z;
    var acc2_0 = z;
    var acc2_1 = z;
    var acc2_2 = z;
    var acc2_3 = z;
    var acc3_0 = z;
    var acc3_1 = z;
    var acc3_2 = z;
    var acc3_3 = z;

    for (var k0 = 0u; k0 < params.k; k0 = k0 + BK) {
        stage_a(lidx, row0, k0);
        stage_w(lidx, col0, k0);
        workgroupBarrier();

        for (var kk = 0u; kk < BK; kk = kk + 1u) {
            let ar = kk * (BM / 4u) + lid.y;
            let wr = kk * (BN / 4u) + lid.x;
            let x0 = a_tile[ar];
            let x1 = a_tile[ar + BM / 16u];
            let x2 = a_tile[ar + 2u * (BM / 16u)];
            let x3 = a_tile[ar + 3u * (BM / 16u)];
            let y0 = w_tile[wr];
            let y1 = w_tile[wr + BN / 16u];
            let y2 = w_tile[wr + 2u * (BN / 16u)];
            let y3 = w_tile[wr + 3u * (BN / 16u)];
            acc0_0 = acc0_0 + outer4(x0, y0);
            acc0_1 = acc0_1 + outer4(x0, y1);
            acc0_2 = acc0_2 + outer4(x0, y2);
            acc0_3 = acc0_3 + outer4(x0, y3);
            acc1_0 = acc1_0 + outer4(x1, y0);
            acc1_1 = acc1_1 + outer4(x1, y1);
            acc1_2 = acc1_2 + outer4(x1, y2);
            acc1_3 = acc1_3 + outer4(x1, y3);
            acc2_0 = acc2_0 + outer4(x2, y0);
            acc2_1 = acc2_1 + outer4(x2, y1);
            acc2_2 = acc2_2 + outer4(x2, y2);
            acc2_3 = acc2_3 + outer4(x2, y3);
            acc3_0 = acc3_0 + outer4(x3, y0);
            acc3_1 = acc3_1 + outer4(x3, y1);
            acc3_2 = acc3_2 + outer4(x3, y2);
            acc3_3 = acc3_3 + outer4(x3, y3);
        }
        workgroupBarrier();
    }

    // One loop over the row groups with four `store` call sites (see gemm_blocked.wgsl: every
    // call site inlines the activation, and unrolled copies multiply the JIT time).
    let c0 = col0 + lid.x * 4u;
    for (var g = 0u; g < 4u; g = g + 1u) {
        var m0 = acc0_0;
        var m1 = acc0_1;
        var m2 = acc0_2;
        var m3 = acc0_3;
        switch g {
            case 1u: { m0 = acc1_0; m1 = acc1_1; m2 = acc1_2; m3 = acc1_3; }
            case 2u: { m0 = acc2_0; m1 = acc2_1; m2 = acc2_2; m3 = acc2_3; }
            case 3u: { m0 = acc3_0; m1 = acc3_1; m2 = acc3_2; m3 = acc3_3; }
            default: {}
        }
        for (var i = 0u; i < 4u; i = i + 1u) {
            let r = row0 + g * (BM / 4u) + lid.y * 4u + i;
            store(r, c0, m0[i]);
            store(r, c0 + BN / 4u, m1[i]);
            store(r, c0 + 2u * (BN / 4u), m2[i]);
            store(r, c0 + 3u * (BN / 4u), m3[i]);
        }
    }
}
