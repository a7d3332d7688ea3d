//! The page's parts: small function components that take what they show as `Properties` and
//! report what the visitor does through callbacks; the state lives in `crate::state` alone.

pub mod audit;
pub mod compare;
pub mod concepts;
pub mod controls;
pub mod header;
pub mod models;
pub mod picker;
pub mod result;
pub mod sanity;
