//! The example broker's Mosquitto-style configuration: the configuration file, the password
//! file written by `mosquitto_passwd` and the ACL file. Their tests live beside the code in
//! `examples/broker/`; this file builds those modules alone, without the rest of the broker.
#![cfg(all(feature = "mqtt", feature = "ws"))]

#[allow(dead_code)]
#[path = "../examples/broker/config.rs"]
mod config;

#[allow(dead_code)]
#[path = "../examples/broker/passwd.rs"]
mod passwd;

#[allow(dead_code)]
#[path = "../examples/broker/acl.rs"]
mod acl;
