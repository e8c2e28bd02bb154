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

use std::process::ExitCode;
use std::time::Duration;

use mqtt_ws::mqtt::client::{self, ConnectOptions, Outgoing, UsageError};
use mqtt_ws::mqtt::packet::Subscription;
use mqtt_ws::mqtt::properties::{Properties, PropertiesBuilder, Property};
use mqtt_ws::mqtt::{Qos, Version};
use mqtt_ws::net::{Error, Event, MqttClient, Options, Url};
use mqtt_ws::tls;

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
    let url = Url::parse(&args.url).map_err(|_| {
        format!(
            "bad URL {}: use mqtt://host:port, mqtts://host:port, ws://host:port/path or \
             wss://host:port/path",
            args.url
        )
    })?;
    let mut settings = Options {
        connect_timeout: Duration::from_secs(30),
        // A lost connection ends the program, as mosquitto_pub does.
        reconnect: None,
        ..Options::default()
    };
    if url.scheme.is_tls() {
        let read = |what: &str, f: &str| {
            std::fs::read(f).map_err(|e| format!("cannot read {what} {f}: {e}"))
        };
        let cafile = args.cafile.as_deref().ok_or("mqtts:// and wss:// need --cafile")?;
        let ca = read("--cafile", cafile)?;
        let config = match (&args.cert, &args.key) {
            (None, None) => tls::client_config(&ca),
            (Some(c), Some(k)) => {
                tls::client_config_with_auth(&ca, &read("--cert", c)?, &read("--key", k)?)
            }
            _ => return Err("--cert and --key go together".into()),
        };
        settings.tls = Some(config.map_err(|e| e.to_string())?);
    }
    let id = if args.id.is_empty() && args.v311 {
        format!("mqtt-ws-{}", std::process::id())
    } else {
        args.id.clone()
    };
    let mut opts = ConnectOptions::new(&id);
    opts.version = if args.v311 { Version::V3_1_1 } else { Version::V5 };
    opts.clean_start = !args.resume;
    opts.session_expiry = args.expiry;
    opts.keep_alive = 30;
    let authority = url.authority();
    let mqtt = MqttClient::connect_with(&args.url, &opts, &settings).map_err(|e| match e {
        Error::Io(e) => format!("cannot connect to {authority}: {e}"),
        Error::Refused(reason) => {
            format!("the broker refused the connection: {reason:?} (0x{:02X})", reason.code())
        }
        Error::Timeout => "no CONNACK".into(),
        Error::Subprotocol => "the server did not accept the mqtt subprotocol".into(),
        Error::Tls(e) => format!("{authority}: {e}"),
        e => format!("{authority}: {}", describe(e)),
    })?;
    session(mqtt, &args)
}

fn session(mut mqtt: MqttClient, a: &Args) -> Result<(), String> {
    let user: Vec<(&str, &str)> = a.user.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
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
                match mqtt.publish(&msg) {
                    Ok(packet_id) => {
                        sent += 1;
                        if packet_id.is_none() {
                            done += 1;
                        }
                        continue;
                    }
                    Err(Error::Mqtt(client::Error::Usage(
                        UsageError::ReceiveMaximumReached | UsageError::StoreFull,
                    ))) => {}
                    Err(e) => return Err(describe(e)),
                }
            }
            match next(&mut mqtt)? {
                Event::Published { reason_code: reason, .. } => {
                    done += 1;
                    if reason.is_error() {
                        return Err(format!("the broker refused the message: {reason:?}"));
                    }
                }
                Event::Disconnected { reason_code: reason } => {
                    return Err(format!("the broker disconnected: {reason:?}"));
                }
                _ => {}
            }
        }
    } else {
        let subs: Vec<Subscription<'_>> =
            a.topics.iter().map(|t| Subscription::new(t, qos(a.qos))).collect();
        mqtt.subscribe_many(&subs, Properties::EMPTY).map_err(describe)?;
        let mut received = 0;
        let stdout = std::io::stdout();
        while a.count.is_none_or(|c| received < c) {
            match next(&mut mqtt)? {
                Event::Subscribed { reason_codes, .. } => {
                    if let Some(bad) = reason_codes.iter().find(|c| c.is_error()) {
                        return Err(format!("subscription refused: {bad:?}"));
                    }
                }
                Event::Message(m) => {
                    received += 1;
                    let mut out = stdout.lock();
                    use std::io::Write as _;
                    if a.verbose {
                        let _ = write!(out, "{} ", m.topic);
                    }
                    let _ = out.write_all(&m.payload);
                    let _ = writeln!(out);
                    let _ = out.flush();
                }
                Event::Disconnected { reason_code: reason } => {
                    return Err(format!("the broker disconnected: {reason:?}"));
                }
                _ => {}
            }
        }
    }
    // Every command went out at once; say goodbye.
    mqtt.disconnect().map_err(describe)
}

/// The next event; the end of the connection is an error.
fn next(mqtt: &mut MqttClient) -> Result<Event, String> {
    match mqtt.next() {
        Ok(Some(event)) => Ok(event),
        Ok(None) => Err(Error::Closed.to_string()),
        Err(e) => Err(describe(e)),
    }
}

/// An error in one line; the session's own without the layer's name.
fn describe(e: Error) -> String {
    match e {
        Error::Mqtt(e) => e.to_string(),
        e => e.to_string(),
    }
}
