//! The binary's modules: one per command, plus the flags (`args`), what commands share
//! (`common`) and input reading (`input`).

pub mod args;
pub mod bench;
pub mod common;
pub mod embed;
pub mod encode;
pub mod explore;
pub mod fetch;
pub mod head;
pub mod info;
pub mod input;
pub mod ner;
pub mod preprocess;
pub mod pretraining;
pub mod rerank;
pub mod serve;
pub mod shaders;
