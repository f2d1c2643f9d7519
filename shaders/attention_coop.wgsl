// Multi-head self-attention on cooperative matrices (tensor cores), flash-style: the same
// contract as attention.wgsl (parameters, bindings and key mask: common/attention_io.wgsl),
// for head_dim ≤ 64.
//
// The Rust shader registry prepends `F` (8 or 16, a fragment edge the adapter lists) and the
// fragment types frag_a / frag_b (f16) and frag_c (f32); `SG` (the adapter's largest subgroup
// size) is a pipeline constant. One workgroup of NSG = 4 subgroups (NSG · SG invocations) per
// (block of BQ = 32 query rows, head, sequence). Q (scaled by 1/√D) is staged once as f16, zero
// past D; then per block of BKV = 32 keys:
//   1. K and V rows are staged as f16 (zero past S and past D);
//   2. S = Q·Kᵀ (32 × 32, f32) on cooperative matrices, each subgroup a quarter of the fragments;
//   3. each subgroup takes 8 query rows and updates their running max and sum (f32) over the
//      block's keys with subgroupMax / subgroupAdd, writing P = exp(S + bias − max) as f16; the
//      sum adds the f16-rounded P that step 5 multiplies, so the weights are normalised
//      exactly as used;
//   4. the output accumulator O (f32, workgroup memory) is rescaled row by row;
//   5. O += P·V on cooperative matrices.
// Finally ctx = O / sum for the real query rows. The head dimension is padded to DP = 32 or
// 64 (a whole number of fragment pairs). Subgroups past NSG (a driver forming smaller
// subgroups than SG) redo the last subgroup's fragments and store them to a scratch fragment:
// cooperative-matrix operations must stay in uniform control flow.

const BQ: u32 = 32u;
const BKV: u32 = 32u;
const DMAX: u32 = 64u;             // row stride of the Q, K, V and O tiles
const NSG: u32 = 4u;
override SG: u32 = 32u;

var<workgroup> q_s: array<f16, 2048>;    // [BQ][DMAX]
var<workgroup> k_s: array<f16, 2048>;    // [BKV][DMAX]
var<workgroup> v_s: array<f16, 2048>;    // [BKV][DMAX]
var<workgroup> s_s: array<f32, 1280>;    // [BQ][BKV], then a scratch fragment
var<workgroup> p_s: array<f16, 1024>;    // [BQ][BKV]
var<workgroup> o_s: array<f32, 2304>;    // [BQ][DMAX], then a scratch fragment
var<workgroup> m_s: array<f32, 32>;      // running max per query row
var<workgroup> l_s: array<f32, 32>;      // running sum per query row
var<workgroup> corr_s: array<f32, 32>;   // this block's rescale factor per query row

// Stages rows first.. of the Q, K or V columns (part 0, 1, 2) of head h, sequence b, as f16
// times `scale`, zero past S and past D, into q_s, k_s or v_s.
fn stage(lidx: u32, b: u32, h: u32, first: u32, part: u32, scale: f32) {
    let stride = 3u * params.hidden;
    for (var e = lidx; e < BQ * DMAX; e = e + NSG * SG) {
        let r = e / DMAX;
        let d = e % DMAX;
        var v = 0.0h;
        if (first + r < params.seq && d < params.head_dim) {
            let at = (b * params.seq + first + r) * stride + part * params.hidden + h * params.head_dim + d;
            v = f16(f32(qkv[at]) * scale);
        }
        switch part {
            case 0u: { q_s[e] = v; }
            case 1u: { k_s[e] = v; }
            default: { v_s[e] = v; }
        }
    }
}

@compute @workgroup_size(NSG * SG, 1, 1)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_index) lidx: u32,
    @builtin(subgroup_id) subgroup: u32,
    @builtin(subgroup_invocation_id) lane: u32,
    @builtin(subgroup_size) sg_size: u32,
) {
    let b = wid.z;
    let h = wid.y;
    let q0 = wid.x * BQ;
    let dp = select(64u, 32u, params.head_dim <= 32u);
    let owner = subgroup < NSG;
    let sg = min(subgroup, NSG - 1u);

    stage(lidx, b, h, q0, 0u, params.scale);
    for (var e = lidx; e < BQ * DMAX; e = e + NSG * SG) {
        o_s[e] = 0.0;
    }
    if (lidx < BQ) {
        m_s[lidx] = PAST_END;
        l_s[lidx] = 0.0;
    }

    let s_frags = (BQ / F) * (BKV / F) / NSG;   // per subgroup: 1 (F = 16) or 4 (F = 8)
    let o_frags = (BQ / F) * (dp / F) / NSG;    // per subgroup
    let keys = key_range(q0, min(q0 + BQ, params.seq) - 1u, BKV);
    for (var j0 = keys.x; j0 < keys.y; j0 = j0 + BKV) {
        workgroupBarrier(); // the previous block's P·V has read k_s, v_s, p_s
        stage(lidx, b, h, j0, 1u, 1.0);
        stage(lidx, b, h, j0, 2u, 1.0);
        workgroupBarrier();

        // 2. S = Q·Kᵀ
        for (var i = 0u; i < s_frags; i = i + 1u) {
            let fi = sg + NSG * i;
            let fr = fi / (BKV / F);
            let fc = fi % (BKV / F);
            var acc = frag_c();
            for (var d0 = 0u; d0 < dp; d0 = d0 + F) {
                let ia = fr * F * DMAX + d0;
                let ib = fc * F * DMAX + d0;
                let qa = coopLoadT<frag_a>(&q_s[ia], DMAX);
                let kb = coopLoad<frag_b>(&k_s[ib], DMAX);
                acc = coopMultiplyAdd(qa, kb, acc);
            }
            let is = select(BQ * BKV, fr * F * BKV + fc * F, owner);
            let ss = select(F, BKV, owner);
            coopStoreT(acc, &s_s[is], ss);
        }
        workgroupBarrier();

        // 3. Online softmax statistics: each subgroup takes BQ / NSG query rows, its lanes split
        //    the block's keys, subgroupMax and subgroupAdd combine them (f32).
        for (var i = 0u; i < BQ / NSG; i = i + 1u) {
            let r = sg * (BQ / NSG) + i;
            var local_max = PAST_END;
            for (var j = lane; j < BKV; j = j + sg_size) {
                local_max = max(local_max, s_s[r * BKV + j] + key_bias(b, h, q0 + r, j0 + j));
            }
            let m_old = m_s[r];
            let m_new = max(m_old, subgroupMax(local_max));
            var local_sum = 0.0;
            for (var j = lane; j < BKV; j = j + sg_size) {
                let p = f16(exp(s_s[r * BKV + j] + key_bias(b, h, q0 + r, j0 + j) - m_new));
                if (owner) {
                    p_s[r * BKV + j] = p;
                }
                local_sum = local_sum + f32(p);
            }
            let sum = subgroupAdd(local_sum);
            if (owner && lane == 0u) {
                let corr = exp(m_old - m_new);
                corr_s[r] = corr;
                l_s[r] = l_s[r] * corr + sum;
                m_s[r] = m_new;
            }
        }
        workgroupBarrier();

        // 4. Rescale O.
        for (var e = lidx; e < BQ * DMAX; e = e + NSG * SG) {
            o_s[e] = o_s[e] * corr_s[e / DMAX];
        }
        workgroupBarrier();

        // 5. O += P·V
        for (var i = 0u; i < o_frags; i = i + 1u) {
            let fi = sg + NSG * i;
            let fr = fi / (dp / F);
            let fc = fi % (dp / F);
            let io = select(BQ * DMAX, fr * F * DMAX + fc * F, owner);
            let so = select(F, DMAX, owner);
            var acc = coopLoadT<frag_c>(&o_s[io], so);
            for (var k0 = 0u; k0 < BKV; k0 = k0 + F) {
                let ip = fr * F * BKV + k0;
                let iv = k0 * DMAX + fc * F;
                let pa = coopLoadT<frag_a>(&p_s[ip], BKV);
                let vb = coopLoadT<frag_b>(&v_s[iv], DMAX);
                acc = coopMultiplyAdd(pa, vb, acc);
            }
            coopStoreT(acc, &o_s[io], so);
        }
    }
    workgroupBarrier();

    let d_len = params.head_dim;
    for (var e = lidx; e < BQ * d_len; e = e + NSG * SG) {
        let r = e / d_len;
        let d = e % d_len;
        let i = q0 + r;
        if (i < params.seq) {
            ctx[(b * params.seq + i) * params.hidden + h * d_len + d] = st(o_s[r * DMAX + d] / l_s[r]);
        }
    }
}
