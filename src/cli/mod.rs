//! The binary's own modules: input reading, the embedding pipeline, similarity and words.

pub mod embed;
pub mod explore;
pub mod head;
pub mod input;
