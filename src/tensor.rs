//! A tensor in host memory, as the weight readers (`weights` for safetensors, `pt` for
//! PyTorch state dicts) hand it over before upload.

/// A host tensor in f32, row-major.
#[derive(Clone, Debug)]
pub struct HostTensor {
    /// Dimensions, outermost first.
    pub shape: Vec<usize>,
    /// Values.
    pub data: Vec<f32>,
}
