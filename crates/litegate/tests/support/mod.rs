pub mod runtimes;
pub mod tiny_model;
