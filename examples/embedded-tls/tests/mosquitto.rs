//! The embedded-tls composition on the host against Mosquitto's TLS listener: the same no_std
//! code a microcontroller runs, over a std `TcpStream` and the operating system's random
//! generator. Run through the main repository's `scripts/broker` (it passes `MQTT_TLS_PORT`,
//! `MQTT_CAFILE` and `MQTT_OTHER_CAFILE`), hence `#[ignore]`d:
//! `scripts/broker cargo test --manifest-path examples/embedded-tls/Cargo.toml -- --ignored`.

use std::net::TcpStream;
use std::process::Command;
use std::time::Instant as StdInstant;

use embedded_io_std::Std;
use mqtt_ws::time::Instant;
use mqtt_ws_embedded_tls::{Buffers, Error, NoClock, Provider, publish_and_receive};
use rand_core::OsRng;

mod embedded_io_std {
    /// A std stream as an `embedded_io` socket.
    pub struct Std<T>(pub T);
    impl<T> embedded_io::ErrorType for Std<T> {
        type Error = std::io::Error;
    }
    impl<T: std::io::Read> embedded_io::Read for Std<T> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.0.read(buf)
        }
    }
    impl<T: std::io::Write> embedded_io::Write for Std<T> {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.write(buf)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            self.0.flush()
        }
    }
}

fn port() -> u16 {
    std::env::var("MQTT_TLS_PORT")
        .expect("MQTT_TLS_PORT is not set: run through scripts/broker")
        .parse()
        .unwrap()
}

/// The CA certificate named by `var` as DER (the verifier takes DER; openssl converts).
fn ca_der(var: &str) -> Vec<u8> {
    let pem = std::env::var(var).unwrap();
    let out = Command::new("openssl")
        .args(["x509", "-outform", "DER", "-in", &pem])
        .output()
        .expect("openssl runs");
    assert!(out.status.success());
    out.stdout
}

fn session(port: u16, ca_var: &str, server_name: &str) -> Result<Vec<u8>, Error> {
    let ca = ca_der(ca_var);
    let socket = Std(TcpStream::connect(("127.0.0.1", port)).unwrap());
    let provider: Provider<'_, _, NoClock> = Provider::new(OsRng, &ca);
    let start = StdInstant::now();
    let now = || Instant::from_millis(start.elapsed().as_millis() as u64);
    let mut bufs = Box::new(Buffers::new());
    let mut out = [0u8; 64];
    let topic = format!("mqttws-embedded-tls-{}", std::process::id());
    let n = publish_and_receive(
        socket,
        provider,
        server_name,
        &format!("{topic}-c"),
        &topic,
        b"over embedded-tls",
        now,
        &mut bufs,
        &mut out,
    )?;
    Ok(out[..n].to_vec())
}

#[test]
#[ignore = "needs Mosquitto: run through scripts/broker"]
fn publishes_and_receives_over_tls() {
    let port = port();
    assert_eq!(session(port, "MQTT_CAFILE", "localhost").unwrap(), b"over embedded-tls");
}

#[test]
#[ignore = "needs Mosquitto: run through scripts/broker"]
fn wrong_ca_is_refused() {
    let port = port();
    match session(port, "MQTT_OTHER_CAFILE", "localhost") {
        Err(Error::Tls(e)) => eprintln!("refused as expected: {e:?}"),
        other => panic!("{other:?}"),
    }
}

#[test]
#[ignore = "needs Mosquitto: run through scripts/broker"]
fn wrong_host_name_is_refused() {
    let port = port();
    match session(port, "MQTT_CAFILE", "broker.example") {
        Err(Error::Tls(e)) => eprintln!("refused as expected: {e:?}"),
        other => panic!("{other:?}"),
    }
}
