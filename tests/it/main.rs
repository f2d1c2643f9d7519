//! wgbert's integration tests as one test binary: the engine is linked once, and one GPU
//! context and one GEMM tuning serve every module (`common::kernels`). Each module is one area;
//! `cargo test --test it golden::` runs one, `cargo test --test it -- --list` names them all.
//! The modules that run the `wgbert` binary need the `cli` feature (the default).

#[cfg(feature = "cli")]
mod battery;
mod bge_m3;
mod capi;
mod classify;
#[cfg(feature = "cli")]
mod cli;
mod colbert;
#[cfg(feature = "cli")]
mod commands;
mod common;
mod concurrency;
mod coop;
mod dense;
mod family;
mod fuzz_regressions;
mod golden;
mod gte_jina;
mod head;
#[cfg(feature = "cli")]
mod install;
mod kernels;
mod library;
#[cfg(feature = "cli")]
mod memory;
mod model_errors;
mod modernbert;
mod mpnet;
mod ner;
mod nomic;
mod portability;
mod preprocess;
mod pretraining;
mod prompts;
#[cfg(feature = "cli")]
mod readme;
#[cfg(feature = "cli")]
mod serve;
mod shaders;
mod sparse;
mod torch_files;
mod tune_cache;
