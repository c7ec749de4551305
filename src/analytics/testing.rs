//! The analytics unit tests read the store's reference implementation: an independent,
//! brute-force oracle for the queries.

pub use crate::store::reference::{day, key, MemCounts};
