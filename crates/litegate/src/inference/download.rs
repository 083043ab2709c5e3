//! Model download (see `ModelCache`).
