//! Typed tensors: a flat little-endian byte buffer plus a shape and an
//! element type. Validation happens here, before any runtime is called.

use serde::{Deserialize, Serialize};

/// Element type of a tensor, as the TensorFlow Lite schema numbers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum DType {
    /// 32-bit IEEE float.
    F32,
    /// 16-bit IEEE float (bytes only; convert yourself).
    F16,
    /// Signed 8-bit integer.
    I8,
    /// Unsigned 8-bit integer.
    U8,
    /// Signed 16-bit integer.
    I16,
    /// Signed 32-bit integer.
    I32,
    /// Signed 64-bit integer.
    I64,
    /// One byte per element, 0 or 1.
    Bool,
}

impl DType {
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            DType::I8 | DType::U8 | DType::Bool => 1,
            DType::F16 | DType::I16 => 2,
            DType::F32 | DType::I32 => 4,
            DType::I64 => 8,
        }
    }

    /// The schema's type code (`TfLiteType` / `LiteRtElementType`).
    pub fn code(self) -> i32 {
        match self {
            DType::F32 => 1,
            DType::I32 => 2,
            DType::U8 => 3,
            DType::I64 => 4,
            DType::Bool => 6,
            DType::I16 => 7,
            DType::I8 => 9,
            DType::F16 => 10,
        }
    }

    /// The type for a schema code, if supported.
    pub fn from_code(code: i32) -> Option<DType> {
        Some(match code {
            1 => DType::F32,
            2 => DType::I32,
            3 => DType::U8,
            4 => DType::I64,
            6 => DType::Bool,
            7 => DType::I16,
            9 => DType::I8,
            10 => DType::F16,
            _ => return None,
        })
    }

    /// Lower-case name (`f32`, `u8`, ...), as used in manifests and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            DType::F32 => "f32",
            DType::F16 => "f16",
            DType::I8 => "i8",
            DType::U8 => "u8",
            DType::I16 => "i16",
            DType::I32 => "i32",
            DType::I64 => "i64",
            DType::Bool => "bool",
        }
    }

    /// Parses a name produced by [`DType::as_str`].
    pub fn parse(name: &str) -> Option<DType> {
        Some(match name {
            "f32" | "float32" => DType::F32,
            "f16" | "float16" => DType::F16,
            "i8" | "int8" => DType::I8,
            "u8" | "uint8" => DType::U8,
            "i16" | "int16" => DType::I16,
            "i32" | "int32" => DType::I32,
            "i64" | "int64" => DType::I64,
            "bool" => DType::Bool,
            _ => return None,
        })
    }
}

impl std::fmt::Display for DType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a model declares for one input or output tensor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TensorSpec {
    /// Tensor name (the signature's name when the model has one).
    pub name: String,
    /// Element type.
    pub dtype: DType,
    /// Dimensions; `-1` marks a dynamic dimension.
    pub shape: Vec<i64>,
}

impl TensorSpec {
    /// Number of elements, or `None` when a dimension is dynamic.
    pub fn element_count(&self) -> Option<usize> {
        element_count(&self.shape)
    }

    /// Size in bytes, or `None` when a dimension is dynamic.
    pub fn byte_len(&self) -> Option<usize> {
        self.element_count()
            .and_then(|n| n.checked_mul(self.dtype.size()))
    }
}

/// Product of the dimensions, `None` on a negative dimension or overflow.
pub fn element_count(shape: &[i64]) -> Option<usize> {
    shape.iter().try_fold(1usize, |acc, &d| {
        usize::try_from(d).ok().and_then(|d| acc.checked_mul(d))
    })
}

/// A tensor value: name, type, shape and its bytes (little-endian, packed).
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    /// Tensor name.
    pub name: String,
    /// Element type.
    pub dtype: DType,
    /// Dimensions.
    pub shape: Vec<i64>,
    /// Packed little-endian element bytes.
    pub data: Vec<u8>,
}

impl Tensor {
    /// A tensor from raw bytes (not checked until the run).
    pub fn from_bytes(
        name: impl Into<String>,
        dtype: DType,
        shape: Vec<i64>,
        data: Vec<u8>,
    ) -> Tensor {
        Tensor {
            name: name.into(),
            dtype,
            shape,
            data,
        }
    }

    /// An f32 tensor from values.
    pub fn from_f32(name: impl Into<String>, shape: Vec<i64>, values: &[f32]) -> Tensor {
        let data = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        Tensor::from_bytes(name, DType::F32, shape, data)
    }

    /// A tensor of the given spec filled from `f64` values, converting each
    /// to the spec's element type (saturating for integers).
    ///
    /// # Errors
    /// [`TensorError::WrongElementCount`] when the count does not match a
    /// static shape.
    pub fn from_numbers(spec: &TensorSpec, values: &[f64]) -> Result<Tensor, TensorError> {
        if let Some(expected) = spec.element_count() {
            if expected != values.len() {
                return Err(TensorError::WrongElementCount {
                    name: spec.name.clone(),
                    expected,
                    actual: values.len(),
                });
            }
        }
        let mut data = Vec::with_capacity(values.len() * spec.dtype.size());
        for &v in values {
            match spec.dtype {
                DType::F32 => data.extend_from_slice(&(v as f32).to_le_bytes()),
                DType::F16 => data.extend_from_slice(&f32_to_f16_bits(v as f32).to_le_bytes()),
                DType::I8 => data.extend_from_slice(&(v as i8).to_le_bytes()),
                DType::U8 => data.extend_from_slice(&(v as u8).to_le_bytes()),
                DType::I16 => data.extend_from_slice(&(v as i16).to_le_bytes()),
                DType::I32 => data.extend_from_slice(&(v as i32).to_le_bytes()),
                DType::I64 => data.extend_from_slice(&(v as i64).to_le_bytes()),
                DType::Bool => data.push(u8::from(v != 0.0)),
            }
        }
        Ok(Tensor::from_bytes(
            spec.name.clone(),
            spec.dtype,
            spec.shape.clone(),
            data,
        ))
    }

    /// The elements as `f64`, whatever the type (for printing, comparing).
    pub fn to_f64(&self) -> Vec<f64> {
        let size = self.dtype.size();
        self.data
            .chunks_exact(size)
            .map(|c| match self.dtype {
                DType::F32 => f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64,
                DType::F16 => f16_bits_to_f32(u16::from_le_bytes([c[0], c[1]])) as f64,
                DType::I8 => i8::from_le_bytes([c[0]]) as f64,
                DType::U8 | DType::Bool => c[0] as f64,
                DType::I16 => i16::from_le_bytes([c[0], c[1]]) as f64,
                DType::I32 => i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64,
                DType::I64 => {
                    i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f64
                }
            })
            .collect()
    }

    /// The elements as `f32` when the type is f32.
    pub fn as_f32(&self) -> Option<Vec<f32>> {
        (self.dtype == DType::F32).then(|| {
            self.data
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect()
        })
    }

    /// Checks this value against what the model declares.
    ///
    /// # Errors
    /// A [`TensorError`] naming the tensor and what differs.
    pub fn check_against(&self, spec: &TensorSpec) -> Result<(), TensorError> {
        if self.dtype != spec.dtype {
            return Err(TensorError::WrongType {
                name: spec.name.clone(),
                expected: spec.dtype,
                actual: self.dtype,
            });
        }
        let shape_ok = self.shape.len() == spec.shape.len()
            && self
                .shape
                .iter()
                .zip(&spec.shape)
                .all(|(&a, &e)| e < 0 || a == e);
        if !shape_ok {
            return Err(TensorError::WrongShape {
                name: spec.name.clone(),
                expected: spec.shape.clone(),
                actual: self.shape.clone(),
            });
        }
        let expected = element_count(&self.shape)
            .and_then(|n| n.checked_mul(self.dtype.size()))
            .ok_or_else(|| TensorError::WrongShape {
                name: spec.name.clone(),
                expected: spec.shape.clone(),
                actual: self.shape.clone(),
            })?;
        if self.data.len() != expected {
            return Err(TensorError::WrongByteLength {
                name: spec.name.clone(),
                expected,
                actual: self.data.len(),
            });
        }
        Ok(())
    }
}

/// Why a tensor value does not fit the model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TensorError {
    /// No input of that name.
    #[error("the model has no input named `{name}` (inputs: {known:?})")]
    UnknownInput {
        /// The name given.
        name: String,
        /// The model's input names.
        known: Vec<String>,
    },
    /// An input was not given.
    #[error("input `{name}` is missing")]
    MissingInput {
        /// The missing input.
        name: String,
    },
    /// Element type differs.
    #[error("input `{name}`: expected {expected}, got {actual}")]
    WrongType {
        /// Tensor name.
        name: String,
        /// Declared type.
        expected: DType,
        /// Given type.
        actual: DType,
    },
    /// Shape differs.
    #[error("input `{name}`: expected shape {expected:?}, got {actual:?}")]
    WrongShape {
        /// Tensor name.
        name: String,
        /// Declared shape.
        expected: Vec<i64>,
        /// Given shape.
        actual: Vec<i64>,
    },
    /// Byte length does not match shape and type.
    #[error("input `{name}`: expected {expected} bytes, got {actual}")]
    WrongByteLength {
        /// Tensor name.
        name: String,
        /// Bytes the shape and type need.
        expected: usize,
        /// Bytes given.
        actual: usize,
    },
    /// Number of values does not match the shape.
    #[error("input `{name}`: expected {expected} values, got {actual}")]
    WrongElementCount {
        /// Tensor name.
        name: String,
        /// Elements the shape needs.
        expected: usize,
        /// Values given.
        actual: usize,
    },
}

/// IEEE half to single precision.
pub fn f16_bits_to_f32(h: u16) -> f32 {
    let sign = ((h >> 15) as u32) << 31;
    let exp = ((h >> 10) & 0x1f) as u32;
    let frac = (h & 0x3ff) as u32;
    let bits = match (exp, frac) {
        (0, 0) => sign,
        (0, _) => {
            // Subnormal: normalise.
            let mut e = 127 - 15 + 1;
            let mut f = frac;
            while f & 0x400 == 0 {
                f <<= 1;
                e -= 1;
            }
            sign | (e << 23) | ((f & 0x3ff) << 13)
        }
        (0x1f, _) => sign | 0x7f80_0000 | (frac << 13),
        _ => sign | ((exp + 127 - 15) << 23) | (frac << 13),
    };
    f32::from_bits(bits)
}

/// Single to IEEE half precision (round toward zero; enough for inputs).
pub fn f32_to_f16_bits(v: f32) -> u16 {
    let bits = v.to_bits();
    let sign = ((bits >> 16) & 0x8000) as u16;
    let exp = ((bits >> 23) & 0xff) as i32;
    let frac = bits & 0x7f_ffff;
    if exp == 0xff {
        return sign | 0x7c00 | if frac != 0 { 0x200 } else { 0 };
    }
    let e = exp - 127 + 15;
    if e >= 0x1f {
        sign | 0x7c00
    } else if e <= 0 {
        sign
    } else {
        sign | ((e as u16) << 10) | ((frac >> 13) as u16)
    }
}
