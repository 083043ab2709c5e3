//! Loader for the classic TensorFlow Lite C API (`libtensorflowlite_c`):
//! Interpreter plus delegates, what iOS apps ship as `TensorFlowLiteC`.
//!
//! Delegates are created through their C entry points when the library
//! exports them: XNNPACK for the CPU, the GPU delegate (Android's V2 or
//! Apple's Metal) and Core ML (Apple's Neural Engine) for the NPU. A
//! delegate that fails to prepare makes `TfLiteInterpreterCreate` return
//! null, which is reported as a compile failure for that accelerator.

use super::layout::{self, Platform};
use super::{parse_version, AlignedBytes, RuntimeError, RuntimeLoadError, RuntimeSource};
use crate::inference::accel::Accelerator;
use crate::inference::tensor::{DType, TensorSpec};
use libloading::Library;
use std::ffi::{c_char, c_int, c_void, CStr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

type Ptr = *mut c_void;
type Status = c_int;

const SUPPORTED: &str = ">= 2.4.0, < 3.0.0";

macro_rules! api_table {
    ($($field:ident : $sym:literal => fn($($arg:ty),*) $(-> $ret:ty)?;)*) => {
        struct Api { $($field: unsafe extern "C" fn($($arg),*) $(-> $ret)?,)* }
        impl Api {
            /// # Safety
            /// `lib` must export the classic C API with these signatures.
            unsafe fn resolve(lib: &'static Library, path: &Path) -> Result<Api, RuntimeLoadError> {
                Ok(Api { $($field: {
                    // SAFETY: signature per the caller's promise; `lib`
                    // outlives the copied pointer (both in TfLiteRuntime).
                    let sym = unsafe { lib.get::<unsafe extern "C" fn($($arg),*) $(-> $ret)?>(concat!($sym, "\0").as_bytes()) };
                    *sym.map_err(|_| RuntimeLoadError::MissingSymbol { path: path.to_path_buf(), symbol: $sym })?
                },)* })
            }
        }
    };
}

api_table! {
    model_create: "TfLiteModelCreate" => fn(*const c_void, usize) -> Ptr;
    model_delete: "TfLiteModelDelete" => fn(Ptr);
    options_create: "TfLiteInterpreterOptionsCreate" => fn() -> Ptr;
    options_delete: "TfLiteInterpreterOptionsDelete" => fn(Ptr);
    options_threads: "TfLiteInterpreterOptionsSetNumThreads" => fn(Ptr, i32);
    options_add_delegate: "TfLiteInterpreterOptionsAddDelegate" => fn(Ptr, Ptr);
    interpreter_create: "TfLiteInterpreterCreate" => fn(Ptr, Ptr) -> Ptr;
    interpreter_delete: "TfLiteInterpreterDelete" => fn(Ptr);
    allocate: "TfLiteInterpreterAllocateTensors" => fn(Ptr) -> Status;
    invoke: "TfLiteInterpreterInvoke" => fn(Ptr) -> Status;
    input_count: "TfLiteInterpreterGetInputTensorCount" => fn(Ptr) -> i32;
    input_tensor: "TfLiteInterpreterGetInputTensor" => fn(Ptr, i32) -> Ptr;
    output_count: "TfLiteInterpreterGetOutputTensorCount" => fn(Ptr) -> i32;
    output_tensor: "TfLiteInterpreterGetOutputTensor" => fn(Ptr, i32) -> Ptr;
    tensor_type: "TfLiteTensorType" => fn(Ptr) -> c_int;
    tensor_num_dims: "TfLiteTensorNumDims" => fn(Ptr) -> i32;
    tensor_dim: "TfLiteTensorDim" => fn(Ptr, i32) -> i32;
    tensor_byte_size: "TfLiteTensorByteSize" => fn(Ptr) -> usize;
    tensor_name: "TfLiteTensorName" => fn(Ptr) -> *const c_char;
    copy_from: "TfLiteTensorCopyFromBuffer" => fn(Ptr, *const c_void, usize) -> Status;
    copy_to: "TfLiteTensorCopyToBuffer" => fn(Ptr, *mut c_void, usize) -> Status;
}

type DelegateCreate = unsafe extern "C" fn(*const c_void) -> Ptr;
type DelegateDelete = unsafe extern "C" fn(Ptr);

/// One delegate family: the entry points tried in order.
struct DelegateEntry {
    create: DelegateCreate,
    delete: DelegateDelete,
    name: &'static str,
}

const CPU_DELEGATES: &[(&str, &str)] =
    &[("TfLiteXNNPackDelegateCreate", "TfLiteXNNPackDelegateDelete")];
const GPU_DELEGATES: &[(&str, &str)] = &[
    ("TfLiteGpuDelegateV2Create", "TfLiteGpuDelegateV2Delete"),
    ("TFLGpuDelegateCreate", "TFLGpuDelegateDelete"),
];
const NPU_DELEGATES: &[(&str, &str)] =
    &[("TfLiteCoreMlDelegateCreate", "TfLiteCoreMlDelegateDelete")];

/// A loaded classic TensorFlow Lite library, held for the process.
pub struct TfLiteRuntime {
    api: Api,
    cpu: Option<DelegateEntry>,
    gpu: Option<DelegateEntry>,
    npu: Option<DelegateEntry>,
    path: PathBuf,
    version: semver::Version,
    _lib: &'static Library,
}

// SAFETY: only code addresses and immutable metadata; the library stays
// loaded for the runtime's life.
unsafe impl Send for TfLiteRuntime {}
// SAFETY: as above.
unsafe impl Sync for TfLiteRuntime {}

impl std::fmt::Debug for TfLiteRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TfLiteRuntime")
            .field("path", &self.path)
            .field("version", &self.version.to_string())
            .finish()
    }
}

/// A delegate whose `Prepare` fails, attached to force the real
/// interpreter down its failure path (tests and fallback drills).
#[repr(C)]
struct FailingDelegate {
    data: Ptr,
    prepare: unsafe extern "C" fn(Ptr, Ptr) -> Status,
    copy_from_buffer_handle: Ptr,
    copy_to_buffer_handle: Ptr,
    free_buffer_handle: Ptr,
    flags: i64,
    opaque_delegate_builder: Ptr,
}

unsafe extern "C" fn failing_prepare(_context: Ptr, _delegate: Ptr) -> Status {
    1 // kTfLiteError
}

/// How an accelerator is realised on the classic engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DelegatePlan {
    /// The entry point for the accelerator's delegate.
    Standard,
    /// A delegate whose Prepare fails (tests and drills).
    FailingPrepare,
}

impl TfLiteRuntime {
    /// Loads the library, checks `TfLiteVersion()` and resolves delegates.
    ///
    /// # Errors
    /// Typed [`RuntimeLoadError`]s.
    pub fn load(path: &Path) -> Result<TfLiteRuntime, RuntimeLoadError> {
        let delegates = layout::companions(path, RuntimeSource::TfLite, Platform::current());
        TfLiteRuntime::load_with(path, &delegates)
    }

    /// Loads the library at `path` as [`TfLiteRuntime::load`] does, then
    /// looks for each accelerator's delegate entry points in the library
    /// itself and, when it lacks them, in the delegate libraries given
    /// (found by [`layout::companions`]: on iOS the
    /// `TensorFlowLiteCMetal` and `TensorFlowLiteCCoreML` frameworks, on
    /// Android `libtensorflowlite_gpu_jni.so`). A delegate library that fails
    /// to load or lacks the entry points leaves that accelerator unavailable.
    ///
    /// # Errors
    /// As [`TfLiteRuntime::load`].
    pub fn load_with(
        path: &Path,
        delegates: &[(Accelerator, PathBuf)],
    ) -> Result<TfLiteRuntime, RuntimeLoadError> {
        // SAFETY: loading runs the library's static initialisers only.
        let lib = unsafe { Library::new(path) }.map_err(|e| RuntimeLoadError::Open {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        // Never unloaded, even when refused below: these runtimes register
        // exit handlers and thread-local destructors that would run after
        // `dlclose` and crash the process at exit.
        let lib: &'static Library = Box::leak(Box::new(lib));
        // SAFETY: `TfLiteVersion` has taken no arguments and returned a
        // static C string in every release of the C API.
        let version_fn =
            unsafe { lib.get::<unsafe extern "C" fn() -> *const c_char>(b"TfLiteVersion\0") }
                .map_err(|_| RuntimeLoadError::MissingSymbol {
                    path: path.to_path_buf(),
                    symbol: "TfLiteVersion",
                })?;
        // SAFETY: see above; the pointer is static and NUL-terminated.
        let text = unsafe {
            let p = version_fn();
            if p.is_null() {
                String::new()
            } else {
                CStr::from_ptr(p).to_string_lossy().into_owned()
            }
        };
        let version = parse_version(&text).ok_or_else(|| RuntimeLoadError::UnsupportedVersion {
            path: path.to_path_buf(),
            found: format!("unparseable {text:?}"),
            supported: SUPPORTED,
        })?;
        if version < semver::Version::new(2, 4, 0) || version.major >= 3 {
            return Err(RuntimeLoadError::UnsupportedVersion {
                path: path.to_path_buf(),
                found: version.to_string(),
                supported: SUPPORTED,
            });
        }
        // SAFETY: the classic C API kept these signatures through 2.x.
        let api = unsafe { Api::resolve(lib, path) }?;
        let find_in = |lib: &'static Library, list: &[(&'static str, &'static str)]| {
            list.iter().find_map(|(c, d)| {
                // SAFETY: every listed creator takes one options pointer
                // (null means defaults) and returns a delegate pointer;
                // every deleter takes that pointer.
                unsafe {
                    let create = lib
                        .get::<DelegateCreate>(format!("{c}\0").as_bytes())
                        .ok()?;
                    let delete = lib
                        .get::<DelegateDelete>(format!("{d}\0").as_bytes())
                        .ok()?;
                    Some(DelegateEntry {
                        create: *create,
                        delete: *delete,
                        name: c,
                    })
                }
            })
        };
        let find = |accelerator: Accelerator, list: &[(&'static str, &'static str)]| {
            find_in(lib, list).or_else(|| {
                delegates
                    .iter()
                    .filter(|(a, _)| *a == accelerator)
                    .find_map(|(_, file)| {
                        // SAFETY: a delegate library's initialisers only
                        // register it; it is never unloaded (see above).
                        let extra = unsafe { Library::new(file) }.ok()?;
                        let extra: &'static Library = Box::leak(Box::new(extra));
                        find_in(extra, list)
                    })
            })
        };
        Ok(TfLiteRuntime {
            cpu: find(Accelerator::Cpu, CPU_DELEGATES),
            gpu: find(Accelerator::Gpu, GPU_DELEGATES),
            npu: find(Accelerator::Npu, NPU_DELEGATES),
            api,
            path: path.to_path_buf(),
            version,
            _lib: lib,
        })
    }

    /// The library's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `TfLiteVersion()`.
    pub fn version(&self) -> &semver::Version {
        &self.version
    }

    /// The delegate entry point used for an accelerator, if exported.
    pub fn delegate_for(&self, accelerator: Accelerator) -> Option<&'static str> {
        match accelerator {
            Accelerator::Cpu => self.cpu.as_ref(),
            Accelerator::Gpu => self.gpu.as_ref(),
            Accelerator::Npu => self.npu.as_ref(),
        }
        .map(|d| d.name)
    }

    /// Creates an interpreter for one accelerator from verified bytes.
    ///
    /// # Errors
    /// [`RuntimeError::AcceleratorUnavailable`] when no delegate entry point
    /// exists for GPU/NPU; [`RuntimeError::Null`] when the interpreter could
    /// not be built (for example, a delegate failed to prepare).
    pub fn compile(
        self: &Arc<Self>,
        bytes: &Arc<AlignedBytes>,
        accelerator: Accelerator,
        plan: DelegatePlan,
        threads: i32,
    ) -> Result<TfLiteInstance, RuntimeError> {
        let entry = match accelerator {
            Accelerator::Cpu => self.cpu.as_ref(),
            Accelerator::Gpu => self.gpu.as_ref(),
            Accelerator::Npu => self.npu.as_ref(),
        };
        if plan == DelegatePlan::Standard && entry.is_none() && accelerator != Accelerator::Cpu {
            return Err(RuntimeError::AcceleratorUnavailable {
                reason: format!(
                    "{} exports no {} delegate entry point",
                    self.path.display(),
                    accelerator
                ),
            });
        }
        let mut inst = TfLiteInstance {
            rt: Arc::clone(self),
            _bytes: Arc::clone(bytes),
            model: std::ptr::null_mut(),
            interpreter: std::ptr::null_mut(),
            delegate: None,
            failing: None,
            inputs: Vec::new(),
            outputs: Vec::new(),
            input_ptrs: Vec::new(),
            output_ptrs: Vec::new(),
        };
        let api = &self.api;
        // SAFETY: the bytes are immutable and kept alive by the instance
        // for as long as the model exists (TfLiteModelCreate does not copy).
        inst.model = unsafe { (api.model_create)(bytes.as_ptr().cast(), bytes.len()) };
        if inst.model.is_null() {
            return Err(RuntimeError::Null {
                call: "TfLiteModelCreate",
                detail: String::new(),
            });
        }
        // SAFETY: plain constructor.
        let options = unsafe { (api.options_create)() };
        if options.is_null() {
            return Err(RuntimeError::Null {
                call: "TfLiteInterpreterOptionsCreate",
                detail: String::new(),
            });
        }
        match plan {
            DelegatePlan::FailingPrepare => {
                let delegate = Box::new(FailingDelegate {
                    data: std::ptr::null_mut(),
                    prepare: failing_prepare,
                    copy_from_buffer_handle: std::ptr::null_mut(),
                    copy_to_buffer_handle: std::ptr::null_mut(),
                    free_buffer_handle: std::ptr::null_mut(),
                    flags: 0,
                    opaque_delegate_builder: std::ptr::null_mut(),
                });
                let raw = Box::into_raw(delegate);
                inst.failing = Some(raw);
                // SAFETY: `raw` is a TfLiteDelegate-layout struct that lives
                // until the instance drops (after the interpreter).
                unsafe { (api.options_add_delegate)(options, raw.cast()) };
            }
            DelegatePlan::Standard => {
                if let Some(entry) = entry {
                    // SAFETY: null options select the delegate's defaults.
                    let d = unsafe { (entry.create)(std::ptr::null()) };
                    if d.is_null() {
                        // SAFETY: options created above.
                        unsafe { (api.options_delete)(options) };
                        return Err(RuntimeError::Null {
                            call: entry.name,
                            detail: String::new(),
                        });
                    }
                    inst.delegate = Some((d, entry.delete));
                    // SAFETY: the delegate outlives the interpreter (dropped
                    // after it in TfLiteInstance::drop).
                    unsafe { (api.options_add_delegate)(options, d) };
                }
            }
        }
        // SAFETY: options valid; threads is a plain count.
        unsafe { (api.options_threads)(options, threads) };
        // SAFETY: model and options valid; options may be deleted after
        // creation (the interpreter copies what it needs).
        inst.interpreter = unsafe {
            let i = (api.interpreter_create)(inst.model, options);
            (api.options_delete)(options);
            i
        };
        if inst.interpreter.is_null() {
            return Err(RuntimeError::Null {
                call: "TfLiteInterpreterCreate",
                detail: format!(": the {accelerator} delegate could not be applied"),
            });
        }
        // SAFETY: interpreter valid.
        let status = unsafe { (api.allocate)(inst.interpreter) };
        if status != 0 {
            return Err(RuntimeError::Status {
                call: "TfLiteInterpreterAllocateTensors",
                status,
            });
        }
        // SAFETY: interpreter valid; indices below the counts it reports;
        // tensors are owned by the interpreter and outlive these reads.
        unsafe {
            for i in 0..(api.input_count)(inst.interpreter) {
                let t = (api.input_tensor)(inst.interpreter, i);
                inst.inputs.push(self.spec(t, "input", i)?);
                inst.input_ptrs.push(t);
            }
            for i in 0..(api.output_count)(inst.interpreter) {
                let t = (api.output_tensor)(inst.interpreter, i);
                inst.outputs.push(self.spec(t, "output", i)?);
                inst.output_ptrs.push(t);
            }
        }
        Ok(inst)
    }

    /// # Safety
    /// `t` must be a live tensor of an interpreter created by this runtime.
    unsafe fn spec(&self, t: Ptr, what: &str, index: i32) -> Result<TensorSpec, RuntimeError> {
        if t.is_null() {
            return Err(RuntimeError::Null {
                call: "TfLiteInterpreterGetInput/OutputTensor",
                detail: format!(": {what} {index}"),
            });
        }
        let api = &self.api;
        // SAFETY: `t` is live per the caller; name is a NUL-terminated
        // string owned by the interpreter, copied at once.
        unsafe {
            let name_ptr = (api.tensor_name)(t);
            let name = if name_ptr.is_null() {
                format!("{what}_{index}")
            } else {
                CStr::from_ptr(name_ptr).to_string_lossy().into_owned()
            };
            let code = (api.tensor_type)(t);
            let dtype = DType::from_code(code).ok_or(RuntimeError::UnsupportedTensorType {
                name: name.clone(),
                code,
            })?;
            let dims = (0..(api.tensor_num_dims)(t))
                .map(|d| (api.tensor_dim)(t, d) as i64)
                .collect();
            Ok(TensorSpec {
                name,
                dtype,
                shape: dims,
            })
        }
    }
}

/// An interpreter with its delegate. Used by one thread at a time.
pub struct TfLiteInstance {
    rt: Arc<TfLiteRuntime>,
    _bytes: Arc<AlignedBytes>,
    model: Ptr,
    interpreter: Ptr,
    delegate: Option<(Ptr, DelegateDelete)>,
    failing: Option<*mut FailingDelegate>,
    inputs: Vec<TensorSpec>,
    outputs: Vec<TensorSpec>,
    input_ptrs: Vec<Ptr>,
    output_ptrs: Vec<Ptr>,
}

// SAFETY: all handles are owned by this instance and only used through
// `&mut self` (one thread at a time); the interpreter has no thread affinity.
unsafe impl Send for TfLiteInstance {}

impl TfLiteInstance {
    /// Input tensors.
    pub fn inputs(&self) -> &[TensorSpec] {
        &self.inputs
    }

    /// Output tensors.
    pub fn outputs(&self) -> &[TensorSpec] {
        &self.outputs
    }

    /// Copies inputs in, invokes, copies outputs out.
    ///
    /// # Errors
    /// [`RuntimeError`] naming the failing call.
    pub fn run(&mut self, inputs: &[&[u8]]) -> Result<Vec<Vec<u8>>, RuntimeError> {
        let api = &self.rt.api;
        for ((data, &t), spec) in inputs.iter().zip(&self.input_ptrs).zip(&self.inputs) {
            // SAFETY: `t` is a live input tensor; the runtime checks that
            // `data.len()` equals the tensor's byte size before copying.
            let status = unsafe { (api.copy_from)(t, data.as_ptr().cast(), data.len()) };
            if status != 0 {
                let _ = spec;
                return Err(RuntimeError::Status {
                    call: "TfLiteTensorCopyFromBuffer",
                    status,
                });
            }
        }
        // SAFETY: interpreter valid and used by this thread only.
        let status = unsafe { (api.invoke)(self.interpreter) };
        if status != 0 {
            return Err(RuntimeError::Status {
                call: "TfLiteInterpreterInvoke",
                status,
            });
        }
        let mut out = Vec::with_capacity(self.output_ptrs.len());
        for (&t, spec) in self.output_ptrs.iter().zip(&self.outputs) {
            // SAFETY: `t` is a live output tensor.
            let size = unsafe { (api.tensor_byte_size)(t) };
            if Some(size) != spec.byte_len() {
                return Err(RuntimeError::SizeMismatch {
                    name: spec.name.clone(),
                    runtime: size,
                    expected: spec.byte_len().unwrap_or(0),
                });
            }
            let mut buf = vec![0u8; size];
            // SAFETY: `buf` has exactly the tensor's byte size.
            let status = unsafe { (api.copy_to)(t, buf.as_mut_ptr().cast(), size) };
            if status != 0 {
                return Err(RuntimeError::Status {
                    call: "TfLiteTensorCopyToBuffer",
                    status,
                });
            }
            out.push(buf);
        }
        Ok(out)
    }
}

impl Drop for TfLiteInstance {
    fn drop(&mut self) {
        let api = &self.rt.api;
        // SAFETY: interpreter first, then delegates it referenced, then the
        // model; each created once by this instance.
        unsafe {
            if !self.interpreter.is_null() {
                (api.interpreter_delete)(self.interpreter);
            }
            if let Some((d, delete)) = self.delegate.take() {
                delete(d);
            }
            if let Some(raw) = self.failing.take() {
                drop(Box::from_raw(raw));
            }
            if !self.model.is_null() {
                (api.model_delete)(self.model);
            }
        }
    }
}
