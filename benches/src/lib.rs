//! Shared inputs for the benchmarks and cross-checks in this crate: the same packets and frames
//! are fed to mqtt-ws and to the peer implementations it is measured against.
