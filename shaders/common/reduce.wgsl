// Workgroup reductions shared by the row kernels (prepended by the Rust shader registry): the
// tree over workgroup memory, for every adapter. common/reduce_subgroup.wgsl has the same
// interface on subgroup operations; the engine picks one by measuring both (src/tune.rs).
// Every kernel that includes this runs with @workgroup_size(WG), takes `ids: ReduceIds` as an
// entry-point argument (named `rid`) and calls these from uniform control flow: all invocations must reach
// each call.

const WG: u32 = 64u;
var<workgroup> red_buf: array<f32, WG>;

struct ReduceIds {
    @builtin(local_invocation_index) t: u32,
}

fn wg_sum(ids: ReduceIds, v: f32) -> f32 {
    let t = ids.t;
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
