//! The GPU context: adapter choice, device with the adapter's own limits, optional features,
//! and the small buffer helpers every kernel uses.

use crate::error::{Error, Result};
use std::sync::{Arc, Mutex};
use wgpu::util::DeviceExt;

/// How to pick the adapter and what to open on it. The library reads no environment:
/// [`EngineOptions::from_env`](crate::EngineOptions::from_env) is where a program that wants
/// wgpu's and wgbert's variables (`WGPU_BACKEND`, `WGPU_ADAPTER_NAME`, `WGBERT_COOP`, wgpu's
/// debug flags) takes them.
#[derive(Clone, Debug)]
pub struct GpuOptions {
    /// Substring of the adapter name to pick (case-insensitive), or its PCI bus id as
    /// [`adapters`] lists it (`0000:17:00.0`: one of several identical GPUs); `None`: the first
    /// discrete GPU, else integrated, virtual, CPU.
    pub adapter_name: Option<String>,
    /// Backends to search; `None`: Vulkan, Metal, DX12 and the browser's WebGPU.
    pub backends: Option<wgpu::Backends>,
    /// Cap on the bytes of one activation buffer, below the adapter's own binding limit (to
    /// bound memory per forward pass, or to test the splitting of large batches). Weights are
    /// held to the adapter's limit only.
    pub max_binding_bytes: Option<u64>,
    /// Limits to request instead of the adapter's own, e.g. `wgpu::Limits::default()` (what
    /// every WebGPU implementation offers) to check that the kernels fit them.
    pub limits: Option<wgpu::Limits>,
    /// Use the adapter's cooperative matrices (tensor cores) where it lists a configuration the
    /// kernels can use (default yes; `WGBERT_COOP=0` turns it off in
    /// [`EngineOptions::from_env`](crate::EngineOptions::from_env)).
    pub cooperative_matrix: bool,
    /// wgpu's instance flags (validation, debug labels); `None`: wgpu's defaults for the build.
    pub instance_flags: Option<wgpu::InstanceFlags>,
}

async fn enumerate(opts: &GpuOptions) -> Vec<wgpu::Adapter> {
    let backends = opts.backends.unwrap_or(wgpu::Backends::PRIMARY);
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
    desc.backends = backends;
    desc.flags = opts
        .instance_flags
        .unwrap_or_else(wgpu::InstanceFlags::from_build_config);
    let instance = wgpu::Instance::new(desc);
    let mut adapters = instance.enumerate_adapters(backends).await;
    // The no-op backend computes nothing.
    adapters.retain(|a| a.get_info().backend != wgpu::Backend::Noop);
    adapters
}

/// The adapters `opts.backends` offers, as [`GpuOptions::adapter_name`] chooses among them
/// (name, PCI bus id, device type, backend, driver).
pub fn adapters(opts: &GpuOptions) -> Vec<wgpu::AdapterInfo> {
    // In a browser the list needs the page's event loop: empty there (GpuContext::new_async
    // reports the adapter it opened).
    block_on(async { Ok(enumerate(opts).await) })
        .unwrap_or_default()
        .iter()
        .map(|a| a.get_info())
        .collect()
}

impl Default for GpuOptions {
    fn default() -> Self {
        GpuOptions {
            adapter_name: None,
            backends: None,
            max_binding_bytes: None,
            limits: None,
            cooperative_matrix: true,
            instance_flags: None,
        }
    }
}

/// Longest wait for one submission before it is reported as an error instead of a hang.
pub const GPU_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(600);

/// Completion of each `map_async` of one readback, filled in by the callbacks, and the task to
/// wake when the last one arrives.
struct MapState {
    results: Vec<Option<std::result::Result<(), wgpu::BufferAsyncError>>>,
    waker: Option<std::task::Waker>,
}

/// Ready when every map callback of one readback has run. Natively the device was already
/// waited on; when several threads share it, another thread's poll may run our callbacks a
/// moment later, so a pending poll polls the device once more and asks to be polled again
/// (bounded by `deadline`). In a browser the last callback wakes the task.
struct MapWait<'a> {
    state: Arc<Mutex<MapState>>,
    #[cfg_attr(target_arch = "wasm32", allow(dead_code))]
    device: &'a wgpu::Device,
    #[cfg_attr(target_arch = "wasm32", allow(dead_code))]
    deadline: web_time::Instant,
}

impl std::future::Future for MapWait<'_> {
    type Output = Result<()>;
    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<()>> {
        let done = || -> Result<bool> {
            let mut s = self
                .state
                .lock()
                .map_err(|_| Error::Device("map state poisoned".into()))?;
            if s.results.iter().all(Option::is_some) {
                return Ok(true);
            }
            s.waker = Some(cx.waker().clone());
            Ok(false)
        };
        match done() {
            Ok(true) => return std::task::Poll::Ready(Ok(())),
            Err(e) => return std::task::Poll::Ready(Err(e)),
            Ok(false) => {}
        }
        #[cfg(not(target_arch = "wasm32"))]
        {
            if web_time::Instant::now() > self.deadline {
                return std::task::Poll::Ready(Err(Error::Device(
                    "the GPU did not finish the readback within 60 s".into(),
                )));
            }
            let _ = self.device.poll(wgpu::PollType::Poll);
            std::thread::sleep(std::time::Duration::from_micros(200));
            cx.waker().wake_by_ref();
        }
        std::task::Poll::Pending
    }
}

/// Runs a future of wgbert's to completion on this thread. Natively it blocks (pollster). A
/// browser page cannot block: its GPU work completes only once control returns to the page's
/// event loop, so there a future that is not ready at once is an error pointing to the async
/// calls, never a hang.
pub fn block_on<T>(f: impl std::future::Future<Output = Result<T>>) -> Result<T> {
    #[cfg(not(target_arch = "wasm32"))]
    {
        pollster::block_on(f)
    }
    #[cfg(target_arch = "wasm32")]
    {
        let mut f = std::pin::pin!(f);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match f.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(r) => r,
            std::task::Poll::Pending => Err(Error::Unsupported(
                "a browser page cannot wait for the GPU: use the async calls (Engine::from_memory_async, Engine::embed_async, Engine::encode_async)".into(),
            )),
        }
    }
}

/// An adapter, its device and queue, and what it offers.
pub struct GpuContext {
    /// The device every buffer and pipeline lives on.
    pub device: wgpu::Device,
    /// Its queue.
    pub queue: wgpu::Queue,
    /// Name, backend, driver of the adapter.
    pub info: wgpu::AdapterInfo,
    /// Features enabled on the device (the optional ones the adapter had).
    pub features: wgpu::Features,
    /// Limits of the device (the adapter's own).
    pub limits: wgpu::Limits,
    /// The cooperative-matrix configurations wgbert can use (f16 A and B, f16 or f32 C), as the
    /// adapter lists them; empty when EXPERIMENTAL_COOPERATIVE_MATRIX is not enabled.
    pub coop: Vec<CoopConfig>,
    binding_cap: Option<u64>,
    errors: Arc<Mutex<Vec<String>>>,
}

/// Features used when present; the f32 path needs none of them.
pub const OPTIONAL_FEATURES: wgpu::Features = wgpu::Features::SHADER_F16
    .union(wgpu::Features::SUBGROUP)
    .union(wgpu::Features::TIMESTAMP_QUERY)
    .union(wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES)
    .union(wgpu::Features::PIPELINE_CACHE);

/// One cooperative-matrix configuration the adapter lists: square `size`×`size`×`size`
/// fragments (wgpu keeps only 8 and 16), f16 inputs, accumulation in `acc`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CoopConfig {
    /// Fragment edge: 8 or 16.
    pub size: u32,
    /// The accumulator (C) type: f32, or f16.
    pub acc_f32: bool,
}

impl std::fmt::Display for CoopConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.size;
        let acc = if self.acc_f32 { "f32" } else { "f16" };
        write!(f, "{n}x{n}x{n} f16*f16+{acc}")
    }
}

/// The configurations of `props` wgbert can use: square 8 or 16, f16 A/B, f16 or f32 C, no
/// saturation; listed in the adapter's order without repeats.
pub fn usable_coop_configs(props: &[wgpu::CooperativeMatrixProperties]) -> Vec<CoopConfig> {
    use wgpu::CooperativeScalarType as T;
    let mut out = Vec::new();
    for p in props {
        let square = p.m_size == p.n_size && p.n_size == p.k_size;
        if !square || !matches!(p.m_size, 8 | 16) || p.ab_type != T::F16 {
            continue;
        }
        let acc_f32 = match p.cr_type {
            T::F32 => true,
            T::F16 => false,
            _ => continue,
        };
        let c = CoopConfig {
            size: p.m_size,
            acc_f32,
        };
        if !out.contains(&c) {
            out.push(c);
        }
    }
    out
}

fn device_type_rank(t: wgpu::DeviceType) -> u32 {
    match t {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Cpu => 3,
        wgpu::DeviceType::Other => 4,
    }
}

impl GpuContext {
    /// Picks an adapter as `opts` say and opens a device on it.
    pub fn new(opts: &GpuOptions) -> Result<Self> {
        block_on(Self::new_async(opts))
    }

    /// [`GpuContext::new`] as a future (a browser page must await the adapter and device).
    pub async fn new_async(opts: &GpuOptions) -> Result<Self> {
        let backends = opts.backends.unwrap_or(wgpu::Backends::PRIMARY);
        let mut adapters = enumerate(opts).await;
        let names = || {
            adapters
                .iter()
                .map(|a| {
                    let i = a.get_info();
                    format!("{} ({:?})", i.name, i.backend)
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        if adapters.is_empty() {
            return Err(Error::NoAdapter {
                detail: format!(" for backends {backends:?}"),
            });
        }
        let wanted = opts.adapter_name.clone().filter(|s| !s.is_empty());
        let adapter = match &wanted {
            Some(w) => {
                let wl = w.to_lowercase();
                let pos = adapters
                    .iter()
                    .position(|a| {
                        let i = a.get_info();
                        i.name.to_lowercase().contains(&wl)
                            || (!i.device_pci_bus_id.is_empty()
                                && i.device_pci_bus_id.to_lowercase() == wl)
                    })
                    .ok_or_else(|| Error::AdapterNotFound {
                        wanted: w.clone(),
                        available: names(),
                    })?;
                adapters.swap_remove(pos)
            }
            None => {
                adapters.sort_by_key(|a| device_type_rank(a.get_info().device_type));
                adapters.swap_remove(0)
            }
        };
        let info = adapter.get_info();
        let mut features = adapter.features() & OPTIONAL_FEATURES;
        // Tensor cores (NVIDIA), WMMA (AMD), XMX (Intel), lavapipe 26's emulation: requested only
        // when the adapter lists a configuration the kernels can use, and never without
        // SHADER_F16 and SUBGROUP (the kernels stage f16 tiles and split work by subgroup).
        let coop = if !opts.cooperative_matrix
            || !adapter
                .features()
                .contains(wgpu::Features::EXPERIMENTAL_COOPERATIVE_MATRIX)
            || !features.contains(wgpu::Features::SHADER_F16 | wgpu::Features::SUBGROUP)
        {
            Vec::new()
        } else {
            usable_coop_configs(&adapter.cooperative_matrix_properties())
        };
        if !coop.is_empty() {
            features |= wgpu::Features::EXPERIMENTAL_COOPERATIVE_MATRIX;
        }
        let limits = opts.limits.clone().unwrap_or_else(|| adapter.limits());
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("wgbert"),
                required_features: features,
                required_limits: limits.clone(),
                // SAFETY: the only experimental feature requested is cooperative matrices, and
                // only for configurations the adapter lists; wgbert's coop shaders use those
                // and nothing else (tests/it/coop.rs checks them against CPU references).
                experimental_features: if coop.is_empty() {
                    wgpu::ExperimentalFeatures::disabled()
                } else {
                    unsafe { wgpu::ExperimentalFeatures::enabled() }
                },
                memory_hints: wgpu::MemoryHints::Performance,
                trace: wgpu::Trace::Off,
            })
            .await
            .map_err(|e| Error::Device(format!("cannot open a device on {} ({e})", info.name)))?;
        let errors = Arc::new(Mutex::new(Vec::new()));
        let sink = errors.clone();
        // Errors wgpu cannot return directly (validation, out-of-memory) are collected and
        // turned into `Error::Device` by `check_errors` instead of aborting the process.
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            log::error!("wgpu: {e}");
            if let Ok(mut v) = sink.lock() {
                v.push(e.to_string());
            }
        }));
        let lost = errors.clone();
        device.set_device_lost_callback(move |reason, message| {
            log::error!("wgpu device lost ({reason:?}): {message}");
            if let Ok(mut v) = lost.lock() {
                v.push(format!(
                    "the GPU device was lost ({reason:?}: {message}); create a new Engine"
                ));
            }
        });
        log::info!(
            "adapter: {} ({:?}, {:?}, driver {} {})",
            info.name,
            info.backend,
            info.device_type,
            info.driver,
            info.driver_info
        );
        Ok(GpuContext {
            device,
            queue,
            info,
            features,
            limits,
            coop,
            binding_cap: opts.max_binding_bytes,
            errors,
        })
    }

    /// Returns the first device error recorded since the last call, as an `Error`.
    pub fn check_errors(&self) -> Result<()> {
        let mut v = self
            .errors
            .lock()
            .map_err(|_| Error::Device("error log poisoned".into()))?;
        if v.is_empty() {
            return Ok(());
        }
        let first = v.remove(0);
        v.clear();
        Err(Error::Device(first))
    }

    /// The cooperative-matrix fragment size for f16 inputs with f32 accumulation: 16 where the
    /// adapter lists it (fewer, larger tensor-core operations), else 8; `None` without one.
    pub fn coop_size(&self) -> Option<u32> {
        let f32_acc = |n| self.coop.iter().any(|c| c.size == n && c.acc_f32);
        [16, 8].into_iter().find(|&n| f32_acc(n))
    }

    /// Human-readable cooperative-matrix configurations, e.g. `8x8x8 f16*f16+f32`, or `none`.
    pub fn coop_summary(&self) -> String {
        if self.coop.is_empty() {
            return "none".to_string();
        }
        self.coop
            .iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Whether `f` is enabled on the device.
    pub fn has(&self, f: wgpu::Features) -> bool {
        self.features.contains(f)
    }

    /// A storage buffer holding `data`.
    pub fn storage_from<T: bytemuck::Pod>(&self, label: &str, data: &[T]) -> Result<wgpu::Buffer> {
        let bytes: &[u8] = bytemuck::cast_slice(data);
        self.check_binding_size(label, bytes.len() as u64, self.max_binding_bytes())?;
        // wgpu rejects zero-sized bindings; keep at least 4 bytes.
        let padded;
        let contents = if bytes.is_empty() {
            padded = [0u8; 4];
            &padded[..]
        } else {
            bytes
        };
        Ok(self
            .device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(label),
                contents,
                usage: wgpu::BufferUsages::STORAGE
                    | wgpu::BufferUsages::COPY_SRC
                    | wgpu::BufferUsages::COPY_DST,
            }))
    }

    /// An uninitialised storage buffer of `len` f32/u32 elements.
    pub fn storage(&self, label: &str, len: usize) -> Result<wgpu::Buffer> {
        self.storage_bytes(label, len * 4)
    }

    /// An uninitialised storage buffer of `bytes` bytes (rounded up to 4).
    pub fn storage_bytes(&self, label: &str, bytes: usize) -> Result<wgpu::Buffer> {
        let size = bytes.max(1).next_multiple_of(4) as u64;
        self.check_binding_size(label, size, self.max_activation_bytes())?;
        Ok(self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size,
            usage: wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_SRC
                | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        }))
    }

    /// A uniform buffer holding `params`.
    pub fn uniform<T: bytemuck::Pod>(&self, label: &str, params: &T) -> wgpu::Buffer {
        self.device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(label),
                contents: bytemuck::bytes_of(params),
                usage: wgpu::BufferUsages::UNIFORM,
            })
    }

    /// Largest buffer one storage binding can hold on this device, in bytes.
    pub fn max_binding_bytes(&self) -> u64 {
        self.limits
            .max_storage_buffer_binding_size
            .min(self.limits.max_buffer_size)
    }

    /// Largest activation buffer: the device limit, or the `max_binding_bytes` option if lower.
    pub fn max_activation_bytes(&self) -> u64 {
        self.max_binding_bytes()
            .min(self.binding_cap.unwrap_or(u64::MAX))
    }

    fn check_binding_size(&self, label: &str, size: u64, max: u64) -> Result<()> {
        if size > max {
            return Err(Error::Shape(format!(
                "buffer {label} needs {size} bytes, above this adapter's storage binding limit of {max} bytes; \
                 use a smaller batch or sequence length"
            )));
        }
        Ok(())
    }

    /// Waits for `index`, maps every staging buffer and returns its first `len` bytes
    /// ([`GpuContext::read_bytes`], waited for on this thread).
    pub fn wait_bytes(
        &self,
        index: wgpu::SubmissionIndex,
        staging: &[(&wgpu::Buffer, usize)],
    ) -> Result<Vec<Vec<u8>>> {
        block_on(self.read_bytes(index, staging))
    }

    /// Maps every staging buffer once `index` is done and returns its first `len` bytes. Natively
    /// the device is polled here (the future is ready when it is first polled, or the wait
    /// failed); in a browser the mapping completes when control returns to the page's event
    /// loop, which wakes the future.
    pub async fn read_bytes(
        &self,
        index: wgpu::SubmissionIndex,
        staging: &[(&wgpu::Buffer, usize)],
    ) -> Result<Vec<Vec<u8>>> {
        let state = Arc::new(Mutex::new(MapState {
            results: vec![None; staging.len()],
            waker: None,
        }));
        for (i, (st, _)) in staging.iter().enumerate() {
            let r = state.clone();
            st.slice(..).map_async(wgpu::MapMode::Read, move |res| {
                if let Ok(mut s) = r.lock() {
                    s.results[i] = Some(res);
                    if s.results.iter().all(Option::is_some)
                        && let Some(w) = s.waker.take()
                    {
                        w.wake();
                    }
                }
            });
        }
        #[cfg(not(target_arch = "wasm32"))]
        self.device
            .poll(wgpu::PollType::Wait {
                submission_index: Some(index),
                timeout: Some(GPU_TIMEOUT),
            })
            .map_err(|e| Error::Device(format!("waiting for the GPU failed ({e})")))?;
        #[cfg(target_arch = "wasm32")]
        let _ = index;
        MapWait {
            state: state.clone(),
            device: &self.device,
            deadline: web_time::Instant::now() + std::time::Duration::from_secs(60),
        }
        .await?;
        let results = state
            .lock()
            .map_err(|_| Error::Device("map state poisoned".into()))?
            .results
            .clone();
        self.check_errors()?;
        let mut out = Vec::with_capacity(staging.len());
        for ((st, len), r) in staging.iter().zip(results.iter()) {
            match r {
                Some(Ok(())) => {}
                Some(Err(e)) => {
                    return Err(Error::Device(format!("reading results back failed ({e})")));
                }
                None => return Err(Error::Device("the GPU did not finish the readback".into())),
            }
            let view = st
                .slice(..)
                .get_mapped_range()
                .map_err(|e| Error::Device(format!("mapping results failed ({e})")))?;
            out.push(view[..*len].to_vec());
            drop(view);
            st.unmap();
        }
        Ok(out)
    }
}
