// Workgroup reductions on subgroup operations (adapters with SUBGROUP), with the interface of
// common/reduce.wgsl: each subgroup sums its invocations with subgroupAdd, its first lane
// writes the partial, and every invocation adds the partials in subgroup order (a fixed order,
// so results do not vary from run to run). Two barriers per call instead of 2 + log2(WG).

const WG: u32 = 64u;
var<workgroup> red_buf: array<f32, WG>; // one partial per subgroup (at most WG of them)

struct ReduceIds {
    @builtin(local_invocation_index) t: u32,
    @builtin(subgroup_invocation_id) lane: u32,
    @builtin(subgroup_id) sg: u32,
    @builtin(num_subgroups) n_sg: u32,
}

fn wg_sum(ids: ReduceIds, v: f32) -> f32 {
    let partial = subgroupAdd(v);
    if (ids.lane == 0u) {
        red_buf[ids.sg] = partial;
    }
    workgroupBarrier();
    var total = 0.0;
    for (var i = 0u; i < ids.n_sg; i = i + 1u) {
        total = total + red_buf[i];
    }
    workgroupBarrier(); // red_buf is reused by the next call
    return total;
}
