// What every GEMM variant shares (appended by the Rust shader registry): the parameters
// (`GemmParams` in src/kernels.rs; each variant file declares `params` and the bindings) and
// the epilogue: C[r, col] gets act(acc + bias), skipping what lies outside the M × N output,
// converted to the storage type; `store` does it for columns c0..c0+3 of row r (c0 even).

struct Params {
    m: u32,
    n: u32,
    k: u32,
    act: u32,
    a_stride: u32, // elements between rows of A (k, or S·H for the pooler's [CLS] rows)
    glu: u32,        // 1: gated epilogue (below)
    accumulate: u32, // 1: C += the result (a residual added in place: pre-LayerNorm blocks)
    _pad2: u32,
}

fn store_one(r: u32, col: u32, v: f32) {
    if (r < params.m && col < params.n) {
        let i = r * params.n + col;
        var y = activate(v + f32(bias[col]), params.act);
        if (params.accumulate != 0u) {
            y = y + f32(c[i]);
        }
        c[i] = st(y);
    }
}

// The gated linear unit (SwiGLU, GeGLU, GLU): W's rows come in (gate, linear) pairs, so columns
// col (even) and col + 1 of the product hold one output's gate g and linear part l, and C is
// [M, N/2] with C[r, col/2] = act(g + bias[col]) · (l + bias[col + 1]). Fused here, the
// feed-forward block's 2·I-wide product never goes to memory.
fn store_glu(r: u32, col: u32, g: f32, l: f32) {
    if (r < params.m && col + 1u < params.n) {
        let gate = activate(g + f32(bias[col]), params.act);
        let i = r * (params.n / 2u) + col / 2u;
        var y = gate * (l + f32(bias[col + 1u]));
        if (params.accumulate != 0u) {
            y = y + f32(c[i]);
        }
        c[i] = st(y);
    }
}

fn store(r: u32, c0: u32, v: vec4<f32>) {
    if (params.glu != 0u) {
        store_glu(r, c0, v.x, v.y);
        store_glu(r, c0 + 2u, v.z, v.w);
        return;
    }
    for (var j = 0u; j < 4u; j = j + 1u) {
        store_one(r, c0 + j, v[j]);
    }
}
