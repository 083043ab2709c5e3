//! A byte buffer with 64-byte alignment, the alignment LiteRT asks of host
//! memory and safe for every flatbuffer scalar read.

use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::ptr::NonNull;

const ALIGN: usize = 64;

/// Immutable bytes at a 64-byte aligned address. The runtimes read model
/// bytes through raw pointers for the life of a model, so these bytes never
/// move and never change after construction.
pub struct AlignedBytes {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the buffer is uniquely owned, immutable after construction and
// freed only in Drop, so sharing references across threads is sound.
unsafe impl Send for AlignedBytes {}
// SAFETY: see above; no interior mutability.
unsafe impl Sync for AlignedBytes {}

impl AlignedBytes {
    /// Copies `bytes` into a fresh aligned allocation.
    pub fn copy_from(bytes: &[u8]) -> AlignedBytes {
        let len = bytes.len();
        let Ok(layout) = Layout::from_size_align(len.max(1), ALIGN) else {
            // Only reachable for sizes near isize::MAX, which a Vec could
            // not have held either.
            return AlignedBytes {
                ptr: NonNull::dangling(),
                len: 0,
            };
        };
        // SAFETY: layout has a non-zero size.
        let raw = unsafe { alloc_zeroed(layout) };
        let Some(ptr) = NonNull::new(raw) else {
            std::alloc::handle_alloc_error(layout);
        };
        // SAFETY: `ptr` is a fresh allocation of at least `len` bytes that
        // cannot overlap `bytes`.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), ptr.as_ptr(), len) };
        AlignedBytes { ptr, len }
    }

    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: `ptr` points to `len` initialised bytes owned by self and
        // never written after construction.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(crate) fn as_ptr(&self) -> *const u8 {
        self.ptr.as_ptr()
    }
}

impl Drop for AlignedBytes {
    fn drop(&mut self) {
        if self.len == 0 {
            // Zero-length buffers may be dangling; only free real ones.
            if let Ok(layout) = Layout::from_size_align(1, ALIGN) {
                if self.ptr != NonNull::dangling() {
                    // SAFETY: allocated in copy_from with this layout.
                    unsafe { dealloc(self.ptr.as_ptr(), layout) };
                }
            }
            return;
        }
        if let Ok(layout) = Layout::from_size_align(self.len, ALIGN) {
            // SAFETY: allocated in copy_from with exactly this layout.
            unsafe { dealloc(self.ptr.as_ptr(), layout) };
        }
    }
}

impl std::fmt::Debug for AlignedBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AlignedBytes({} bytes)", self.len)
    }
}
