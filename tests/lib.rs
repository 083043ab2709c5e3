//! Cross-module integration tests live in `tests/`.
