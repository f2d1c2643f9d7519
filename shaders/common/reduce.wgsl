// Workgroup reductions shared by the row kernels (prepended by the Rust shader registry).
// Every kernel that includes this runs with @workgroup_size(WG) and calls these from uniform
// control flow: all invocations must reach each call.

const WG: u32 = 64u;
var<workgroup> red_buf: array<f32, WG>;

fn wg_sum(t: u32, v: f32) -> f32 {
    red_buf[t] = v;
    workgroupBarrier();
    for (var stride = WG / 2u; stride > 0u; stride = stride / 2u) {
        if (t < stride) {
            red_buf[t] = red_buf[t] + red_buf[t + stride];
        }
        workgroupBarrier();
    }
    let total = red_buf[0];
    workgroupBarrier(); // red_buf is reused by the next call
    return total;
}

fn wg_max(t: u32, v: f32) -> f32 {
    red_buf[t] = v;
    workgroupBarrier();
    for (var stride = WG / 2u; stride > 0u; stride = stride / 2u) {
        if (t < stride) {
            red_buf[t] = max(red_buf[t], red_buf[t + stride]);
        }
        workgroupBarrier();
    }
    let total = red_buf[0];
    workgroupBarrier();
    return total;
}
