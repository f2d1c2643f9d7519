// GEMM on cooperative matrices (tensor cores, WMMA, XMX): C[M, N] = act(A[M, K] · W[N, K]ᵀ + bias[N]).
//
// The same contract, parameters, bindings and epilogue as gemm.wgsl. The Rust shader registry
// prepends `F` (the fragment edge, 8 or 16, one the adapter lists) and the fragment types
// frag_a / frag_b (f16) and frag_c (f32 accumulator); `SG` (the adapter's largest subgroup
// size) is a pipeline constant.
//
// One workgroup per 64×64 tile of C. K is consumed in slices of BK = 32: every invocation helps
// stage the slice of A (64 rows) and of W (64 rows) into workgroup memory as f16, zero outside
// the matrices, so ragged M, N and K are exact and f32 storage is converted here. Each subgroup
// owns a 2F × 2F sub-tile: 2 × 2 accumulator fragments, 2 A and 2 B fragment loads and 4
// multiply-adds per F of k. The tile holds NSG = (64 / 2F)² sub-tiles (4 at F = 16, 16 at
// F = 8) and the workgroup has NSG · SG invocations, so that with subgroups of SG invocations
// there is one sub-tile per subgroup. A driver that forms smaller subgroups makes more of them:
// those past NSG redo sub-tile NSG − 1 and store it to a scratch fragment (cooperative-matrix
// operations must stay in uniform control flow, so they cannot simply be skipped).
// Accumulators go through workgroup memory once at the end; the epilogue (bias, activation,
// storage conversion, bounds) is gemm.wgsl's `store`, with neighbouring invocations writing
// neighbouring columns.

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<st>;
@group(0) @binding(2) var<storage, read> w: array<st>;
@group(0) @binding(3) var<storage, read> bias: array<st>;
@group(0) @binding(4) var<storage, read_write> c: array<st>;

const BM: u32 = 64u;
const BN: u32 = 64u;
const BK: u32 = 32u;
const SUB: u32 = 2u * F;                  // sub-tile edge, one subgroup's share
const SUBS_PER_ROW: u32 = BN / SUB;
const NSG: u32 = (BM / SUB) * SUBS_PER_ROW;
override SG: u32 = 32u;

var<workgroup> a_s: array<f16, 2048>;        // [BM][BK], row-major
var<workgroup> w_s: array<f16, 2048>;        // [BN][BK], row-major (= Wᵀ column-major)
var<workgroup> c_s: array<f32, 4352>;        // [BM][BN], then one scratch fragment (≤ 16 × 16)

// Stages rows row0.. of A and col0.. of W, k0..k0+BK, as f16.
fn stage(lidx: u32, row0: u32, col0: u32, k0: u32) {
    for (var e = lidx; e < BM * BK; e = e + NSG * SG) {
        let r = e / BK;
        let kk = e % BK;
        let in_k = k0 + kk < params.k;
        var av = 0.0h;
        if (row0 + r < params.m && in_k) {
            av = f16(a[(row0 + r) * params.a_stride + k0 + kk]);
        }
        a_s[e] = av;
        var wv = 0.0h;
        if (col0 + r < params.n && in_k) {
            wv = f16(w[(col0 + r) * params.k + k0 + kk]);
        }
        w_s[e] = wv;
    }
}

@compute @workgroup_size(NSG * SG, 1, 1)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_index) lidx: u32,
    @builtin(subgroup_id) subgroup: u32,
) {
    let row0 = wid.y * BM;
    let col0 = wid.x * BN;
    let owner = subgroup < NSG;
    let s = min(subgroup, NSG - 1u);
    let sm = (s / SUBS_PER_ROW) * SUB; // sub-tile origin inside the block
    let sn = (s % SUBS_PER_ROW) * SUB;

    var c00 = frag_c();
    var c01 = frag_c();
    var c10 = frag_c();
    var c11 = frag_c();
    for (var k0 = 0u; k0 < params.k; k0 = k0 + BK) {
        stage(lidx, row0, col0, k0);
        workgroupBarrier();
        for (var kk = 0u; kk < BK; kk = kk + F) {
            // (Offsets are bound first: naga 30's SPIR-V writer does not emit an index
            // computed inside a cooperative load's or store's pointer argument.)
            let ia0 = sm * BK + kk;
            let ia1 = ia0 + F * BK;
            let ib0 = sn * BK + kk;
            let ib1 = ib0 + F * BK;
            let a0 = coopLoadT<frag_a>(&a_s[ia0], BK);
            let a1 = coopLoadT<frag_a>(&a_s[ia1], BK);
            let b0 = coopLoad<frag_b>(&w_s[ib0], BK);
            let b1 = coopLoad<frag_b>(&w_s[ib1], BK);
            c00 = coopMultiplyAdd(a0, b0, c00);
            c01 = coopMultiplyAdd(a0, b1, c01);
            c10 = coopMultiplyAdd(a1, b0, c10);
            c11 = coopMultiplyAdd(a1, b1, c11);
        }
        workgroupBarrier();
    }

    // Owners store row-major into the block; the others into the scratch fragment.
    let scratch = BM * BN;
    let stride = select(F, BN, owner);
    let i00 = select(scratch, sm * BN + sn, owner);
    let i01 = select(scratch, sm * BN + sn + F, owner);
    let i10 = select(scratch, (sm + F) * BN + sn, owner);
    let i11 = select(scratch, (sm + F) * BN + sn + F, owner);
    coopStoreT(c00, &c_s[i00], stride);
    coopStoreT(c01, &c_s[i01], stride);
    coopStoreT(c10, &c_s[i10], stride);
    coopStoreT(c11, &c_s[i11], stride);
    workgroupBarrier();

    // Epilogue: 4 consecutive columns of one row per invocation and step.
    for (var e = lidx; e < BM * BN / 4u; e = e + NSG * SG) {
        let r = e / (BN / 4u);
        let q = (e % (BN / 4u)) * 4u;
        let base = r * BN + q;
        store(row0 + r, col0 + q, vec4<f32>(c_s[base], c_s[base + 1u], c_s[base + 2u], c_s[base + 3u]));
    }
}
