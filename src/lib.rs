#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]
// Peer input never panics: in the library, indexing that can panic, `unwrap`, `expect` and
// `panic!` are refused by the linter (unit tests may use them).
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

#[cfg(feature = "std")]
extern crate std;

// The logging shim comes first so its macros are visible in every module.
#[macro_use]
mod fmt;

#[cfg(any(feature = "mqtt", feature = "ws"))]
mod buf;

mod machine;
pub mod time;

pub use machine::{BufferTooSmall, Machine, Status};

#[cfg(feature = "mqtt")]
pub mod mqtt;

#[cfg(feature = "ws")]
pub mod ws;

#[cfg(any(feature = "mqtt", feature = "ws"))]
pub mod io;

#[cfg(feature = "tls")]
pub mod tls;
