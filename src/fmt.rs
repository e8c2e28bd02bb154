//! Logging shim: routes `trace!` .. `error!` to `defmt` when the `defmt` feature is on and to
//! nothing otherwise. With the feature off the arguments are still type-checked, then dropped,
//! so a log line costs no code and no unused-variable warnings.
#![allow(unused_macros)]

#[cfg(feature = "defmt")]
macro_rules! trace {
    ($($arg:tt)*) => { ::defmt::trace!($($arg)*) };
}
#[cfg(feature = "defmt")]
macro_rules! debug {
    ($($arg:tt)*) => { ::defmt::debug!($($arg)*) };
}
#[cfg(feature = "defmt")]
macro_rules! info {
    ($($arg:tt)*) => { ::defmt::info!($($arg)*) };
}
#[cfg(feature = "defmt")]
macro_rules! warn {
    ($($arg:tt)*) => { ::defmt::warn!($($arg)*) };
}
#[cfg(feature = "defmt")]
macro_rules! error {
    ($($arg:tt)*) => { ::defmt::error!($($arg)*) };
}

#[cfg(not(feature = "defmt"))]
macro_rules! discard {
    ($fmt:literal $(, $arg:expr)* $(,)?) => {{
        $( let _ = &$arg; )*
    }};
}
#[cfg(not(feature = "defmt"))]
macro_rules! trace {
    ($($arg:tt)*) => { discard!($($arg)*) };
}
#[cfg(not(feature = "defmt"))]
macro_rules! debug {
    ($($arg:tt)*) => { discard!($($arg)*) };
}
#[cfg(not(feature = "defmt"))]
macro_rules! info {
    ($($arg:tt)*) => { discard!($($arg)*) };
}
#[cfg(not(feature = "defmt"))]
macro_rules! warn {
    ($($arg:tt)*) => { discard!($($arg)*) };
}
#[cfg(not(feature = "defmt"))]
macro_rules! error {
    ($($arg:tt)*) => { discard!($($arg)*) };
}
