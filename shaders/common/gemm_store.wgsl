// What every GEMM variant shares (appended by the Rust shader registry): the parameters
// (`GemmParams` in src/kernels.rs; each variant file declares `params` and the bindings) and
// the epilogue: C[r, col] gets act(acc + bias), skipping what lies outside the M × N output,
// converted to the storage type; `store` does it for columns c0..c0+3 of row r.

struct Params {
    m: u32,
    n: u32,
    k: u32,
    act: u32,
    a_stride: u32, // elements between rows of A (k, or S·H for the pooler's [CLS] rows)
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

fn store_one(r: u32, col: u32, v: f32) {
    if (r < params.m && col < params.n) {
        c[r * params.n + col] = st(activate(v + f32(bias[col]), params.act));
    }
}

fn store(r: u32, c0: u32, v: vec4<f32>) {
    for (var j = 0u; j < 4u; j = j + 1u) {
        store_one(r, c0 + j, v[j]);
    }
}
