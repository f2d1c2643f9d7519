// Elementwise activation in place: x[i] = act(x[i]) for i < len.
//
// Work split: 256 invocations per workgroup, one element each; the grid may be 2-D
// (x × y workgroups) so that large tensors stay under the 65 535 groups-per-dimension limit.
// ACT: one of the ACT_* values of common/activations.wgsl (ACT_GELU_ERF, ACT_GELU_TANH, ...).

override ACT: u32 = ACT_GELU_ERF;

struct Params {
    len: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> x: array<st>;

@compute @workgroup_size(256, 1, 1)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lidx: u32,
) {
    let i = (wid.y * nwg.x + wid.x) * 256u + lidx;
    if (i >= params.len) {
        return;
    }
    x[i] = st(activate(f32(x[i]), ACT));
}
