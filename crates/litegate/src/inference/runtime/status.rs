//! The words behind the C runtimes' status codes, so an error says
//! "status 504 (compilation failed)" instead of a bare number.
//!
//! Codes from LiteRT's `litert_common.h` (`LiteRtStatus`) and TensorFlow
//! Lite's `c_api_types.h` (`TfLiteStatus`). Neither library exports a
//! function that names its codes (`LiteRtGetStatusString` is declared but
//! not exported by the 2.x wheels), hence the table.

/// What a status code returned by C function `call` means: LiteRT's codes
/// for `LiteRt*` functions, TensorFlow Lite's for the others.
pub fn describe(call: &str, status: i32) -> &'static str {
    if call.starts_with("LiteRt") {
        litert(status)
    } else {
        tflite(status)
    }
}

fn litert(status: i32) -> &'static str {
    match status {
        0 => "ok",
        1 => "invalid argument",
        2 => "memory allocation failure",
        3 => "runtime failure",
        4 => "missing input tensor",
        5 => "unsupported",
        6 => "not found",
        7 => "timeout expired",
        8 => "wrong version",
        9 => "unknown error",
        10 => "already exists",
        100 => "cancelled",
        500 => "file I/O error",
        501 => "invalid flatbuffer",
        502 => "dynamic loading failed (an accelerator library is missing)",
        503 => "serialization failed",
        504 => "compilation failed (no such accelerator here, or its library is missing)",
        1000 => "index out of bounds",
        1001 => "invalid IR type",
        1002 => "invalid graph invariant",
        1003 => "graph modification failed",
        1500 => "invalid tool config",
        2000 | 2001 => "legalization failed",
        3000 | 3001 => "transformation failed",
        4000 => "unsupported runtime version",
        4001 => "unsupported compiler version",
        4002 => "incompatible byte code version",
        5000 => "unsupported op shape inferer",
        5001 => "shape inference failed",
        _ => "unknown status code",
    }
}

fn tflite(status: i32) -> &'static str {
    match status {
        0 => "ok",
        1 => "error",
        2 => "delegate error",
        3 => "application error (delegate incompatible with the runtime)",
        4 => "delegate data not found",
        5 => "delegate data write error",
        6 => "delegate data read error",
        7 => "unresolved ops",
        8 => "cancelled",
        _ => "unknown status code",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_words_per_runtime() {
        assert_eq!(describe("LiteRtCreateCompiledModel", 3), "runtime failure");
        assert!(describe("LiteRtCreateCompiledModel", 504).starts_with("compilation failed"));
        assert_eq!(describe("TfLiteInterpreterInvoke", 1), "error");
        assert_eq!(
            describe("TfLiteInterpreterModifyGraphWithDelegate", 2),
            "delegate error"
        );
        assert_eq!(describe("LiteRtRun", 123_456), "unknown status code");
    }
}
