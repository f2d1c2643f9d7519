//! The binary's own modules: input reading, the embedding pipeline, similarity and words, heads, reranking.

pub mod embed;
pub mod explore;
pub mod head;
pub mod input;
pub mod rerank;
pub mod serve;
