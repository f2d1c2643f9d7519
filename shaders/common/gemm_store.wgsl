// The GEMM epilogue shared by every GEMM variant (appended by the Rust shader registry):
// row r, columns c0..c0+3 of C get act(acc + bias), skipping what lies outside the M × N
// output, converted to the storage type.

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
