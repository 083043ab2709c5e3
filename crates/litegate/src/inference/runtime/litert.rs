//! Loader for LiteRT 2.x (`libLiteRt`): the CompiledModel C API.
//!
//! Declarations follow the 2.2+ ABI, where `LiteRtCreateModelFromBuffer`
//! takes the environment first (the change made in 2.1.6). Older libraries
//! export the same symbol names with other signatures and would crash, so
//! they are refused at load time (see [`LiteRtRuntime::load`]).

use super::layout::{self, Platform};
use super::{parse_version, AlignedBytes, RuntimeError, RuntimeLoadError, RuntimeSource};
use crate::inference::accel::Accelerator;
use crate::inference::tensor::{DType, TensorSpec};
use libloading::Library;
use parking_lot::Mutex;
use std::ffi::{c_char, c_int, c_void, CStr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

type Status = c_int;
type Handle = *mut c_void;

const SUPPORTED: &str = ">= 2.2.0, < 3.0.0";
const BUFFER_TYPE_HOST_MEMORY: c_int = 1;
const LOCK_READ: c_int = 0;
const LOCK_WRITE: c_int = 1;
const HW_CPU: c_int = 1;
const HW_GPU: c_int = 2;
const HW_NPU: c_int = 4;
const TENSOR_TYPE_RANKED: c_int = 0;

/// `LiteRtRankedTensorType` is 72 bytes on 64-bit targets in the 2.x ABI
/// (element type, then a packed layout with rank, 8 dims and 8 strides).
/// It is kept as opaque bytes with room to spare and handed back to the
/// runtime unchanged; only the element type and the dims are read.
#[repr(C, align(8))]
#[derive(Clone, Copy)]
struct RankedTensorType {
    bytes: [u8; 128],
}

impl RankedTensorType {
    fn element_type(&self) -> i32 {
        i32::from_ne_bytes([self.bytes[0], self.bytes[1], self.bytes[2], self.bytes[3]])
    }

    fn dims(&self) -> Vec<i64> {
        let word = |off: usize| {
            i32::from_ne_bytes([
                self.bytes[off],
                self.bytes[off + 1],
                self.bytes[off + 2],
                self.bytes[off + 3],
            ])
        };
        let rank = (word(4) & 0x7f) as usize;
        (0..rank.min(8)).map(|i| word(8 + 4 * i) as i64).collect()
    }
}

macro_rules! api_table {
    ($($field:ident : $sym:literal => fn($($arg:ty),*) $(-> $ret:ty)?;)*) => {
        #[allow(non_snake_case)]
        struct Api { $($field: unsafe extern "C" fn($($arg),*) $(-> $ret)?,)* }
        impl Api {
            /// # Safety
            /// `lib` must be a LiteRT 2.2+ library whose functions have the
            /// declared signatures.
            unsafe fn resolve(lib: &'static Library, path: &Path) -> Result<Api, RuntimeLoadError> {
                Ok(Api { $($field: {
                    // SAFETY: the caller promises the signature matches; the
                    // pointer is copied out and `lib` is kept alive as long
                    // as the Api (both live in LiteRtRuntime).
                    let sym = unsafe { lib.get::<unsafe extern "C" fn($($arg),*) $(-> $ret)?>(concat!($sym, "\0").as_bytes()) };
                    *sym.map_err(|_| RuntimeLoadError::MissingSymbol { path: path.to_path_buf(), symbol: $sym })?
                },)* })
            }
        }
    };
}

api_table! {
    create_environment: "LiteRtCreateEnvironment" => fn(c_int, *const c_void, *mut Handle) -> Status;
    destroy_environment: "LiteRtDestroyEnvironment" => fn(Handle);
    create_model_from_buffer: "LiteRtCreateModelFromBuffer" => fn(Handle, *const c_void, usize, *mut Handle) -> Status;
    destroy_model: "LiteRtDestroyModel" => fn(Handle);
    num_signatures: "LiteRtGetNumModelSignatures" => fn(Handle, *mut usize) -> Status;
    get_signature: "LiteRtGetModelSignature" => fn(Handle, usize, *mut Handle) -> Status;
    num_inputs: "LiteRtGetNumSignatureInputs" => fn(Handle, *mut usize) -> Status;
    num_outputs: "LiteRtGetNumSignatureOutputs" => fn(Handle, *mut usize) -> Status;
    input_name: "LiteRtGetSignatureInputName" => fn(Handle, usize, *mut *const c_char) -> Status;
    output_name: "LiteRtGetSignatureOutputName" => fn(Handle, usize, *mut *const c_char) -> Status;
    input_tensor: "LiteRtGetSignatureInputTensorByIndex" => fn(Handle, usize, *mut Handle) -> Status;
    output_tensor: "LiteRtGetSignatureOutputTensorByIndex" => fn(Handle, usize, *mut Handle) -> Status;
    tensor_type_id: "LiteRtGetTensorTypeId" => fn(Handle, *mut c_int) -> Status;
    ranked_tensor_type: "LiteRtGetRankedTensorType" => fn(Handle, *mut RankedTensorType) -> Status;
    create_options: "LiteRtCreateOptions" => fn(*mut Handle) -> Status;
    destroy_options: "LiteRtDestroyOptions" => fn(Handle);
    set_accelerators: "LiteRtSetOptionsHardwareAccelerators" => fn(Handle, c_int) -> Status;
    create_compiled: "LiteRtCreateCompiledModel" => fn(Handle, Handle, Handle, *mut Handle) -> Status;
    destroy_compiled: "LiteRtDestroyCompiledModel" => fn(Handle);
    run_compiled: "LiteRtRunCompiledModel" => fn(Handle, usize, usize, *mut Handle, usize, *mut Handle) -> Status;
    create_managed_buffer: "LiteRtCreateManagedTensorBuffer" => fn(Handle, c_int, *const RankedTensorType, usize, *mut Handle) -> Status;
    lock_buffer: "LiteRtLockTensorBuffer" => fn(Handle, *mut *mut c_void, c_int) -> Status;
    unlock_buffer: "LiteRtUnlockTensorBuffer" => fn(Handle) -> Status;
    destroy_buffer: "LiteRtDestroyTensorBuffer" => fn(Handle);
}

type IsAcceleratedFn = unsafe extern "C" fn(Handle, *mut bool) -> Status;

fn check(call: &'static str, status: Status) -> Result<(), RuntimeError> {
    if status == 0 {
        Ok(())
    } else {
        Err(RuntimeError::Status { call, status })
    }
}

/// A loaded LiteRT library with its environment, held for the process.
pub struct LiteRtRuntime {
    api: Api,
    non_cpu_fully_accelerated: Option<IsAcceleratedFn>,
    env: Handle,
    path: PathBuf,
    version: semver::Version,
    gpu_accelerator: Option<PathBuf>,
    npu_accelerators: Vec<PathBuf>,
    /// LiteRT's environment is not documented as thread-safe for creation
    /// calls; model and compiled-model creation are serialised here.
    create_lock: Mutex<()>,
    _accelerator_libs: Vec<&'static Library>,
    _lib: &'static Library,
}

// SAFETY: the environment handle is only used under `create_lock` or by
// calls the runtime documents as safe from any thread (buffer creation is
// also done under the lock); the function pointers are plain code addresses
// kept valid by `_lib`.
unsafe impl Send for LiteRtRuntime {}
// SAFETY: as above.
unsafe impl Sync for LiteRtRuntime {}

impl std::fmt::Debug for LiteRtRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiteRtRuntime")
            .field("path", &self.path)
            .field("version", &self.version.to_string())
            .finish()
    }
}

impl LiteRtRuntime {
    /// Loads the library at `path`, probes its version and creates the
    /// environment.
    ///
    /// The 2.x library exports no version function. The version is read
    /// from a `VERSION` file next to the library when present (written by
    /// `cargo xtask setup`; an app can ship one), else inferred from the
    /// symbols: `LiteRtCompiledModelIsNonCpuFullyAccelerated` first appears
    /// in the 2.2 line, after the 2.1.6 signature change, so its presence
    /// marks a library whose declarations match ours.
    ///
    /// # Errors
    /// Typed [`RuntimeLoadError`]s: the loader's refusal, a missing
    /// symbol, an unsupported version, a failed environment.
    pub fn load(path: &Path) -> Result<LiteRtRuntime, RuntimeLoadError> {
        let accelerators = layout::companions(path, RuntimeSource::LiteRt, Platform::current());
        LiteRtRuntime::load_with(path, &accelerators)
    }

    /// Loads the library at `path` as [`LiteRtRuntime::load`] does, first
    /// preloading the accelerator libraries given (found by
    /// [`layout::companions`] where the distribution puts them). LiteRT
    /// opens its accelerators by bare name; a library already loaded by
    /// absolute path satisfies that lookup without `LD_LIBRARY_PATH`. An
    /// accelerator library that fails to load is skipped: that accelerator
    /// is then unavailable, the runtime still loads.
    ///
    /// # Errors
    /// As [`LiteRtRuntime::load`].
    pub fn load_with(
        path: &Path,
        accelerators: &[(Accelerator, PathBuf)],
    ) -> Result<LiteRtRuntime, RuntimeLoadError> {
        // SAFETY: loading a library runs its initialisers; LiteRT's only
        // register accelerators and logging. The path was chosen by the app.
        let lib = unsafe { Library::new(path) }.map_err(|e| RuntimeLoadError::Open {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        // Never unloaded, even when refused below: these runtimes register
        // exit handlers and thread-local destructors that would run after
        // `dlclose` and crash the process at exit.
        let lib: &'static Library = Box::leak(Box::new(lib));
        // SAFETY: looking a symbol up does not call it.
        let has_symbol = |name: &[u8]| unsafe { lib.get::<*const c_void>(name) }.is_ok();
        if !has_symbol(b"LiteRtCreateCompiledModel\0") {
            return Err(RuntimeLoadError::MissingSymbol {
                path: path.to_path_buf(),
                symbol: "LiteRtCreateCompiledModel",
            });
        }
        let modern = has_symbol(b"LiteRtCompiledModelIsNonCpuFullyAccelerated\0");
        let declared = path
            .parent()
            .map(|d| d.join("VERSION"))
            .and_then(|f| std::fs::read_to_string(f).ok());
        let version = match declared.as_deref().and_then(parse_version) {
            Some(v) => v,
            None if modern => semver::Version::new(2, 2, 0),
            None => {
                return Err(RuntimeLoadError::UnsupportedVersion {
                    path: path.to_path_buf(),
                    found: "older than 2.2 (no LiteRtCompiledModelIsNonCpuFullyAccelerated)".into(),
                    supported: SUPPORTED,
                })
            }
        };
        if version < semver::Version::new(2, 2, 0) || version.major >= 3 || !modern {
            return Err(RuntimeLoadError::UnsupportedVersion {
                path: path.to_path_buf(),
                found: version.to_string(),
                supported: SUPPORTED,
            });
        }
        // SAFETY: the version check above established the 2.2+ ABI that
        // the declarations in `api_table!` describe.
        let api = unsafe { Api::resolve(lib, path) }?;
        // SAFETY: optional symbol with the declared 2.2+ signature.
        let non_cpu_fully_accelerated =
            unsafe { lib.get::<IsAcceleratedFn>(b"LiteRtCompiledModelIsNonCpuFullyAccelerated\0") }
                .ok()
                .map(|s| *s);
        let mut accelerator_libs = Vec::new();
        let mut gpu_accelerator = None;
        let mut npu_accelerators = Vec::new();
        for (accelerator, file) in accelerators {
            // SAFETY: an accelerator library's initialisers only register
            // it; failing to load it is not fatal (it is then unavailable).
            let Ok(lib) = (unsafe { Library::new(file) }) else {
                continue;
            };
            // Never unloaded, for the same reason as the runtime itself.
            accelerator_libs.push(&*Box::leak(Box::new(lib)));
            match accelerator {
                Accelerator::Gpu if gpu_accelerator.is_none() => {
                    gpu_accelerator = Some(file.clone())
                }
                Accelerator::Npu => npu_accelerators.push(file.clone()),
                _ => {}
            }
        }
        let mut env: Handle = std::ptr::null_mut();
        // SAFETY: zero options with a null array is the documented default;
        // `env` is a valid out pointer.
        let status = unsafe { (api.create_environment)(0, std::ptr::null(), &mut env) };
        if status != 0 || env.is_null() {
            return Err(RuntimeLoadError::Environment {
                path: path.to_path_buf(),
                status,
            });
        }
        Ok(LiteRtRuntime {
            api,
            non_cpu_fully_accelerated,
            env,
            path: path.to_path_buf(),
            version,
            gpu_accelerator,
            npu_accelerators,
            create_lock: Mutex::new(()),
            _accelerator_libs: accelerator_libs,
            _lib: lib,
        })
    }

    /// The library's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The probed version.
    pub fn version(&self) -> &semver::Version {
        &self.version
    }

    /// The GPU accelerator library that was preloaded, if any.
    pub fn gpu_accelerator_library(&self) -> Option<&Path> {
        self.gpu_accelerator.as_deref()
    }

    /// The NPU dispatch libraries that were preloaded.
    pub fn npu_accelerator_libraries(&self) -> &[PathBuf] {
        &self.npu_accelerators
    }

    /// Creates a model from verified bytes and compiles it for exactly one
    /// accelerator, so that the accelerator that runs is the one asked for.
    ///
    /// # Errors
    /// [`RuntimeError`] with the failing call and status.
    pub fn compile(
        self: &Arc<Self>,
        bytes: &Arc<AlignedBytes>,
        accelerator: Accelerator,
    ) -> Result<LiteRtInstance, RuntimeError> {
        let _guard = self.create_lock.lock();
        let mut inst = LiteRtInstance {
            rt: Arc::clone(self),
            _bytes: Arc::clone(bytes),
            model: std::ptr::null_mut(),
            compiled: std::ptr::null_mut(),
            inputs: Vec::new(),
            outputs: Vec::new(),
            input_buffers: Vec::new(),
            output_buffers: Vec::new(),
            non_cpu_fully_accelerated: None,
        };
        // SAFETY: `bytes` is an immutable aligned buffer kept alive by the
        // instance (`_bytes`) for as long as the model and compiled model
        // exist; `inst.model` is a valid out pointer.
        check("LiteRtCreateModelFromBuffer", unsafe {
            (self.api.create_model_from_buffer)(
                self.env,
                bytes.as_ptr().cast(),
                bytes.len(),
                &mut inst.model,
            )
        })?;
        let signature = self.signature(inst.model)?;
        let (inputs, input_types) = self.io(signature, true)?;
        let (outputs, output_types) = self.io(signature, false)?;
        inst.inputs = inputs;
        inst.outputs = outputs;

        let mut options: Handle = std::ptr::null_mut();
        // SAFETY: valid out pointer.
        check("LiteRtCreateOptions", unsafe {
            (self.api.create_options)(&mut options)
        })?;
        let hw = match accelerator {
            Accelerator::Cpu => HW_CPU,
            Accelerator::Gpu => HW_GPU,
            Accelerator::Npu => HW_NPU,
        };
        // SAFETY: `options` was just created and is destroyed below.
        let compiled = unsafe {
            let mut status = (self.api.set_accelerators)(options, hw);
            if status == 0 {
                status =
                    (self.api.create_compiled)(self.env, inst.model, options, &mut inst.compiled);
            }
            (self.api.destroy_options)(options);
            status
        };
        check("LiteRtCreateCompiledModel", compiled)?;
        if let Some(f) = self.non_cpu_fully_accelerated {
            let mut flag = false;
            // SAFETY: compiled model handle is valid; out pointer is valid.
            if unsafe { f(inst.compiled, &mut flag) } == 0 {
                inst.non_cpu_fully_accelerated = Some(flag);
            }
        }
        for (spec, ty) in inst.inputs.iter().zip(&input_types) {
            let buf = self.managed_buffer(spec, ty)?;
            inst.input_buffers.push(buf);
        }
        for (spec, ty) in inst.outputs.iter().zip(&output_types) {
            let buf = self.managed_buffer(spec, ty)?;
            inst.output_buffers.push(buf);
        }
        Ok(inst)
    }

    fn signature(&self, model: Handle) -> Result<Handle, RuntimeError> {
        let mut count = 0usize;
        // SAFETY: valid model handle and out pointer.
        check("LiteRtGetNumModelSignatures", unsafe {
            (self.api.num_signatures)(model, &mut count)
        })?;
        if count == 0 {
            return Err(RuntimeError::Null {
                call: "LiteRtGetModelSignature",
                detail: ": the model has no signature".into(),
            });
        }
        let mut sig: Handle = std::ptr::null_mut();
        // SAFETY: index 0 < count; valid out pointer. The signature is owned
        // by the model.
        check("LiteRtGetModelSignature", unsafe {
            (self.api.get_signature)(model, 0, &mut sig)
        })?;
        Ok(sig)
    }

    fn io(
        &self,
        sig: Handle,
        inputs: bool,
    ) -> Result<(Vec<TensorSpec>, Vec<RankedTensorType>), RuntimeError> {
        let (count_fn, name_fn, tensor_fn, what) = if inputs {
            (
                self.api.num_inputs,
                self.api.input_name,
                self.api.input_tensor,
                "input",
            )
        } else {
            (
                self.api.num_outputs,
                self.api.output_name,
                self.api.output_tensor,
                "output",
            )
        };
        let mut count = 0usize;
        // SAFETY: valid signature handle and out pointer.
        check("LiteRtGetNumSignatureInputs/Outputs", unsafe {
            count_fn(sig, &mut count)
        })?;
        let mut specs = Vec::with_capacity(count);
        let mut types = Vec::with_capacity(count);
        for i in 0..count {
            let mut name_ptr: *const c_char = std::ptr::null();
            let mut tensor: Handle = std::ptr::null_mut();
            let mut type_id: c_int = -1;
            let mut ranked = RankedTensorType { bytes: [0; 128] };
            // SAFETY: i < count; all out pointers are valid; the name is a
            // NUL-terminated string owned by the model, copied at once.
            let name = unsafe {
                check(
                    "LiteRtGetSignatureInputName/OutputName",
                    name_fn(sig, i, &mut name_ptr),
                )?;
                check(
                    "LiteRtGetSignatureInputTensorByIndex/Output",
                    tensor_fn(sig, i, &mut tensor),
                )?;
                check(
                    "LiteRtGetTensorTypeId",
                    (self.api.tensor_type_id)(tensor, &mut type_id),
                )?;
                if name_ptr.is_null() {
                    format!("{what}_{i}")
                } else {
                    CStr::from_ptr(name_ptr).to_string_lossy().into_owned()
                }
            };
            if type_id != TENSOR_TYPE_RANKED {
                return Err(RuntimeError::UnsupportedTensorType {
                    name,
                    code: -type_id,
                });
            }
            // SAFETY: tensor handle valid; `ranked` has room for the 72-byte
            // struct the runtime writes.
            check("LiteRtGetRankedTensorType", unsafe {
                (self.api.ranked_tensor_type)(tensor, &mut ranked)
            })?;
            let dtype = DType::from_code(ranked.element_type()).ok_or_else(|| {
                RuntimeError::UnsupportedTensorType {
                    name: name.clone(),
                    code: ranked.element_type(),
                }
            })?;
            specs.push(TensorSpec {
                name,
                dtype,
                shape: ranked.dims(),
            });
            types.push(ranked);
        }
        Ok((specs, types))
    }

    fn managed_buffer(
        &self,
        spec: &TensorSpec,
        ty: &RankedTensorType,
    ) -> Result<Handle, RuntimeError> {
        let size = spec.byte_len().ok_or_else(|| RuntimeError::SizeMismatch {
            name: spec.name.clone(),
            runtime: 0,
            expected: 0,
        })?;
        let mut buf: Handle = std::ptr::null_mut();
        // SAFETY: env valid; `ty` is the runtime's own description of this
        // tensor; out pointer valid.
        check("LiteRtCreateManagedTensorBuffer", unsafe {
            (self.api.create_managed_buffer)(self.env, BUFFER_TYPE_HOST_MEMORY, ty, size, &mut buf)
        })?;
        Ok(buf)
    }
}

impl Drop for LiteRtRuntime {
    fn drop(&mut self) {
        // SAFETY: every instance holds an Arc to the runtime, so none is
        // alive here; the environment was created in `load`.
        unsafe { (self.api.destroy_environment)(self.env) };
    }
}

/// A model compiled for one accelerator, with its input and output
/// buffers. Used by one thread at a time (`run` takes `&mut self`).
pub struct LiteRtInstance {
    rt: Arc<LiteRtRuntime>,
    _bytes: Arc<AlignedBytes>,
    model: Handle,
    compiled: Handle,
    inputs: Vec<TensorSpec>,
    outputs: Vec<TensorSpec>,
    input_buffers: Vec<Handle>,
    output_buffers: Vec<Handle>,
    non_cpu_fully_accelerated: Option<bool>,
}

// SAFETY: the handles are owned by this instance and used only through
// `&mut self`, so one thread at a time; LiteRT objects have no thread
// affinity on the CPU path.
unsafe impl Send for LiteRtInstance {}

impl LiteRtInstance {
    /// Input tensors of the first signature.
    pub fn inputs(&self) -> &[TensorSpec] {
        &self.inputs
    }

    /// Output tensors of the first signature.
    pub fn outputs(&self) -> &[TensorSpec] {
        &self.outputs
    }

    /// What `LiteRtCompiledModelIsNonCpuFullyAccelerated` said, when exported.
    pub fn non_cpu_fully_accelerated(&self) -> Option<bool> {
        self.non_cpu_fully_accelerated
    }

    /// Copies `inputs` (in signature order, sizes already checked by the
    /// caller) into the input buffers, runs, and copies each output out.
    ///
    /// # Errors
    /// [`RuntimeError`] with the failing call and status.
    pub fn run(&mut self, inputs: &[&[u8]]) -> Result<Vec<Vec<u8>>, RuntimeError> {
        let api = &self.rt.api;
        for ((data, &buf), spec) in inputs.iter().zip(&self.input_buffers).zip(&self.inputs) {
            write_buffer(api, buf, data, &spec.name)?;
        }
        // SAFETY: compiled model and buffers are owned by self and valid;
        // the arrays have the lengths passed.
        check("LiteRtRunCompiledModel", unsafe {
            (api.run_compiled)(
                self.compiled,
                0,
                self.input_buffers.len(),
                self.input_buffers.as_mut_ptr(),
                self.output_buffers.len(),
                self.output_buffers.as_mut_ptr(),
            )
        })?;
        let mut out = Vec::with_capacity(self.outputs.len());
        for (&buf, spec) in self.output_buffers.iter().zip(&self.outputs) {
            out.push(read_buffer(api, buf, spec)?);
        }
        Ok(out)
    }
}

fn write_buffer(api: &Api, buf: Handle, data: &[u8], name: &str) -> Result<(), RuntimeError> {
    let mut host: *mut c_void = std::ptr::null_mut();
    // SAFETY: buf is a host-memory buffer created with exactly the byte
    // size the caller checked `data` against; the lock maps it for writing
    // and is released before returning.
    unsafe {
        check(
            "LiteRtLockTensorBuffer",
            (api.lock_buffer)(buf, &mut host, LOCK_WRITE),
        )?;
        if host.is_null() {
            let _ = (api.unlock_buffer)(buf);
            return Err(RuntimeError::Null {
                call: "LiteRtLockTensorBuffer",
                detail: format!(": input `{name}`"),
            });
        }
        std::ptr::copy_nonoverlapping(data.as_ptr(), host.cast::<u8>(), data.len());
        check("LiteRtUnlockTensorBuffer", (api.unlock_buffer)(buf))
    }
}

fn read_buffer(api: &Api, buf: Handle, spec: &TensorSpec) -> Result<Vec<u8>, RuntimeError> {
    let len = spec.byte_len().unwrap_or(0);
    let mut host: *mut c_void = std::ptr::null_mut();
    // SAFETY: buf is a host-memory buffer of `len` bytes (created from this
    // spec); mapped for reading, copied, then unlocked.
    unsafe {
        check(
            "LiteRtLockTensorBuffer",
            (api.lock_buffer)(buf, &mut host, LOCK_READ),
        )?;
        if host.is_null() {
            let _ = (api.unlock_buffer)(buf);
            return Err(RuntimeError::Null {
                call: "LiteRtLockTensorBuffer",
                detail: format!(": output `{}`", spec.name),
            });
        }
        let out = std::slice::from_raw_parts(host.cast::<u8>(), len).to_vec();
        check("LiteRtUnlockTensorBuffer", (api.unlock_buffer)(buf))?;
        Ok(out)
    }
}

impl Drop for LiteRtInstance {
    fn drop(&mut self) {
        let api = &self.rt.api;
        // SAFETY: each handle was created by this instance and is destroyed
        // once, buffers and compiled model before the model they refer to.
        unsafe {
            for &b in self.input_buffers.iter().chain(&self.output_buffers) {
                if !b.is_null() {
                    (api.destroy_buffer)(b);
                }
            }
            if !self.compiled.is_null() {
                (api.destroy_compiled)(self.compiled);
            }
            if !self.model.is_null() {
                (api.destroy_model)(self.model);
            }
        }
    }
}
