//! The example broker configured as Mosquitto is, judged by Mosquitto's own clients: a
//! configuration file with a plain and a TLS listener, `allow_anonymous false`, a password file
//! made by `mosquitto_passwd` and an ACL file; `mosquitto_pub` and `mosquitto_sub` with user
//! names, wrong passwords, denied topics and `--cafile`.
//!
//! `#[ignore]`d: needs `mosquitto_passwd`, `mosquitto_pub`, `mosquitto_sub` and `openssl`
//! (`scripts/test` installs them): `cargo test --test broker_configured -- --ignored`.
#![cfg(all(feature = "mqtt", feature = "ws"))]

#[path = "../examples/broker/mod.rs"]
mod broker;

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} could not run ({e}): install it (scripts/test does)"))
}

/// A throw-away CA and a certificate for 127.0.0.1 / localhost signed by it, in `dir`.
fn certificates(dir: &Path) {
    let d = |f: &str| dir.join(f).to_str().unwrap().to_owned();
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    let ok = |o: Output| assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend(["-days", "2", "-subj", "/CN=test ca", "-keyout"]);
    let (ca_key, ca_pem) = (d("ca.key"), d("ca.pem"));
    ca.extend([ca_key.as_str(), "-out", ca_pem.as_str()]);
    ok(run("openssl", &ca));
    let (key, csr, ext, pem) = (d("server.key"), d("server.csr"), d("server.ext"), d("server.pem"));
    let mut req = vec!["req"];
    req.extend(ec);
    req.extend(["-subj", "/CN=localhost", "-keyout", key.as_str(), "-out", csr.as_str()]);
    ok(run("openssl", &req));
    std::fs::write(
        &ext,
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
         extendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    ok(run(
        "openssl",
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &ca_pem,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            &ext,
            "-out",
            &pem,
        ],
    ));
}

/// A configured broker in this process: a plain and a TLS listener, user `alice` with password
/// `wonderland` (written by `mosquitto_passwd`), an ACL for her; returns the directory with
/// `ca.pem` and the two ports.
fn configured_broker(name: &str) -> (std::path::PathBuf, u16, u16) {
    let dir = std::env::temp_dir().join(format!("mqtt-ws-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    certificates(&dir);
    let passwords = dir.join("passwords");
    let made =
        run("mosquitto_passwd", &["-c", "-b", passwords.to_str().unwrap(), "alice", "wonderland"]);
    assert!(made.status.success());
    std::fs::write(dir.join("acl"), "user alice\ntopic readwrite house/#\ntopic read public/#\n")
        .unwrap();
    let (plain, tls) = (free_port(), free_port());
    let conf = format!(
        "# as a Mosquitto user would write it\n\
         listener {plain} 127.0.0.1\n\
         listener {tls} 127.0.0.1\n\
         certfile server.pem\n\
         keyfile server.key\n\
         allow_anonymous false\n\
         password_file passwords\n\
         acl_file acl\n\
         max_keepalive 60\n"
    );
    let config = broker::config::Config::parse(&conf, &dir).unwrap();
    let configured = broker::setup::configured(&config).unwrap();
    broker::Broker::new(configured.options).start_listeners(&configured.listeners).unwrap();
    (dir, plain, tls)
}

#[test]
#[ignore = "needs mosquitto_passwd, mosquitto_pub, mosquitto_sub and openssl"]
fn mosquitto_clients_with_a_password_file_an_acl_and_tls() {
    let (dir, plain, tls) = configured_broker("configured");
    let (plain, tls) = (plain.to_string(), tls.to_string());
    let ca = dir.join("ca.pem");
    let ca = ca.to_str().unwrap();
    let alice = ["-u", "alice", "-P", "wonderland", "-V", "mqttv5", "-h", "127.0.0.1"];

    // Published (retained) over plain TCP, received over TLS.
    let p = run(
        "mosquitto_pub",
        &[&alice[..], &["-p", &plain, "-t", "house/door", "-m", "open", "-r", "-q", "1"]].concat(),
    );
    assert!(p.status.success(), "{}", String::from_utf8_lossy(&p.stderr));
    let got = run(
        "mosquitto_sub",
        &[&alice[..], &["-p", &tls, "--cafile", ca, "-t", "house/#", "-C", "1", "-W", "20", "-v"]]
            .concat(),
    );
    assert_eq!(String::from_utf8_lossy(&got.stdout).trim(), "house/door open");

    // A wrong password, no user name at all: refused with the reason codes that say so.
    let wrong = run(
        "mosquitto_pub",
        &[
            "-u",
            "alice",
            "-P",
            "rabbit",
            "-V",
            "mqttv5",
            "-h",
            "127.0.0.1",
            "-p",
            &plain,
            "-t",
            "house/x",
            "-m",
            "x",
        ],
    );
    assert!(!wrong.status.success());
    let said = String::from_utf8_lossy(&wrong.stderr).to_lowercase();
    assert!(said.contains("bad user name or password"), "{said}");
    let anonymous = run(
        "mosquitto_pub",
        &["-V", "mqttv5", "-h", "127.0.0.1", "-p", &plain, "-t", "house/x", "-m", "x"],
    );
    assert!(!anonymous.status.success());
    let said = String::from_utf8_lossy(&anonymous.stderr).to_lowercase();
    assert!(said.contains("not authori"), "{said}");

    // The ACL: a subscription beyond what alice may read is denied.
    let denied = run(
        "mosquitto_sub",
        &[&alice[..], &["-p", &plain, "-t", "secret/#", "-C", "1", "-W", "5"]].concat(),
    );
    let said = String::from_utf8_lossy(&denied.stderr).to_lowercase();
    assert!(said.contains("denied"), "{said}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
#[ignore = "needs paho-mqtt (scripts/paho), mosquitto_passwd and openssl"]
fn paho_with_a_user_name_over_tls() {
    let python = std::env::var("PAHO_PYTHON").expect("PAHO_PYTHON unset: run through scripts/paho");
    let (dir, _, tls) = configured_broker("configured-paho");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers/paho_configured.py");
    let ca = dir.join("ca.pem");
    let out = run(
        &python,
        &[script, "localhost", &tls.to_string(), ca.to_str().unwrap(), "alice", "wonderland"],
    );
    let lines = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{lines}{}", String::from_utf8_lossy(&out.stderr));
    assert!(lines.contains("OK tls"), "{lines}");
    assert!(lines.contains("OK refused Bad user name or password"), "{lines}");
    let _ = std::fs::remove_dir_all(&dir);
}
