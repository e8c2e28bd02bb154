//! A command-line MQTT client in the spirit of mosquitto_pub / mosquitto_sub.
//!
//! ```text
//! cargo run --example mqtt -- pub -u mqtt://127.0.0.1:1883 -t T -m M \
//!     [-q 0|1|2] [-r] [--repeat N] [-V 5|311] [-i ID] [-c] [-x EXPIRY] [-D user-property K V]...
//! cargo run --example mqtt -- sub -u ws://127.0.0.1:9002/mqtt -t F \
//!     [-t F]... [-q 0|1|2] [-C COUNT] [-v] [-V 5|311] [-i ID] [-c] [-x EXPIRY]
//! ```
//! `mqtts://host:8883` and `wss://host:443/mqtt` use TLS: `--cafile CA.pem` (required) names the
//! CA certificates to trust, `--cert CERT.pem --key KEY.pem` authenticate the client.
//! `-c` resumes the session (clean start 0) instead of a clean start. Errors are one line on
//! stderr and a non-zero exit.

use std::net::TcpStream;
use std::process::ExitCode;
use std::time::Duration as StdDuration;

use embedded_io::{Read, Write};
use mqtt_ws::io::blocking::Connection;
use mqtt_ws::io::{DriverError, StdIo};
use mqtt_ws::mqtt::client::{
    Client, Config, ConnectOptions, Error, Event, Outgoing, SliceStore, UsageError,
};
use mqtt_ws::mqtt::packet::Subscription;
use mqtt_ws::mqtt::properties::{PropertiesBuilder, Property};
use mqtt_ws::mqtt::{Qos, ReasonCode, Version};
use mqtt_ws::time::{Duration, Instant};
use mqtt_ws::{tls, ws};

#[derive(Default)]
struct Args {
    publish: bool,
    url: String,
    topics: Vec<String>,
    message: String,
    qos: u8,
    retain: bool,
    repeat: usize,
    v311: bool,
    id: String,
    resume: bool,
    expiry: u32,
    user: Vec<(String, String)>,
    count: Option<usize>,
    verbose: bool,
    cafile: Option<String>,
    cert: Option<String>,
    key: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let mut a = Args { repeat: 1, ..Args::default() };
    a.publish = match it.next().as_deref() {
        Some("pub") => true,
        Some("sub") => false,
        _ => return Err("usage: mqtt pub|sub -u URL -t TOPIC ... (see the example's docs)".into()),
    };
    let val = |it: &mut dyn Iterator<Item = String>, flag: &str| {
        it.next().ok_or_else(|| format!("{flag} needs a value"))
    };
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "-u" => a.url = val(&mut it, "-u")?,
            "-t" => a.topics.push(val(&mut it, "-t")?),
            "-m" => a.message = val(&mut it, "-m")?,
            "-q" => a.qos = val(&mut it, "-q")?.parse().map_err(|_| "-q takes 0, 1 or 2")?,
            "-r" => a.retain = true,
            "--repeat" => {
                a.repeat = val(&mut it, "--repeat")?.parse().map_err(|_| "bad --repeat")?
            }
            "-V" => match val(&mut it, "-V")?.as_str() {
                "5" | "mqttv5" => a.v311 = false,
                "311" | "mqttv311" => a.v311 = true,
                v => return Err(format!("unknown protocol version {v}")),
            },
            "-i" => a.id = val(&mut it, "-i")?,
            "-c" => a.resume = true,
            "-x" => a.expiry = val(&mut it, "-x")?.parse().map_err(|_| "bad -x")?,
            "-C" => a.count = Some(val(&mut it, "-C")?.parse().map_err(|_| "bad -C")?),
            "-v" => a.verbose = true,
            "--cafile" => a.cafile = Some(val(&mut it, "--cafile")?),
            "--cert" => a.cert = Some(val(&mut it, "--cert")?),
            "--key" => a.key = Some(val(&mut it, "--key")?),
            "-D" => {
                let (what, k, v) = (val(&mut it, "-D")?, val(&mut it, "-D")?, val(&mut it, "-D")?);
                if what != "user-property" {
                    return Err("-D supports user-property KEY VALUE".into());
                }
                a.user.push((k, v));
            }
            f => return Err(format!("unknown option {f}")),
        }
    }
    if a.url.is_empty() || a.topics.is_empty() {
        return Err("-u URL and -t TOPIC are required".into());
    }
    if a.qos > 2 {
        return Err("-q takes 0, 1 or 2".into());
    }
    Ok(a)
}

fn qos(q: u8) -> Qos {
    Qos::from_u8(q).unwrap_or_default()
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mqtt: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    let (ws, tls, rest) = if let Some(r) = args.url.strip_prefix("mqtt://") {
        (false, false, r)
    } else if let Some(r) = args.url.strip_prefix("ws://") {
        (true, false, r)
    } else if let Some(r) = args.url.strip_prefix("mqtts://") {
        (false, true, r)
    } else if let Some(r) = args.url.strip_prefix("wss://") {
        (true, true, r)
    } else {
        return Err(format!(
            "bad URL {}: use mqtt://host:port, mqtts://host:port, ws://host:port/path or \
             wss://host:port/path",
            args.url
        ));
    };
    let (hostport, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/mqtt"),
    };
    let default_port = match (ws, tls) {
        (false, false) => 1883,
        (false, true) => 8883,
        (true, false) => 80,
        (true, true) => 443,
    };
    let hostport = if hostport.contains(':') {
        hostport.to_string()
    } else {
        format!("{hostport}:{default_port}")
    };
    let tcp =
        TcpStream::connect(&hostport).map_err(|e| format!("cannot connect to {hostport}: {e}"))?;
    tcp.set_read_timeout(Some(StdDuration::from_millis(200))).map_err(|e| e.to_string())?;
    tcp.set_nodelay(true).ok();
    if !tls {
        return if ws {
            over_ws(StdIo(tcp), &hostport, path, &args)
        } else {
            session(StdIo(tcp), &args)
        };
    }
    let read =
        |what: &str, f: &str| std::fs::read(f).map_err(|e| format!("cannot read {what} {f}: {e}"));
    let ca = read("--cafile", args.cafile.as_deref().ok_or("mqtts:// and wss:// need --cafile")?)?;
    let config = match (&args.cert, &args.key) {
        (None, None) => tls::client_config(&ca),
        (Some(c), Some(k)) => {
            tls::client_config_with_auth(&ca, &read("--cert", c)?, &read("--key", k)?)
        }
        _ => return Err("--cert and --key go together".into()),
    }
    .map_err(|e| e.to_string())?;
    let host = hostport.rsplit_once(':').map_or(hostport.as_str(), |(h, _)| h);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let stream =
        tls::TlsStream::connect(config, host, tcp).map_err(|e| format!("{hostport}: {e}"))?;
    if ws { over_ws(stream, &hostport, path, &args) } else { session(stream, &args) }
}

/// The WebSocket opening handshake over `tcp` (plain or TLS), then the MQTT session.
fn over_ws<T: Read + Write>(tcp: T, hostport: &str, path: &str, args: &Args) -> Result<(), String>
where
    T::Error: core::fmt::Debug + core::fmt::Display,
{
    let start = std::time::Instant::now();
    let clock = || Instant::from_millis(start.elapsed().as_millis() as u64);
    let request = ws::handshake::ClientRequest::new(hostport, path).protocols(&["mqtt"]);
    let nonce = mqtt_ws::net::random().map_err(|e| e.to_string())?;
    let hs = ws::handshake::Client::new(request, nonce)
        .map_err(|e| format!("{e:?}"))?
        .with_deadline(clock() + Duration::from_secs(10));
    let (mut rx, mut tx) = (vec![0u8; 4096], vec![0u8; 4096]);
    let mut conn = Connection::new(tcp, hs, &mut rx, &mut tx);
    match conn.handshake(clock) {
        Ok(Some("mqtt")) => {}
        Ok(_) => return Err("the server did not accept the mqtt subprotocol".into()),
        Err(e) => return Err(format!("WebSocket handshake: {e}")),
    }
    let keys = mqtt_ws::net::OsRandom::new().map_err(|e| e.to_string())?;
    let stream = conn.upgrade(ws::connection::Config::new(), keys).into_stream();
    session(stream.map_err(|e| format!("{e:?}"))?, args)
}

fn fail<E: core::fmt::Debug>(e: DriverError<E, Error>) -> String {
    e.to_string()
}

fn session<T: Read + Write>(transport: T, a: &Args) -> Result<(), String>
where
    T::Error: core::fmt::Debug,
{
    let start = std::time::Instant::now();
    let now = || Instant::from_millis(start.elapsed().as_millis() as u64);
    let mut store_buf = vec![0u8; 1 << 20];
    let (mut rx, mut tx) = (vec![0u8; 64 * 1024], vec![0u8; 64 * 1024]);
    let config = Config::new(rx.len());
    let client: Client<SliceStore<'_, 256>, 64> =
        Client::new(SliceStore::new(&mut store_buf), config);
    let mut conn = Connection::new(transport, client, &mut rx, &mut tx);
    let id = if a.id.is_empty() && a.v311 {
        format!("mqtt-ws-{}", std::process::id())
    } else {
        a.id.clone()
    };
    let user: Vec<(&str, &str)> = a.user.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut opts = ConnectOptions::new(&id);
    opts.version = if a.v311 { Version::V3_1_1 } else { Version::V5 };
    opts.clean_start = !a.resume;
    opts.session_expiry = a.expiry;
    opts.keep_alive = 30;
    conn.connect(now(), &opts).map_err(fail)?;
    loop {
        match conn.poll(now()).map_err(fail)? {
            Some(Event::Connected(_)) => break,
            Some(Event::Refused { reason_code: reason, .. }) => {
                return Err(format!(
                    "the broker refused the connection: {reason:?} (0x{:02X})",
                    reason.code()
                ));
            }
            _ if start.elapsed() > StdDuration::from_secs(30) => return Err("no CONNACK".into()),
            _ => {}
        }
    }
    let mut props_buf = vec![0u8; 8192];
    let mut b = PropertiesBuilder::new(&mut props_buf);
    for (k, v) in &user {
        b.push(Property::UserProperty(k, v)).map_err(|e| e.to_string())?;
    }
    let props = b.finish();
    if a.publish {
        let msg = Outgoing::new(&a.topics[0], a.message.as_bytes())
            .qos(qos(a.qos))
            .retain(a.retain)
            .properties(props);
        let (mut sent, mut done) = (0, 0);
        while done < a.repeat {
            if sent < a.repeat {
                match conn.publish(now(), &msg) {
                    Ok(s) => {
                        sent += 1;
                        if s.packet_id.is_none() {
                            done += 1;
                        }
                        continue;
                    }
                    Err(DriverError::Machine(Error::Usage(
                        UsageError::ReceiveMaximumReached | UsageError::StoreFull,
                    ))) => {}
                    Err(e) => return Err(fail(e)),
                }
            }
            match conn.poll(now()).map_err(fail)? {
                Some(Event::Published { reason_code: reason, .. }) => {
                    done += 1;
                    if reason.is_error() {
                        return Err(format!("the broker refused the message: {reason:?}"));
                    }
                }
                Some(Event::Disconnected { reason_code: reason, .. }) => {
                    return Err(format!("the broker disconnected: {reason:?}"));
                }
                _ => {}
            }
        }
    } else {
        let subs: Vec<Subscription<'_>> =
            a.topics.iter().map(|t| Subscription::new(t, qos(a.qos))).collect();
        conn.subscribe(now(), &subs, mqtt_ws::mqtt::properties::Properties::EMPTY).map_err(fail)?;
        let mut received = 0;
        let stdout = std::io::stdout();
        while a.count.is_none_or(|c| received < c) {
            match conn.poll(now()).map_err(fail)? {
                Some(Event::Subscribed { reason_codes, .. }) => {
                    if let Some(bad) = reason_codes.iter().find(|c| c.is_error()) {
                        return Err(format!("subscription refused: {bad:?}"));
                    }
                }
                Some(Event::Message(m)) => {
                    received += 1;
                    let mut out = stdout.lock();
                    use std::io::Write as _;
                    if a.verbose {
                        let _ = write!(out, "{} ", m.topic);
                    }
                    let _ = out.write_all(m.payload);
                    let _ = writeln!(out);
                    let _ = out.flush();
                }
                Some(Event::Disconnected { reason_code: reason, .. }) => {
                    return Err(format!("the broker disconnected: {reason:?}"));
                }
                _ => {}
            }
        }
    }
    // Let the last acknowledgements go out, then say goodbye.
    conn.flush(now()).map_err(fail)?;
    conn.disconnect(
        now(),
        ReasonCode::NormalDisconnection,
        mqtt_ws::mqtt::properties::Properties::EMPTY,
    )
    .map_err(fail)?;
    Ok(())
}
