//! `mqtt pub`, `mqtt sub` and `mqtt rr`: mosquitto_pub, mosquitto_sub and mosquitto_rr, same
//! flags, same output, over MQTT 5.0 or 3.1.1, TCP, TLS and WebSocket.
//!
//! ```text
//! cargo run --example mqtt -- sub -h 127.0.0.1 -p 1883 -t 'home/#' -v
//! cargo run --example mqtt -- sub -L 'ws://127.0.0.1:9002/home/#' -F '%t %q %r %x' -C 1 -W 10
//! cargo run --example mqtt -- pub -L mqtts://user:pass@broker:8883/home/light --cafile ca.pem -m ON
//! cargo run --example mqtt -- pub -t home/log -l -q 1 < lines.txt
//! cargo run --example mqtt -- rr -t services/time -e replies/me -m now -W 5
//! ```
//!
//! The flags are mosquitto's, with their letters and meanings (`mqtt pub --help`,
//! `mqtt sub --help`): a script written for `mosquitto_pub` / `mosquitto_sub` runs with
//! `mqtt pub` / `mqtt sub` in their place, and `sub` prints byte for byte what `mosquitto_sub`
//! prints (plain, `-v`, `-N`, `-F`). Differences: MQTT 5.0 is the default protocol (`-V 311`
//! for 3.1.1); `-L` also takes `ws://` and `wss://` (the WebSocket path is `--ws-path`, `/mqtt`
//! by default, as the URL's path is the topic); `mqtts://` without `--cafile` trusts the
//! system's CA certificates. `mqtt sub` connects again (every second) after a lost connection,
//! as mosquitto_sub does; `mqtt pub` ends. Ctrl-C ends `mqtt sub` and `mqtt rr` with a
//! DISCONNECT (the will is not published). `mqtt rr` needs MQTT 5.0, and also sets Correlation
//! Data on the request (replies with another are skipped). `-d` logs the packets on stderr
//! (mosquitto writes them on stdout), those the client's events show (see `debug.rs`). Errors
//! are one line on stderr and exit status 1 (27 when `-W` runs out, as mosquitto_sub); a broker
//! that breaks the protocol gets a DISCONNECT with the reason code first (MQTT 5.0 §4.13.1),
//! over WebSocket a close frame 1002 too.

use std::io::{BufRead as _, Read as _, Write as _};
use std::num::NonZeroU32;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::{ArgAction, Args, Parser, Subcommand};
use mqtt_ws::io::DriverError;
use mqtt_ws::mqtt::client::{self, ConnectOptions, Outgoing, UsageError};
use mqtt_ws::mqtt::packet::{Subscription, Will};
use mqtt_ws::mqtt::properties::{PayloadFormat, Properties, PropertiesBuilder, Property};
use mqtt_ws::mqtt::{Qos, ReasonCode, Version, topic};
use mqtt_ws::net::{Error, Event, MqttClient, Options, Scheme, Url};
use mqtt_ws::tls;

mod debug;
mod json;
mod output;

use debug::Log;

use output::Shown;

/// The receive buffer of `sub -F` and `rr`: room for the largest packet Mosquitto sends by
/// default (256 MiB), as a format may need the whole payload. It grows to what a message needs.
const SUB_BUFFER: usize = 256 << 20;

/// The receive buffer of `sub` without `-F`: a larger message is written out as it arrives.
const STREAM_BUFFER: usize = 1 << 20;

/// mosquitto_sub's exit status when `-W` runs out (MOSQ_ERR_TIMEOUT).
const EXIT_TIMED_OUT: u8 = 27;

#[derive(Parser)]
#[command(
    name = "mqtt",
    about = "mqtt is a simple MQTT client: `mqtt pub` publishes as mosquitto_pub does, `mqtt sub` \
             subscribes and prints messages as mosquitto_sub does, `mqtt rr` sends a request \
             and prints the reply as mosquitto_rr does.",
    disable_help_flag = true,
    disable_version_flag = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Display this message.
    #[arg(long, action = ArgAction::Help)]
    help: Option<bool>,
}

#[derive(Subcommand)]
enum Command {
    /// Publish a single message (or one per line of stdin, or a file) and exit, as mosquitto_pub.
    #[command(disable_help_flag = true, after_help = PUB_EXAMPLES)]
    Pub(PubArgs),
    /// Subscribe to topics and print the messages received, as mosquitto_sub.
    #[command(disable_help_flag = true, after_help = SUB_EXAMPLES)]
    Sub(SubArgs),
    /// Send a request (MQTT 5.0: Response Topic and Correlation Data set), print the first
    /// reply and exit, as mosquitto_rr.
    #[command(disable_help_flag = true, after_help = RR_EXAMPLES)]
    Rr(RrArgs),
}

const PUB_EXAMPLES: &str = "\
Examples:
  Publish a retained temperature reading at QoS 1:
    mqtt pub -h 127.0.0.1 -t sensors/temperature -m 21.5 -q 1 -r
  Publish each line of a log as a message, over WebSocket:
    tail -f app.log | mqtt pub -L ws://127.0.0.1:9002/logs/app -l
  Publish a file over TLS with a user name and password:
    mqtt pub -L mqtts://alice:secret@broker:8883/firmware --cafile ca.pem -f image.bin
  Clear a retained message:
    mqtt pub -t sensors/temperature -r -n

Exit status: 0 once every message is acknowledged; 1 with one line on stderr when the
connection fails, the broker refuses it (the reason code named) or refuses a message, or
breaks the protocol (answered with a DISCONNECT whose reason code is named).";

const SUB_EXAMPLES: &str = "\
Examples:
  Print every message under home/, with its topic:
    mqtt sub -h 127.0.0.1 -t 'home/#' -v
  Wait at most 10 s for one message and print its payload in hex:
    mqtt sub -t sensors/raw -C 1 -W 10 -F %x
  Print the retained messages under config/ and exit:
    mqtt sub -t 'config/#' --retained-only -v -W 5
  Subscribe over WebSocket with TLS:
    mqtt sub -L 'wss://broker:443/home/#' -v

Exit status: 0 after -C messages, -E, --retained-only or Ctrl-C (which disconnects, so the
will is not published); 27 when -W runs out; 1 with one line on stderr when the connection
fails, the broker refuses it (the reason code named) or ends it, or breaks the protocol
(answered with a DISCONNECT whose reason code is named).";

const RR_EXAMPLES: &str = "\
Examples:
  Ask a service for the time, waiting at most 5 s for its reply:
    mqtt rr -h 127.0.0.1 -t services/time -e replies/me -m now -W 5
  Send a file as the request and print the reply's topic and payload:
    mqtt rr -t convert/png -e replies/me -f image.svg -v

The request carries the response topic and Correlation Data (-D publish correlation-data
VALUE, or a value of its own); the first message on the response topic whose Correlation Data
is absent or the same is the reply. MQTT 5.0 only (3.1.1 has no response topic).

Exit status: 0 once the reply is printed, or after Ctrl-C (which disconnects); 27 when -W runs
out; 1 with one line on stderr when the connection fails or the broker refuses it, the
subscription or the request, or breaks the protocol (answered with a DISCONNECT whose reason
code is named).";

/// Connection, session and will flags, shared by `pub` and `sub`.
#[derive(Args)]
#[command(next_help_heading = "Connection, session and will")]
struct Common {
    /// MQTT host to connect to. Defaults to localhost.
    #[arg(short = 'h', long = "host", value_name = "HOST")]
    host: Option<String>,
    /// Network port to connect to. Defaults to 1883 for plain MQTT and 8883 for MQTT over TLS.
    #[arg(short = 'p', long = "port", value_name = "PORT")]
    port: Option<u16>,
    /// Specify connection parameters as a URL:
    /// mqtt(s)://[username[:password]@]host[:port]/topic, or ws(s)://... for MQTT over WebSocket.
    #[arg(short = 'L', long = "url", value_name = "URL")]
    url: Option<String>,
    /// Provide a username.
    #[arg(short = 'u', long = "username", value_name = "USER")]
    username: Option<String>,
    /// Provide a password.
    #[arg(short = 'P', long = "pw", value_name = "PASS")]
    password: Option<String>,
    /// ID to use for this client. Defaults to an id the broker assigns (MQTT 5.0), or
    /// mqtt-ws- followed by the process id (3.1.1).
    #[arg(short = 'i', long = "id", value_name = "ID")]
    id: Option<String>,
    /// Use an id made of PREFIX followed by the process id.
    #[arg(short = 'I', long = "id-prefix", value_name = "PREFIX", conflicts_with = "id")]
    id_prefix: Option<String>,
    /// Keep alive in seconds for this client.
    #[arg(short = 'k', long = "keepalive", value_name = "KEEPALIVE", default_value_t = 60)]
    keepalive: u16,
    /// Quality of service level to use: for `pub` the messages', for `sub` the subscriptions'.
    #[arg(short = 'q', long = "qos", value_name = "QOS", default_value_t = 0,
          value_parser = clap::value_parser!(u8).range(0..=2))]
    qos: u8,
    /// MQTT protocol version: 5 (or mqttv5) or 311 (or mqttv311).
    #[arg(short = 'V', long = "protocol-version", value_name = "VERSION", default_value = "5",
          value_parser = version)]
    version: Version,
    /// Disable clean session / enable a persistent session: the broker keeps subscriptions
    /// and queues QoS 1 and 2 messages while the client is away. Needs -i.
    #[arg(short = 'c', long = "disable-clean-session")]
    persistent: bool,
    /// Session expiry interval in seconds (MQTT 5.0): -1, 4294967295 or ∞ for a session that
    /// does not expire. Defaults to -1 with -c, 0 otherwise.
    #[arg(short = 'x', long = "session-expiry-interval", value_name = "EXPIRY",
          value_parser = expiry)]
    expiry: Option<u32>,
    /// The topic of the will, published by the broker if this client disconnects unexpectedly.
    #[arg(long = "will-topic", value_name = "TOPIC")]
    will_topic: Option<String>,
    /// The payload of the will. Defaults to an empty payload.
    #[arg(long = "will-payload", value_name = "PAYLOAD", requires = "will_topic")]
    will_payload: Option<String>,
    /// QoS of the will.
    #[arg(long = "will-qos", value_name = "QOS", default_value_t = 0,
          value_parser = clap::value_parser!(u8).range(0..=2))]
    will_qos: u8,
    /// The broker retains the will.
    #[arg(long = "will-retain", requires = "will_topic")]
    will_retain: bool,
    /// Path to a file of PEM encoded CA certificates trusted to sign the broker's certificate.
    /// Turns TLS on (mqtts, port 8883 by default).
    #[arg(long = "cafile", value_name = "FILE")]
    cafile: Option<String>,
    /// Path to a directory of PEM encoded CA certificates (as `openssl rehash` keeps them, or
    /// any files: every certificate in the directory's files is trusted). Turns TLS on.
    #[arg(long = "capath", value_name = "DIR")]
    capath: Option<String>,
    /// Client certificate (PEM) for authentication, with --key.
    #[arg(long = "cert", value_name = "FILE", requires = "key")]
    cert: Option<String>,
    /// Client private key (PEM) for authentication, with --cert.
    #[arg(long = "key", value_name = "FILE", requires = "cert")]
    key: Option<String>,
    /// Do not check that the broker certificate's hostname matches the host connected to
    /// (the certificate must still be signed by a trusted CA). Only for testing.
    #[arg(long = "insecure")]
    insecure: bool,
    /// The HTTP path of a ws:// or wss:// connection.
    #[arg(long = "ws-path", value_name = "PATH", default_value = "/mqtt")]
    ws_path: String,
    /// MQTT 5.0 property: -D COMMAND PROPERTY VALUE, user-property with NAME VALUE. connect:
    /// user-property; publish: user-property, content-type, correlation-data,
    /// message-expiry-interval, payload-format-indicator, response-topic; subscribe:
    /// user-property, subscription-identifier. May be repeated.
    #[arg(short = 'D', long = "property", num_args = 3..=4, action = ArgAction::Append,
          value_names = ["COMMAND", "PROPERTY", "VALUE"])]
    property: Vec<String>,
    /// Don't print error messages.
    #[arg(long = "quiet")]
    quiet: bool,
    /// Print the packets sent and received on stderr, as mosquitto's -d does.
    #[arg(short = 'd', long = "debug")]
    debug: bool,
    /// Display this message.
    #[arg(long, action = ArgAction::Help)]
    help: Option<bool>,
}

#[derive(Args)]
struct PubArgs {
    /// MQTT topic to publish to.
    #[arg(short = 't', long = "topic", value_name = "TOPIC")]
    topic: Option<String>,
    /// Message payload to send.
    #[arg(short = 'm', long = "message", value_name = "MESSAGE", group = "payload")]
    message: Option<String>,
    /// Send the contents of a file as the message (read as it is sent: any size, in bounded
    /// memory).
    #[arg(short = 'f', long = "file", value_name = "FILE", group = "payload")]
    file: Option<String>,
    /// Read messages from stdin, sending a separate message for each line.
    #[arg(short = 'l', long = "stdin-line", group = "payload")]
    lines: bool,
    /// Send a null (zero length) message.
    #[arg(short = 'n', long = "null-message", group = "payload")]
    null: bool,
    /// Read the whole of stdin and send it as a single message.
    #[arg(short = 's', long = "stdin-file", group = "payload")]
    stdin: bool,
    /// Message should be retained.
    #[arg(short = 'r', long = "retain")]
    retain: bool,
    /// Publish the message COUNT times (not with -l).
    #[arg(long = "repeat", value_name = "COUNT", default_value_t = 1)]
    repeat: u32,
    /// Seconds to wait between --repeat messages (decimals allowed).
    #[arg(long = "repeat-delay", value_name = "SECONDS", default_value_t = 0.0)]
    repeat_delay: f64,
    #[command(flatten)]
    common: Common,
}

#[derive(Args)]
struct SubArgs {
    /// MQTT topic filter to subscribe to. May be repeated.
    #[arg(short = 't', long = "topic", value_name = "TOPIC")]
    topics: Vec<String>,
    /// Topic filter whose messages are not printed. May be repeated.
    #[arg(short = 'T', long = "filter-out", value_name = "FILTER")]
    filter_out: Vec<String>,
    /// Disconnect and exit after receiving COUNT messages.
    #[arg(short = 'C', value_name = "COUNT")]
    count: Option<u64>,
    /// Disconnect and exit (status 27) after SECONDS if no -C count was reached.
    #[arg(short = 'W', value_name = "SECONDS")]
    timeout: Option<u64>,
    #[command(flatten)]
    print: Print,
    /// Only print retained messages; exit at the first one that is not.
    #[arg(long = "retained-only")]
    retained_only: bool,
    /// Exit once all subscriptions are acknowledged by the broker.
    #[arg(short = 'E')]
    exit_after_subscribe: bool,
    /// Unsubscribe from this topic filter (of a persistent session, with -c) after
    /// subscribing to the -t ones; alone, exit once the broker acknowledges. May be repeated.
    #[arg(short = 'U', long = "unsubscribe", value_name = "TOPIC")]
    unsubscribe: Vec<String>,
    /// Clear every retained message received (publish an empty retained message to its
    /// topic), except those -R or -T leave out.
    #[arg(long = "remove-retained")]
    remove_retained: bool,
    #[command(flatten)]
    common: Common,
}

/// How received messages are printed, shared by `sub` and `rr`.
#[derive(Args)]
struct Print {
    /// Print received messages verbosely: the topic, a space, the payload.
    #[arg(short = 'v', long = "verbose")]
    verbose: bool,
    /// Do not add an end of line character when printing the payload.
    #[arg(short = 'N')]
    no_eol: bool,
    /// Print messages as FORMAT says: %t topic, %p payload, %q QoS, %r retain flag, %l payload
    /// length, %m message id, %x / %X payload in lower / upper case hex, %% a percent sign;
    /// MQTT 5.0 properties %A topic alias, %C content type, %D correlation data, %E message
    /// expiry interval, %F payload format indicator, %P user properties (name:value ...), %R
    /// response topic, %S subscription identifier; the time received: %I ISO-8601 local time,
    /// %U Unix time seconds.nanoseconds, @ and a strftime letter (@Y, @m, @d, @H, @M, @S, @z,
    /// @Z, ...; @N nanoseconds, @@ an @); %j the message as JSON, %J the same with a JSON
    /// payload as JSON; printf's -, 0, width and .precision; \n, \t, \r, \\, \0, \a, \e, \v
    /// escapes; an end of line follows unless -N.
    #[arg(short = 'F', value_name = "FORMAT")]
    format: Option<String>,
    /// Do not print stale messages (those with the retain flag set).
    #[arg(short = 'R')]
    no_retained: bool,
}

#[derive(Args)]
struct RrArgs {
    /// MQTT topic to send the request to.
    #[arg(short = 't', long = "topic", value_name = "TOPIC")]
    topic: Option<String>,
    /// Response topic: subscribed to before the request goes out, and named in it (with
    /// Correlation Data) for the responder to publish its reply to.
    #[arg(short = 'e', long = "response-topic", value_name = "TOPIC", required = true)]
    response_topic: String,
    /// Request payload to send.
    #[arg(short = 'm', long = "message", value_name = "MESSAGE", group = "payload")]
    message: Option<String>,
    /// Send the contents of a file as the request.
    #[arg(short = 'f', long = "file", value_name = "FILE", group = "payload")]
    file: Option<String>,
    /// Send a null (zero length) request.
    #[arg(short = 'n', long = "null-message", group = "payload")]
    null: bool,
    /// Read the whole of stdin and send it as the request.
    #[arg(short = 's', long = "stdin-file", group = "payload")]
    stdin: bool,
    /// Give up (status 27) after SECONDS without a reply.
    #[arg(short = 'W', value_name = "SECONDS")]
    timeout: Option<u64>,
    #[command(flatten)]
    print: Print,
    #[command(flatten)]
    common: Common,
}

fn version(v: &str) -> Result<Version, String> {
    match v {
        "5" | "mqttv5" => Ok(Version::V5),
        "311" | "mqttv311" => Ok(Version::V3_1_1),
        "31" | "mqttv31" => Err("MQTT 3.1 is not supported: use 5 or 311".into()),
        _ => Err("use 5, mqttv5, 311 or mqttv311".into()),
    }
}

fn expiry(v: &str) -> Result<u32, String> {
    match v {
        "-1" | "∞" => Ok(u32::MAX),
        v => v.parse().map_err(|_| "a number of seconds, -1 or ∞".to_string()),
    }
}

/// A failure: its one line, and the exit status.
struct Failure(String, u8);

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Failure(message, 1)
    }
}

impl From<&str> for Failure {
    fn from(message: &str) -> Self {
        Failure(message.into(), 1)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let quiet = match &cli.command {
        Command::Pub(a) => a.common.quiet,
        Command::Sub(a) => a.common.quiet,
        Command::Rr(a) => a.common.quiet,
    };
    let result = match cli.command {
        Command::Pub(a) => publish(a),
        Command::Sub(a) => subscribe(a),
        Command::Rr(a) => request(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(message, status)) => {
            if !quiet {
                eprintln!("mqtt: {message}");
            }
            ExitCode::from(status)
        }
    }
}

/// Where to connect, with what: the flags made into a URL, options and settings.
struct Target {
    /// The URL connected to (credentials and topic taken out).
    url: String,
    /// The topic of `-L`'s path, if any.
    topic: Option<String>,
    username: Option<String>,
    password: Option<String>,
    settings: Options,
}

fn target(c: &Common) -> Result<Target, Failure> {
    let (mut username, mut password) = (None, None);
    let tls_asked = c.cafile.is_some() || c.capath.is_some() || c.cert.is_some() || c.insecure;
    let (scheme, host, port, topic) = match &c.url {
        Some(url) => {
            if c.host.is_some() || c.port.is_some() {
                return Err("-L cannot be combined with -h or -p".into());
            }
            // As mosquitto's -L: the path is the topic (taken as written: `#` included).
            let (scheme, rest) = url.split_once("://").ok_or(format!("bad URL {url}"))?;
            let (authority, topic) = match rest.split_once('/') {
                Some((a, t)) => (a, Some(t.to_string()).filter(|t| !t.is_empty())),
                None => (rest, None),
            };
            let (userinfo, hostport) = match authority.rsplit_once('@') {
                Some((u, h)) => (Some(u), h),
                None => (None, authority),
            };
            if let Some(u) = userinfo {
                let (u, p) = u.split_once(':').map_or((u, None), |(u, p)| (u, Some(p)));
                username = Some(u.to_string());
                password = p.map(str::to_string);
            }
            let bare = format!("{scheme}://{hostport}");
            let parsed = Url::parse(&bare).map_err(|e| format!("bad URL {url}: {e}"))?;
            (parsed.scheme, parsed.host.to_string(), parsed.port, topic)
        }
        None => {
            let scheme = if tls_asked { Scheme::Mqtts } else { Scheme::Mqtt };
            let host = c.host.clone().unwrap_or_else(|| "localhost".into());
            (scheme, host, c.port.unwrap_or(scheme.default_port()), None)
        }
    };
    if c.username.is_some() {
        username.clone_from(&c.username);
    }
    if c.password.is_some() {
        password.clone_from(&c.password);
    }
    let name = match scheme {
        Scheme::Mqtt => "mqtt",
        Scheme::Mqtts => "mqtts",
        Scheme::Ws => "ws",
        Scheme::Wss => "wss",
    };
    let host = if host.contains(':') { format!("[{host}]") } else { host };
    let path = if scheme.is_websocket() { c.ws_path.as_str() } else { "" };
    let url = format!("{name}://{host}:{port}{path}");
    let mut settings = Options {
        connect_timeout: Duration::from_secs(30),
        // A lost connection ends mosquitto_pub; mosquitto_sub connects again (see `reconnect`).
        reconnect: None,
        ..Options::default()
    };
    if scheme.is_tls() {
        settings.tls = tls_config(c)?;
    } else if tls_asked {
        let flags = "--cafile, --capath, --cert and --insecure";
        return Err(format!("{flags} need TLS: {name}:// is not").into());
    }
    Ok(Target { url, topic, username, password, settings })
}

/// The TLS configuration the flags ask for; `None`: the system's CA certificates.
fn tls_config(c: &Common) -> Result<Option<Arc<tls::rustls::ClientConfig>>, Failure> {
    let read = |what: &str, f: &str| -> Result<Vec<u8>, Failure> {
        std::fs::read(f).map_err(|e| format!("cannot read {what} {f}: {e}").into())
    };
    if c.cafile.is_none() && c.capath.is_none() {
        if c.cert.is_some() || c.insecure {
            return Err("--cert and --insecure need --cafile or --capath".into());
        }
        return Ok(None);
    }
    let mut ca = match &c.cafile {
        Some(cafile) => read("--cafile", cafile)?,
        None => Vec::new(),
    };
    if let Some(dir) = &c.capath {
        ca.extend(ca_dir(dir)?);
    }
    let config = match (&c.cert, &c.key) {
        (Some(cert), Some(key)) => {
            tls::client_config_with_auth(&ca, &read("--cert", cert)?, &read("--key", key)?)
        }
        _ => tls::client_config(&ca),
    };
    let config = config.map_err(|e| format!("TLS: {e}"))?;
    if !c.insecure {
        return Ok(Some(config));
    }
    let verifier = insecure::verifier(&ca).map_err(|e| format!("TLS: {e}"))?;
    let mut config = (*config).clone();
    config.dangerous().set_certificate_verifier(verifier);
    Ok(Some(Arc::new(config)))
}

/// The PEM certificates in the files of `dir` (`--capath`), in file name order; files that hold
/// none (an index, a CRL) are passed over.
fn ca_dir(dir: &str) -> Result<Vec<u8>, Failure> {
    let cannot = |e: std::io::Error| format!("cannot read --capath {dir}: {e}");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(cannot)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(cannot)?;
    files.sort();
    let mut pem = Vec::new();
    for file in files.iter().filter(|f| f.is_file()) {
        let bytes = std::fs::read(file).map_err(cannot)?;
        if bytes.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") {
            pem.extend_from_slice(&bytes);
            pem.push(b'\n');
        }
    }
    if pem.is_empty() {
        return Err(format!("no PEM certificate in --capath {dir}").into());
    }
    Ok(pem)
}

/// `--insecure`: the CA chain is checked, the host name is not.
mod insecure {
    use std::sync::Arc;

    use mqtt_ws::tls::rustls;
    use rustls::client::WebPkiServerVerifier;
    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};

    #[derive(Debug)]
    struct AnyName(Arc<WebPkiServerVerifier>);

    pub(super) fn verifier(ca_pem: &[u8]) -> Result<Arc<dyn ServerCertVerifier>, String> {
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(ca_pem) {
            roots.add(cert.map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Arc::new(AnyName(inner)))
    }

    impl ServerCertVerifier for AnyName {
        fn verify_server_cert(
            &self,
            end_entity: &CertificateDer<'_>,
            intermediates: &[CertificateDer<'_>],
            server_name: &ServerName<'_>,
            ocsp_response: &[u8],
            now: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            let verified = self.0.verify_server_cert(
                end_entity,
                intermediates,
                server_name,
                ocsp_response,
                now,
            );
            match verified {
                Err(rustls::Error::InvalidCertificate(
                    CertificateError::NotValidForName
                    | CertificateError::NotValidForNameContext { .. },
                )) => Ok(ServerCertVerified::assertion()),
                other => other,
            }
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            self.0.verify_tls12_signature(message, cert, dss)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            self.0.verify_tls13_signature(message, cert, dss)
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.0.supported_verify_schemes()
        }
    }
}

/// The `-D` properties for `command` (connect, publish, subscribe), as (name, values).
fn d_properties<'a>(c: &'a Common, command: &str) -> Result<Vec<(&'a str, Vec<&'a str>)>, Failure> {
    let mut out = Vec::new();
    let all: Vec<&str> = c.property.iter().map(String::as_str).collect();
    // clap hands the values of every -D in one list: take them a property at a time. The
    // command may be left out: `-D user-property NAME VALUE` is for PUBLISH.
    let mut rest = all.as_slice();
    while !rest.is_empty() {
        let (cmd, prop) = match rest {
            ["user-property", ..] => ("publish", rest),
            [cmd, prop @ ..] => (*cmd, prop),
            [] => break,
        };
        let known: &[&str] = match cmd {
            "connect" => &["user-property"],
            "publish" => &[
                "user-property",
                "content-type",
                "correlation-data",
                "message-expiry-interval",
                "payload-format-indicator",
                "response-topic",
            ],
            "subscribe" => &["user-property", "subscription-identifier"],
            _ => return Err(format!("-D {cmd}: use connect, publish or subscribe").into()),
        };
        let (name, values, tail) = match prop {
            ["user-property", k, v, tail @ ..] => ("user-property", vec![*k, *v], tail),
            [name, v, tail @ ..] if *name != "user-property" => (*name, vec![*v], tail),
            _ => return Err("-D COMMAND PROPERTY VALUE (user-property: NAME VALUE)".into()),
        };
        if !known.contains(&name) {
            return Err(format!("-D {cmd} {name}: use one of {}", known.join(", ")).into());
        }
        if cmd == command {
            out.push((name, values));
        }
        rest = tail;
    }
    Ok(out)
}

/// The user properties of `-D` for `command`.
fn user_properties<'a>(c: &'a Common, command: &str) -> Result<Vec<(&'a str, &'a str)>, Failure> {
    Ok(d_properties(c, command)?
        .into_iter()
        .filter_map(|(name, v)| match (name, v.as_slice()) {
            ("user-property", [k, v]) => Some((*k, *v)),
            _ => None,
        })
        .collect())
}

/// The PUBLISH or SUBSCRIBE properties of `-D` for `command`, after `extra` (which replace the
/// `-D` ones of the same kind).
fn properties<'b>(
    buf: &'b mut Vec<u8>,
    c: &'b Common,
    command: &str,
    extra: &[Property<'_>],
) -> Result<Properties<'b>, Failure> {
    let list = d_properties(c, command)?;
    let len: usize = list.iter().flat_map(|(_, v)| v).map(|v| v.len() + 8).sum();
    let extra_len: usize = extra.iter().map(|p| property_len(p) + 8).sum();
    buf.resize(len + extra_len + 8, 0);
    let mut b = PropertiesBuilder::new(buf);
    for p in extra {
        b.push(*p).map_err(|e| format!("{command} properties: {e}"))?;
    }
    let number = |name: &str, v: &str| -> Result<u32, Failure> {
        v.parse().map_err(|_| format!("-D {command} {name}: {v} is not a number").into())
    };
    for (name, v) in &list {
        let property = match (*name, v.as_slice()) {
            ("user-property", [k, v]) => Property::UserProperty(k, v),
            ("content-type", [v]) => Property::ContentType(v),
            ("correlation-data", [v]) => Property::CorrelationData(v.as_bytes()),
            ("response-topic", [v]) => Property::ResponseTopic(v),
            ("message-expiry-interval", [v]) => Property::MessageExpiryInterval(number(name, v)?),
            ("payload-format-indicator", [v]) => {
                Property::PayloadFormatIndicator(match number(name, v)? {
                    0 => PayloadFormat::Unspecified,
                    1 => PayloadFormat::Utf8,
                    _ => return Err(format!("-D {command} {name}: 0 or 1").into()),
                })
            }
            ("subscription-identifier", [v]) => Property::SubscriptionIdentifier(
                NonZeroU32::new(number(name, v)?)
                    .ok_or(format!("-D {command} {name}: 1 or more"))?,
            ),
            _ => continue,
        };
        if extra.iter().any(|p| p.id() == property.id()) {
            continue;
        }
        b.push(property).map_err(|e| format!("-D {command} {name}: {e}"))?;
    }
    Ok(b.finish())
}

/// The bytes of a property's strings and data (its encoding needs a few more).
fn property_len(p: &Property<'_>) -> usize {
    match p {
        Property::ContentType(s) | Property::ResponseTopic(s) => s.len(),
        Property::CorrelationData(d) => d.len(),
        Property::UserProperty(k, v) => k.len() + v.len(),
        _ => 0,
    }
}

/// Connects as the common flags say.
fn connect(
    c: &Common,
    t: &Target,
    buffer_len: usize,
    log: &mut Log,
) -> Result<MqttClient, Failure> {
    dial(c, t, buffer_len, log)?.map_err(|e| connect_failure(e, t))
}

/// A failed connection in one line.
fn connect_failure(e: Error, t: &Target) -> Failure {
    let where_ = t.url.split_once("://").map_or(t.url.as_str(), |(_, rest)| rest);
    match e {
        Error::Io(e) => format!("cannot connect to {where_}: {e}"),
        Error::Refused(reason) => {
            format!("connection refused by the broker: {reason:?} (0x{:02X})", reason.code())
        }
        Error::Timeout => format!("{where_}: no answer within 30 s"),
        Error::Tls(e) => format!("{where_}: {e}"),
        e => format!("{where_}: {}", describe(e)),
    }
    .into()
}

/// Connects as the common flags say: a failure of the flags, or the connection's result.
fn dial(
    c: &Common,
    t: &Target,
    buffer_len: usize,
    log: &mut Log,
) -> Result<Result<MqttClient, Error>, Failure> {
    let v5 = c.version == Version::V5;
    let id = client_id(c)?;
    if !v5 && (c.expiry.is_some() || !c.property.is_empty()) {
        return Err("-x and -D need MQTT 5.0 (-V 5)".into());
    }
    let connect_user = user_properties(c, "connect")?;
    let mut opts = ConnectOptions::new(&id);
    opts.version = c.version;
    opts.clean_start = !c.persistent;
    opts.keep_alive = c.keepalive;
    opts.session_expiry = match c.expiry {
        Some(x) => x,
        None if c.persistent && v5 => u32::MAX,
        None => 0,
    };
    opts.username = t.username.as_deref();
    opts.password = t.password.as_deref().map(str::as_bytes);
    opts.user_properties = &connect_user;
    opts.will = c.will_topic.as_deref().map(|topic| Will {
        qos: qos(c.will_qos),
        retain: c.will_retain,
        properties: Properties::EMPTY,
        topic,
        payload: c.will_payload.as_deref().unwrap_or_default().as_bytes(),
    });
    let mut settings = t.settings.clone();
    settings.buffer_len = settings.buffer_len.max(buffer_len);
    // Room to keep a QoS 1 or 2 message of that size until it is acknowledged.
    settings.store_len = settings.store_len.max(buffer_len + 1024);
    log.connect();
    let connected = MqttClient::connect_with(&t.url, &opts, &settings);
    match &connected {
        Ok(mqtt) => {
            // As mosquitto's log: the id the broker assigned names the lines from CONNACK on.
            log.name(mqtt.client_id());
            log.connack(0);
        }
        Err(Error::Refused(reason)) => log.connack(reason.code()),
        Err(_) => {}
    }
    Ok(connected)
}

/// The client id the flags give; empty for one the broker assigns (MQTT 5.0).
fn client_id(c: &Common) -> Result<String, Failure> {
    Ok(match (&c.id, &c.id_prefix) {
        (Some(id), _) => id.clone(),
        (None, Some(prefix)) => format!("{prefix}{}", std::process::id()),
        (None, None) if c.persistent => {
            return Err("-c needs a client id: give one with -i or -I".into());
        }
        (None, None) if c.version == Version::V5 => String::new(),
        (None, None) => format!("mqtt-ws-{}", std::process::id()),
    })
}

/// The `-d` log of these flags.
fn log(c: &Common) -> Result<Log, Failure> {
    Ok(Log::new(c.debug, &client_id(c)?))
}

fn qos(q: u8) -> Qos {
    Qos::from_u8(q).unwrap_or_default()
}

fn publish(a: PubArgs) -> Result<(), Failure> {
    let c = &a.common;
    let t = target(c)?;
    let topic = a.topic.clone().or_else(|| t.topic.clone()).ok_or("-t TOPIC is required")?;
    // The payload, read before connecting (a missing file is no reason to connect). A file is
    // only opened here: it is streamed, in bounded memory whatever its size.
    let file = match &a.file {
        Some(f) => Some(PayloadFile::open(f)?),
        None => None,
    };
    let payload = read_payload(&a.message, &None, a.null, a.stdin)?;
    if payload.is_none() && file.is_none() && !a.lines {
        return Err("a message is required: -m, -f, -l, -n or -s".into());
    }
    let mut props_buf = Vec::new();
    let props = properties(&mut props_buf, c, "publish", &[])?;
    let room = payload.as_ref().map_or(0, Vec::len) + topic.len() + props.as_bytes().len() + 1024;
    let mut log = log(c)?;
    let mut mqtt = connect(c, &t, room, &mut log)?;
    let mut pending = 0usize;
    let base = Outgoing::new(&topic, &[]).qos(qos(c.qos)).retain(a.retain).properties(props);
    match payload {
        None if file.is_some() => {
            let file = file.as_ref().ok_or("no file")?;
            for i in 0..a.repeat {
                if i > 0 && a.repeat_delay > 0.0 {
                    let delay = Duration::from_secs_f64(a.repeat_delay);
                    wait(&mut mqtt, delay, &mut pending, &mut log)?;
                }
                send_file(&mut mqtt, &base, file, &mut pending, &mut log)?;
            }
        }
        Some(payload) => {
            for i in 0..a.repeat {
                if i > 0 && a.repeat_delay > 0.0 {
                    wait(
                        &mut mqtt,
                        Duration::from_secs_f64(a.repeat_delay),
                        &mut pending,
                        &mut log,
                    )?;
                }
                send(&mut mqtt, &Outgoing { payload: &payload, ..base }, &mut pending, &mut log)?;
            }
        }
        None => {
            // Lines are read on a thread, so the keep-alive runs while stdin is quiet.
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let mut stdin = std::io::stdin().lock();
                loop {
                    let mut line = Vec::new();
                    match stdin.read_until(b'\n', &mut line) {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {
                            if line.last() == Some(&b'\n') {
                                line.pop();
                            }
                            if tx.send(line).is_err() {
                                break;
                            }
                        }
                    }
                }
            });
            loop {
                match rx.try_recv() {
                    Ok(line) => send(
                        &mut mqtt,
                        &Outgoing { payload: &line, ..base },
                        &mut pending,
                        &mut log,
                    )?,
                    Err(std::sync::mpsc::TryRecvError::Disconnected) => break,
                    Err(std::sync::mpsc::TryRecvError::Empty) => {
                        wait(&mut mqtt, Duration::from_millis(50), &mut pending, &mut log)?;
                    }
                }
            }
        }
    }
    while pending > 0 {
        on_publish_event(next(&mut mqtt)?, &mut pending, &mut log)?;
    }
    log.disconnect();
    mqtt.disconnect().map_err(|e| describe(e).into())
}

/// The payload of `-m`, `-f`, `-n` or `-s`; `None` without one of them.
fn read_payload(
    message: &Option<String>,
    file: &Option<String>,
    null: bool,
    stdin: bool,
) -> Result<Option<Vec<u8>>, Failure> {
    Ok(if let Some(m) = message {
        Some(m.clone().into_bytes())
    } else if let Some(f) = file {
        Some(std::fs::read(f).map_err(|e| format!("cannot read {f}: {e}"))?)
    } else if null {
        Some(Vec::new())
    } else if stdin {
        let mut all = Vec::new();
        std::io::stdin().read_to_end(&mut all).map_err(|e| format!("stdin: {e}"))?;
        Some(all)
    } else {
        None
    })
}

/// A file to publish: its path and length, read again for each message.
struct PayloadFile {
    path: String,
    len: usize,
}

impl PayloadFile {
    fn open(path: &str) -> Result<Self, Failure> {
        let meta = std::fs::metadata(path).map_err(|e| format!("cannot read {path}: {e}"))?;
        if !meta.is_file() {
            return Err(format!("cannot read {path}: not a file").into());
        }
        let len = usize::try_from(meta.len()).map_err(|_| format!("{path}: too large"))?;
        Ok(PayloadFile { path: path.to_owned(), len })
    }
}

/// Publishes `file` as the payload of `message`, streamed from the file (see `send`).
fn send_file(
    mqtt: &mut MqttClient,
    message: &Outgoing<'_>,
    file: &PayloadFile,
    pending: &mut usize,
    log: &mut Log,
) -> Result<(), Failure> {
    loop {
        let reader = std::fs::File::open(&file.path)
            .map_err(|e| format!("cannot read {}: {e}", file.path))?;
        let sent = mqtt.publish_from(message, file.len, reader);
        if let Ok(packet_id) = sent {
            let flags = (message.qos as u8, message.retain);
            log.publish(packet_id, flags, message.topic, file.len);
        }
        match sent {
            Ok(Some(_)) => {
                *pending += 1;
                return Ok(());
            }
            Ok(None) => return Ok(()),
            Err(e) if *pending == 0 => return Err(describe(e).into()),
            Err(Error::Mqtt(client::Error::Usage(
                UsageError::ReceiveMaximumReached
                | UsageError::StoreFull
                | UsageError::StreamAwaitingAck,
            ))) => on_publish_event(next(mqtt)?, pending, log)?,
            Err(e) => return Err(describe(e).into()),
        }
    }
}

/// Publishes `message`, waiting for acknowledgements while the broker's receive maximum is
/// reached; counts QoS 1 and 2 messages awaiting theirs in `pending`.
fn send(
    mqtt: &mut MqttClient,
    message: &Outgoing<'_>,
    pending: &mut usize,
    log: &mut Log,
) -> Result<(), Failure> {
    loop {
        let sent = mqtt.publish(message);
        if let Ok(packet_id) = sent {
            let flags = (message.qos as u8, message.retain);
            log.publish(packet_id, flags, message.topic, message.payload.len());
        }
        match sent {
            Ok(Some(_)) => {
                *pending += 1;
                return Ok(());
            }
            Ok(None) => return Ok(()),
            // Nothing in flight would make room: it can never go out.
            Err(e) if *pending == 0 => return Err(describe(e).into()),
            Err(Error::Mqtt(client::Error::Usage(
                UsageError::ReceiveMaximumReached | UsageError::StoreFull,
            ))) => on_publish_event(next(mqtt)?, pending, log)?,
            Err(e) => return Err(describe(e).into()),
        }
    }
}

/// Handles the broker's events for `duration`.
fn wait(
    mqtt: &mut MqttClient,
    duration: Duration,
    pending: &mut usize,
    log: &mut Log,
) -> Result<(), Failure> {
    let deadline = Instant::now() + duration;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match mqtt.next_timeout(left) {
            Ok(Some(event)) => on_publish_event(event, pending, log)?,
            Ok(None) => return Err(describe(Error::Closed).into()),
            Err(Error::Timeout) => break,
            Err(e) => return Err(describe(e).into()),
        }
    }
    Ok(())
}

fn on_publish_event(event: Event, pending: &mut usize, log: &mut Log) -> Result<(), Failure> {
    match event {
        Event::Published { packet_id, reason_code } => {
            log.published(packet_id, reason_code);
            *pending = pending.saturating_sub(1);
            if reason_code.is_error() {
                return Err(reason("the broker refused the message", reason_code).into());
            }
        }
        Event::Disconnected { reason_code } => {
            log.disconnected(reason_code);
            return Err(reason("the broker disconnected", reason_code).into());
        }
        _ => {}
    }
    Ok(())
}

fn reason(what: &str, r: ReasonCode) -> String {
    format!("{what}: {r:?} (0x{:02X})", r.code())
}

fn subscribe(a: SubArgs) -> Result<(), Failure> {
    let c = &a.common;
    let mut t = target(c)?;
    // Plain and -v output is written as the payload arrives: memory stays bounded whatever the
    // message size. A -F format may need the whole payload.
    let streamed = a.print.format.is_none();
    t.settings.stream_large_payloads = streamed;
    let buffer = if streamed { STREAM_BUFFER } else { SUB_BUFFER };
    let mut filters = a.topics.clone();
    filters.extend(t.topic.clone());
    if filters.is_empty() && a.unsubscribe.is_empty() {
        return Err("-t TOPIC is required".into());
    }
    let mut props_buf = Vec::new();
    let props = properties(&mut props_buf, c, "subscribe", &[])?;
    let stop = stop_on_ctrl_c()?;
    let mut log = log(c)?;
    let mut mqtt = connect(c, &t, buffer, &mut log)?;
    let deadline = a.timeout.map(|s| Instant::now() + Duration::from_secs(s));
    let subs: Vec<Subscription<'_>> =
        filters.iter().map(|f| Subscription::new(f, qos(c.qos))).collect();
    subscribe_all(&mut mqtt, &subs, props, &mut log)?;
    for f in &a.unsubscribe {
        let packet_id = mqtt.unsubscribe(f).map_err(describe)?;
        log.unsubscribe(Some(packet_id), f);
    }
    let mut unsubscribed = 0;
    // --remove-retained messages not acknowledged yet.
    let mut clearing = 0usize;
    let format = a.print.format.as_deref().map(str::as_bytes);
    let mut printed = 0u64;
    // A message larger than the receive buffer is being written out as it arrives.
    let mut streaming = false;
    let mut out = std::io::stdout().lock();
    loop {
        if a.count.is_some_and(|c| printed >= c) || stop.load(Ordering::Relaxed) {
            break;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            log.disconnect();
            let _ = mqtt.disconnect();
            return Err(Failure("Timed out".into(), EXIT_TIMED_OUT));
        }
        let event = match mqtt.poll() {
            Ok(Some(event)) => event,
            Ok(None) => continue,
            // As mosquitto_sub: connect again, and subscribe again.
            Err(
                DriverError::Transport(_)
                | DriverError::Eof
                | DriverError::Machine(client::Error::Timeout(_)),
            ) => {
                let Some(again) = reconnect(c, &t, buffer, deadline, &mut log, &stop)? else {
                    // Ctrl-C while offline: no connection to end.
                    return Ok(());
                };
                mqtt = again;
                subscribe_all(&mut mqtt, &subs, props, &mut log)?;
                continue;
            }
            Err(DriverError::Closed) => return Err(describe(Error::Closed).into()),
            Err(e) => return Err(describe(e.into()).into()),
        };
        match event {
            client::Event::Subscribed { reason_codes, .. } => {
                log.suback();
                let codes: Vec<ReasonCode> = reason_codes.iter().collect();
                if codes.iter().all(|r| r.is_error()) {
                    return Err("All subscription requests were denied.".into());
                }
                for (f, r) in filters.iter().zip(&codes).filter(|(_, r)| r.is_error()) {
                    if !c.quiet {
                        eprintln!("mqtt: {}", reason(&format!("subscription to {f} refused"), *r));
                    }
                }
                if a.exit_after_subscribe {
                    break;
                }
            }
            client::Event::Message(m) => {
                let shown = Shown::of(&m);
                let flags = (m.dup, shown.qos, shown.retain);
                log.received(flags, shown.mid, shown.topic, shown.payload.len());
                if a.retained_only && !shown.retain {
                    break;
                }
                if (a.print.no_retained && shown.retain)
                    || a.filter_out.iter().any(|f| topic::matches(f, shown.topic))
                {
                    continue;
                }
                let clear = (a.remove_retained && shown.retain).then(|| shown.topic.to_string());
                let mut line = Vec::new();
                let error = shown.print(&mut line, format, a.print.verbose, !a.print.no_eol);
                if let Some(e) = error.filter(|_| !c.quiet) {
                    eprintln!("{e}");
                }
                if let Some(topic) = clear {
                    clearing += clear_retained(&mut mqtt, &mut log, &topic)?;
                }
                if out.write_all(&line).and_then(|()| out.flush()).is_err() {
                    // The reader went away (a closed pipe): nothing more to do.
                    break;
                }
                printed += 1;
            }
            // Larger than the receive buffer (plain and -v output only): the head now, the
            // payload as it comes.
            client::Event::MessageStart { message: m, payload_len } => {
                let (topic, retain) = (m.topic.as_str(), m.retain);
                let mid = m.packet_id.map_or(0, |p| p.get());
                log.received((m.dup, m.qos as u8, retain), mid, topic, payload_len);
                if a.retained_only && !retain {
                    break;
                }
                let hidden = (a.print.no_retained && retain)
                    || a.filter_out.iter().any(|f| topic::matches(f, topic));
                let shown = !hidden;
                if shown && a.print.verbose {
                    let _ = out.write_all(topic.as_bytes()).and_then(|()| out.write_all(b" "));
                }
                let clear = (a.remove_retained && retain).then(|| topic.to_string());
                if let Some(topic) = clear.filter(|_| shown) {
                    clearing += clear_retained(&mut mqtt, &mut log, &topic)?;
                }
                streaming = shown;
            }
            client::Event::MessageChunk { data, last, .. } if streaming => {
                let eol: &[u8] = if last && !a.print.no_eol { b"\n" } else { b"" };
                if out.write_all(data).and_then(|()| out.write_all(eol)).is_err() {
                    break;
                }
                if last {
                    if out.flush().is_err() {
                        break;
                    }
                    printed += 1;
                    streaming = false;
                }
            }
            client::Event::Published { packet_id, reason_code, .. } => {
                log.published(packet_id, reason_code);
                clearing = clearing.saturating_sub(1);
            }
            client::Event::Unsubscribed { .. } => {
                log.unsuback();
                unsubscribed += 1;
                if filters.is_empty() && unsubscribed == a.unsubscribe.len() {
                    break;
                }
            }
            client::Event::MessageSkipped { message, payload_len } if !c.quiet => {
                let topic = message.topic.as_str();
                eprintln!("mqtt: a message of {payload_len} bytes on {topic} was too large");
            }
            client::Event::Disconnected { reason_code, .. } => {
                log.disconnected(reason_code);
                return Err(reason("the broker disconnected", reason_code).into());
            }
            _ => {}
        }
    }
    // As mosquitto_sub: the messages clearing retained ones acknowledged before DISCONNECT
    // (leaving the broker's answers unread would reset the connection, and with it what the
    // broker had not read yet).
    while clearing > 0 {
        match mqtt.poll() {
            Ok(Some(client::Event::Published { packet_id, reason_code, .. })) => {
                log.published(packet_id, reason_code);
                clearing -= 1;
            }
            Ok(_) => {}
            Err(e) => return Err(describe(e.into()).into()),
        }
    }
    log.disconnect();
    mqtt.disconnect().map_err(|e| describe(e).into())
}

/// `--remove-retained`: publishes the empty retained message that clears `topic`; 1 when its
/// acknowledgement is still to come.
fn clear_retained(mqtt: &mut MqttClient, log: &mut Log, topic: &str) -> Result<usize, Failure> {
    let empty = Outgoing::new(topic, &[]).retain(true).qos(Qos::AtLeastOnce);
    let packet_id = mqtt.publish(&empty).map_err(describe)?;
    log.publish(packet_id, (1, true), topic, 0);
    Ok(usize::from(packet_id.is_some()))
}

/// SUBSCRIBE for the filters, if any.
fn subscribe_all(
    mqtt: &mut MqttClient,
    subs: &[Subscription<'_>],
    props: Properties<'_>,
    log: &mut Log,
) -> Result<(), Failure> {
    if subs.is_empty() {
        return Ok(());
    }
    let packet_id = mqtt.subscribe_many(subs, props).map_err(describe)?;
    let filters: Vec<String> = subs.iter().map(|s| s.filter.to_string()).collect();
    log.subscribe(Some(packet_id), &filters, subs.first().map_or(0, |s| s.options.qos as u8));
    Ok(())
}

/// After a lost connection: tries again every second until the broker answers (or `-W` runs
/// out), as mosquitto_sub does; `None` after Ctrl-C. A refusal ends the program.
fn reconnect(
    c: &Common,
    t: &Target,
    buffer_len: usize,
    deadline: Option<Instant>,
    log: &mut Log,
    stop: &AtomicBool,
) -> Result<Option<MqttClient>, Failure> {
    loop {
        if stop.load(Ordering::Relaxed) {
            return Ok(None);
        }
        let pause = Duration::from_secs(1);
        if let Some(d) = deadline.filter(|&d| Instant::now() + pause >= d) {
            std::thread::sleep(d.saturating_duration_since(Instant::now()));
            return Err(Failure("Timed out".into(), EXIT_TIMED_OUT));
        }
        std::thread::sleep(pause);
        match dial(c, t, buffer_len, log)? {
            Ok(mqtt) => return Ok(Some(mqtt)),
            Err(Error::Io(_) | Error::Timeout) => {}
            Err(e) => return Err(connect_failure(e, t)),
        }
    }
}

/// `rr`: subscribes to the response topic, publishes the request naming it (with Correlation
/// Data), prints the first reply and disconnects.
fn request(a: RrArgs) -> Result<(), Failure> {
    let c = &a.common;
    let t = target(c)?;
    let topic = a.topic.clone().or_else(|| t.topic.clone()).ok_or("-t TOPIC is required")?;
    if c.version != Version::V5 {
        return Err("rr needs MQTT 5.0 (-V 5): 3.1.1 has no response topic".into());
    }
    let payload = read_payload(&a.message, &a.file, a.null, a.stdin)?
        .ok_or("a request is required: -m, -f, -n or -s")?;
    let correlation = correlation_data(c)?;
    let mut props_buf = Vec::new();
    let extra =
        [Property::ResponseTopic(&a.response_topic), Property::CorrelationData(&correlation)];
    let props = properties(&mut props_buf, c, "publish", &extra)?;
    let request = Outgoing::new(&topic, &payload).qos(qos(c.qos)).properties(props);
    let mut sub_props_buf = Vec::new();
    let sub_props = properties(&mut sub_props_buf, c, "subscribe", &[])?;
    let stop = stop_on_ctrl_c()?;
    let mut log = log(c)?;
    let mut mqtt = connect(c, &t, SUB_BUFFER, &mut log)?;
    let mut rr = Exchange {
        mqtt: &mut mqtt,
        log: &mut log,
        deadline: a.timeout.map(|s| Instant::now() + Duration::from_secs(s)),
        stop: &stop,
    };
    let result = rr.run(&a, &request, sub_props, &correlation);
    // Timed out, interrupted or answered, the connection ends with DISCONNECT.
    log.disconnect();
    let _ = mqtt.disconnect();
    if let Some(line) = result? {
        let mut out = std::io::stdout().lock();
        // A reader that went away (a closed pipe) is no failure of the exchange.
        let _ = out.write_all(&line).and_then(|()| out.flush());
    }
    Ok(())
}

/// The Correlation Data of the request: `-D publish correlation-data`, or one of our own.
fn correlation_data(c: &Common) -> Result<Vec<u8>, Failure> {
    let given = d_properties(c, "publish")?
        .into_iter()
        .find(|(name, _)| *name == "correlation-data")
        .and_then(|(_, v)| v.first().map(|v| v.as_bytes().to_vec()));
    Ok(given.unwrap_or_else(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        format!("mqtt-rr-{}-{nanos}", std::process::id()).into_bytes()
    }))
}

/// A request and its reply, on a connected client.
struct Exchange<'a> {
    mqtt: &'a mut MqttClient,
    log: &'a mut Log,
    /// `-W`.
    deadline: Option<Instant>,
    /// Set by Ctrl-C.
    stop: &'a AtomicBool,
}

impl Exchange<'_> {
    /// Subscribes, sends the request once the subscription is in place (so the reply cannot
    /// be missed), and returns the reply printed into a line; `None` after Ctrl-C.
    fn run(
        &mut self,
        a: &RrArgs,
        request: &Outgoing<'_>,
        sub_props: Properties<'_>,
        correlation: &[u8],
    ) -> Result<Option<Vec<u8>>, Failure> {
        let (filter, q) = (a.response_topic.as_str(), qos(a.common.qos));
        let packet_id = self
            .mqtt
            .subscribe_many(&[Subscription::new(filter, q)], sub_props)
            .map_err(describe)?;
        self.log.subscribe(Some(packet_id), &[filter.to_string()], q as u8);
        loop {
            let event = match poll(self.mqtt, self.deadline, self.stop)? {
                Polled::Event(event) => event,
                Polled::Idle => continue,
                Polled::Stopped => return Ok(None),
            };
            if let client::Event::Subscribed { reason_codes, .. } = event {
                self.log.suback();
                match reason_codes.iter().next() {
                    Some(r) if r.is_error() => {
                        let what = format!("subscription to {filter} refused");
                        return Err(reason(&what, r).into());
                    }
                    _ => break,
                }
            }
        }
        let packet_id = self.mqtt.publish(request).map_err(describe)?;
        self.log.publish(packet_id, (q as u8, false), request.topic, request.payload.len());
        loop {
            let event = match poll(self.mqtt, self.deadline, self.stop)? {
                Polled::Event(event) => event,
                Polled::Idle => continue,
                Polled::Stopped => return Ok(None),
            };
            match event {
                client::Event::Message(m) => {
                    let shown = Shown::of(&m);
                    let flags = (m.dup, shown.qos, shown.retain);
                    self.log.received(flags, shown.mid, shown.topic, shown.payload.len());
                    if is_reply(&shown, filter, correlation, a.print.no_retained) {
                        return Ok(Some(print_reply(&shown, a)));
                    }
                }
                client::Event::Published { packet_id, reason_code, .. } => {
                    self.log.published(packet_id, reason_code);
                    if reason_code.is_error() {
                        return Err(reason("the broker refused the request", reason_code).into());
                    }
                }
                client::Event::Disconnected { reason_code, .. } => {
                    self.log.disconnected(reason_code);
                    return Err(reason("the broker disconnected", reason_code).into());
                }
                _ => {}
            }
        }
    }
}

/// What one poll of the client found.
// Returned once per poll and matched at once, never stored: boxing would cost more.
#[allow(clippy::large_enum_variant)]
enum Polled<'a> {
    Event(client::Event<'a>),
    /// Nothing within a read tick (200 ms).
    Idle,
    /// Ctrl-C.
    Stopped,
}

/// Polls the client once: "Timed out" (status 27) once `deadline` (`-W`) is past, the end of
/// the connection an error.
fn poll<'a>(
    mqtt: &'a mut MqttClient,
    deadline: Option<Instant>,
    stop: &AtomicBool,
) -> Result<Polled<'a>, Failure> {
    if stop.load(Ordering::Relaxed) {
        return Ok(Polled::Stopped);
    }
    if deadline.is_some_and(|d| Instant::now() >= d) {
        return Err(Failure("Timed out".into(), EXIT_TIMED_OUT));
    }
    match mqtt.poll() {
        Ok(Some(event)) => Ok(Polled::Event(event)),
        Ok(None) => Ok(Polled::Idle),
        Err(DriverError::Closed) => Err(describe(Error::Closed).into()),
        Err(e) => Err(describe(e.into()).into()),
    }
}

/// A message on the response topic, with our Correlation Data or none (`-R`: not retained).
fn is_reply(m: &Shown<'_>, filter: &str, correlation: &[u8], no_retained: bool) -> bool {
    topic::matches(filter, m.topic)
        && m.properties.correlation_data().is_none_or(|d| d == correlation)
        && !(no_retained && m.retain)
}

/// The reply as `-v`, `-N` and `-F` say; a `%J` error line on stderr.
fn print_reply(shown: &Shown<'_>, a: &RrArgs) -> Vec<u8> {
    let mut line = Vec::new();
    let format = a.print.format.as_deref().map(str::as_bytes);
    let error = shown.print(&mut line, format, a.print.verbose, !a.print.no_eol);
    if let Some(e) = error.filter(|_| !a.common.quiet) {
        eprintln!("{e}");
    }
    line
}

/// Ctrl-C (SIGINT) and SIGTERM set the flag returned, for the program to disconnect (so the
/// broker does not publish the will) and end, as mosquitto_sub does.
fn stop_on_ctrl_c() -> Result<Arc<AtomicBool>, Failure> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop))
            .map_err(|e| format!("cannot handle signal {signal}: {e}"))?;
    }
    Ok(stop)
}

/// The next event; the end of the connection is an error.
fn next(mqtt: &mut MqttClient) -> Result<Event, Failure> {
    match mqtt.next() {
        Ok(Some(event)) => Ok(event),
        Ok(None) => Err(describe(Error::Closed).into()),
        Err(e) => Err(describe(e).into()),
    }
}

/// An error in one line; the session's own without the layer's name. A broker fault names
/// the reason code the client's DISCONNECT carried (MQTT 5.0 §4.13.1).
fn describe(e: Error) -> String {
    match e {
        Error::Mqtt(client::Error::Remote(r)) => {
            reason(&format!("the broker broke the protocol ({})", r.fault), r.reason())
        }
        Error::Mqtt(e) => e.to_string(),
        e => e.to_string(),
    }
}
