//! Stills: the on-disk capture store, its metadata, the preview thumbnail, and the atomic
//! file writes they share.

pub mod atomic;
pub mod captures;
pub mod metadata;
pub mod thumbnail;
