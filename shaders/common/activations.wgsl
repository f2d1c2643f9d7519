// Activation functions shared by gemm.wgsl and gelu.wgsl (prepended by the Rust shader registry).
//
// ACT selects the function: ACT_IDENTITY, ACT_GELU_ERF ("gelu"), ACT_GELU_TANH ("gelu_new",
// "gelu_pytorch_tanh", "gelu_fast"), ACT_TANH (the pooler), ACT_RELU, ACT_SILU and ACT_SIGMOID
// (the gates of SwiGLU and GLU feed-forward blocks). The registry prepends
// these constants from Rust's `kernels::Act`, so both sides share one set of numbers.

// erf(x) for f32: the rational approximation Eigen and XLA use for float (a few ulp on [-4, 4];
// beyond that erf is ±1 to f32 precision). WGSL has no erf built-in.
fn erf_f32(x_in: f32) -> f32 {
    let x = clamp(x_in, -4.0, 4.0);
    let x2 = x * x;
    var p = x2 * -2.72614225801306e-10 + 2.77068142495902e-08;
    p = x2 * p + -2.10102402082508e-06;
    p = x2 * p + -5.69250639462346e-05;
    p = x2 * p + -7.34990630326855e-04;
    p = x2 * p + -2.95459980854025e-03;
    p = x2 * p + -1.60960333262415e-02;
    p = x * p;
    var q = x2 * -1.45660718464996e-05 + -2.13374055278905e-04;
    q = x2 * q + -1.68282697438203e-03;
    q = x2 * q + -7.37332916720468e-03;
    q = x2 * q + -1.42647390514189e-02;
    return p / q;
}

// tanh that cannot overflow: |x| > 15 is ±1 in f32 anyway, and some drivers build tanh from
// exp(2x), which is inf for large x.
fn tanh_safe(x: f32) -> f32 {
    return tanh(clamp(x, -15.0, 15.0));
}

// 1 / (1 + e^-x) without overflow: exp of a non-positive argument only.
fn sigmoid_safe(x: f32) -> f32 {
    let e = exp(-abs(x));
    return select(e / (1.0 + e), 1.0 / (1.0 + e), x >= 0.0);
}

fn gelu_erf(x: f32) -> f32 {
    return 0.5 * x * (1.0 + erf_f32(x * 0.7071067811865476));
}

fn gelu_tanh(x: f32) -> f32 {
    return 0.5 * x * (1.0 + tanh_safe(0.7978845608028654 * (x + 0.044715 * x * x * x)));
}

fn activate(x: f32, act: u32) -> f32 {
    switch act {
        case ACT_GELU_ERF: { return gelu_erf(x); }
        case ACT_GELU_TANH: { return gelu_tanh(x); }
        case ACT_TANH: { return tanh_safe(x); }
        case ACT_RELU: { return max(x, 0.0); }
        case ACT_SILU: { return x * sigmoid_safe(x); }
        case ACT_SIGMOID: { return sigmoid_safe(x); }
        default: { return x; }
    }
}
