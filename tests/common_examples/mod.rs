//! Shared by the tests that run the examples as programs: an example built once per test
//! binary (`cargo build --example NAME`) and the path of its executable.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Stdio};

/// Builds the example `name` (with the features the test was built with by default: the
/// examples' required ones are default features) and returns its executable.
pub fn build(name: &str) -> PathBuf {
    let mut cargo = Command::new(env!("CARGO"));
    // Without the variables cargo sets for this test: build scripts that watch them (ring's
    // watches CARGO_MANIFEST_DIR) would run again and rebuild their crates.
    for (var, _) in std::env::vars_os() {
        let var = var.to_string_lossy();
        let set_for_tests = ["CARGO_MANIFEST", "CARGO_PKG_", "CARGO_CRATE_", "CARGO_BIN_"]
            .iter()
            .any(|p| var.starts_with(p))
            || ["CARGO_PRIMARY_PACKAGE", "CARGO_TARGET_TMPDIR", "CARGO_RUSTC_CURRENT_DIR"]
                .contains(&var.as_ref());
        if set_for_tests {
            cargo.env_remove(var.as_ref());
        }
    }
    let out = cargo
        .args(["build", "--example", name, "--message-format=json-render-diagnostics"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stderr(Stdio::inherit())
        .output()
        .expect("cargo");
    assert!(out.status.success(), "cargo build --example {name} failed");
    let json = String::from_utf8(out.stdout).unwrap();
    let path = json
        .lines()
        .filter(|l| l.contains(&format!("\"name\":\"{name}\"")) && l.contains("\"example\""))
        .find_map(|l| l.split_once("\"executable\":\"").map(|(_, rest)| rest))
        .and_then(|rest| rest.split('"').next())
        .expect("the example's executable in cargo's output");
    PathBuf::from(path)
}
