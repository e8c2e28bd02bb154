//! The broker's configuration file, written as for Mosquitto (mosquitto.conf(5), the subset
//! below), parsed into a typed [`Config`].
//!
//! One option per line, its arguments after it, separated by blanks. A line whose first
//! non-blank character is `#` is a comment; blank lines are skipped. Options marked *listener*
//! apply to the most recent `listener` line and may not come before the first one; the others
//! apply to the whole broker, the security options included (Mosquitto's
//! `per_listener_settings false`, its default and the only mode supported here). Relative paths
//! are taken from the configuration file's directory.
//!
//! | option | argument | default |
//! | --- | --- | --- |
//! | `listener` | `PORT [ADDRESS]` | none: then one on `127.0.0.1:1883` |
//! | `protocol` (listener) | `mqtt` or `websockets` | `mqtt` |
//! | `certfile`, `keyfile` (listener) | PEM file; TLS when both are set | plain TCP |
//! | `cafile` (listener) | PEM file of the CAs that sign client certificates | none |
//! | `require_certificate` (listener) | `true` or `false` | `false` |
//! | `max_connections` (listener) | count, `-1` for no limit | `-1` |
//! | `allow_anonymous` | `true` or `false` | `false`; `true` when no listener is defined |
//! | `password_file` | file written by `mosquitto_passwd` | none |
//! | `acl_file` | Mosquitto ACL file | none |
//! | `max_keepalive` | seconds, `0` for no limit | `0` |
//! | `max_inflight_messages` | count, `0` for no limit | `20` |
//! | `max_queued_messages` | count, `0` for no limit | `1000` |
//! | `max_queued_bytes` | bytes, `0` for no limit | `0` |
//! | `message_size_limit` | payload bytes, `0` for no limit | `0` |
//! | `max_packet_size` | bytes, at least 20 | no limit |
//! | `persistence` | `true` or `false` | `false` |
//! | `persistence_location` | directory | the working directory |
//! | `connect_timeout` | seconds, at least 1 | `10` |
//! | `per_listener_settings` | `false` only | `false` |
//!
//! `connect_timeout` is this broker's own: how long a new connection has to finish its
//! WebSocket upgrade (on `websockets` listeners) and send CONNECT before it is closed. Mosquitto
//! has no such option.
//!
//! The defaults are Mosquitto 2.0's (`config__init_reload` and `config__read` in its
//! `src/conf.c`): `max_keepalive` defaults to 0 there since 2.0.16, although mosquitto.conf(5)
//! still says 65535. An unknown option is refused, as by Mosquitto; so is, where Mosquitto goes
//! on, a missing, extra or malformed argument (Mosquitto reads `max_keepalive x` as 0), a
//! negative count (except `max_connections -1`), a listener option before any `listener`, two
//! listeners on one port and address, a `certfile` without `keyfile` (Mosquitto silently
//! listens without TLS) and the like. Each [`Error::Line`] names the line.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use super::file_error::{FileError, LineProblem};
use std::time::Duration;

/// The port of the listener a file without `listener` lines gets (Mosquitto's default).
pub const DEFAULT_PORT: u16 = 1883;
/// The address of the listener a file without `listener` lines gets: the local machine only, as
/// in Mosquitto 2.0 (which also listens on `::1`).
pub const DEFAULT_ADDRESS: &str = "127.0.0.1";
/// The default `connect_timeout`.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The default `max_inflight_messages`.
pub const DEFAULT_MAX_INFLIGHT: u16 = 20;
/// The default `max_queued_messages`.
pub const DEFAULT_MAX_QUEUED: usize = 1000;
/// The largest payload MQTT can carry, the most `message_size_limit` takes.
pub const MAX_PAYLOAD: u32 = 268_435_455;
/// The least `max_packet_size` takes (Mosquitto: smaller would interfere with normal clients).
pub const MIN_PACKET_SIZE: u32 = 20;

/// What a listener speaks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Protocol {
    /// MQTT over TCP (`protocol mqtt`).
    #[default]
    Mqtt,
    /// MQTT over WebSocket (`protocol websockets`).
    WebSockets,
}

/// Certificate-based TLS on a listener: `certfile` and `keyfile` set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tls {
    /// The server's certificate chain (PEM).
    pub certfile: PathBuf,
    /// The server's private key (PEM).
    pub keyfile: PathBuf,
    /// The CA certificates that client certificates are checked against (PEM).
    pub cafile: Option<PathBuf>,
    /// Whether clients must present a certificate that `cafile` verifies.
    pub require_certificate: bool,
}

/// A `listener` line and the listener options after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listener {
    /// The TCP port.
    pub port: u16,
    /// The address or host name to bind to; `None`: all IPv4 interfaces.
    pub address: Option<String>,
    /// What it speaks.
    pub protocol: Protocol,
    /// TLS, when `certfile` and `keyfile` are set.
    pub tls: Option<Tls>,
    /// The most clients connected through it at once; `None`: no limit.
    pub max_connections: Option<u32>,
    /// The line of its `listener` option; `None` for the default listener of a file without
    /// one.
    pub line: Option<usize>,
}

impl Listener {
    /// The listener a file without `listener` lines gets.
    fn default_local() -> Self {
        Listener {
            port: DEFAULT_PORT,
            address: Some(DEFAULT_ADDRESS.to_owned()),
            protocol: Protocol::Mqtt,
            tls: None,
            max_connections: None,
            line: None,
        }
    }

    /// The address to bind, as `std::net::TcpListener::bind` takes it: `ADDRESS:PORT` (an IPv6
    /// address in brackets), or `0.0.0.0:PORT` without an address.
    pub fn bind_address(&self) -> String {
        match self.address.as_deref() {
            None => format!("0.0.0.0:{}", self.port),
            Some(a) if a.contains(':') && !a.starts_with('[') => format!("[{a}]:{}", self.port),
            Some(a) => format!("{a}:{}", self.port),
        }
    }
}

/// A parsed configuration file; [`Config::default`] is what an empty file gives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The listeners in file order; one on [`DEFAULT_ADDRESS`]`:`[`DEFAULT_PORT`] when the file
    /// has no `listener` line.
    pub listeners: Vec<Listener>,
    /// Whether clients without a user name may connect.
    pub allow_anonymous: bool,
    /// The `mosquitto_passwd` file that user names and passwords are checked against.
    pub password_file: Option<PathBuf>,
    /// The ACL file that topic access is checked against.
    pub acl_file: Option<PathBuf>,
    /// The longest Keep Alive a client may use, in seconds (MQTT 5.0 clients asking for more,
    /// or for none, get it as Server Keep Alive; MQTT 3.1.1 clients asking for more are
    /// refused); `None`: no limit.
    pub max_keepalive: Option<u16>,
    /// Outgoing QoS 1 and 2 messages in flight per client; `None`: no limit.
    pub max_inflight_messages: Option<u16>,
    /// QoS 1 and 2 messages queued per client beyond those in flight; `None`: no limit.
    pub max_queued_messages: Option<usize>,
    /// Bytes of QoS 1 and 2 messages queued per client beyond those in flight; `None`: no
    /// limit. Messages beyond either queue limit are dropped.
    pub max_queued_bytes: Option<usize>,
    /// The largest PUBLISH payload accepted (larger ones are acknowledged and dropped);
    /// `None`: no limit.
    pub message_size_limit: Option<u32>,
    /// The largest packet accepted, announced to MQTT 5.0 clients as Maximum Packet Size;
    /// `None`: no limit.
    pub max_packet_size: Option<u32>,
    /// Whether sessions, subscriptions and retained messages are kept on disk.
    pub persistence: bool,
    /// Where they are kept; `None`: the working directory.
    pub persistence_location: Option<PathBuf>,
    /// How long a new connection has to finish its WebSocket upgrade and send CONNECT.
    pub connect_timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listeners: vec![Listener::default_local()],
            allow_anonymous: true,
            password_file: None,
            acl_file: None,
            max_keepalive: None,
            max_inflight_messages: Some(DEFAULT_MAX_INFLIGHT),
            max_queued_messages: Some(DEFAULT_MAX_QUEUED),
            max_queued_bytes: None,
            message_size_limit: None,
            max_packet_size: None,
            persistence: false,
            persistence_location: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
        }
    }
}

impl Config {
    /// Reads and parses the file at `path`; relative paths in it are taken from its directory.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| Error::Read { path: path.to_owned(), source })?;
        Self::parse(&text, path.parent().unwrap_or(Path::new("")))
    }

    /// Parses the text of a configuration file; relative paths in it are taken from `base_dir`.
    pub fn parse(text: &str, base_dir: &Path) -> Result<Self, Error> {
        let mut p = Parser {
            text,
            base_dir,
            config: Config { listeners: Vec::new(), ..Config::default() },
            allow_anonymous: None,
            current: None,
            seen: HashMap::new(),
        };
        for (i, line) in text.lines().enumerate() {
            p.line(line, i + 1)?;
        }
        p.finish_listener()?;
        let mut config = p.config;
        // mosquitto.conf(5) allow_anonymous: false, unless no listener is defined.
        config.allow_anonymous = p.allow_anonymous.unwrap_or(config.listeners.is_empty());
        if config.listeners.is_empty() {
            config.listeners.push(Listener::default_local());
        }
        Ok(config)
    }
}

/// A listener being read: its options, with the line each came from for later checks.
struct Draft {
    listener: Listener,
    certfile: Option<(PathBuf, usize)>,
    keyfile: Option<(PathBuf, usize)>,
    cafile: Option<(PathBuf, usize)>,
    require_certificate: Option<(bool, usize)>,
}

/// The state of one parse.
struct Parser<'a> {
    /// The whole file, to quote a line in an error.
    text: &'a str,
    base_dir: &'a Path,
    config: Config,
    /// `allow_anonymous` as the file sets it; its default depends on the listeners.
    allow_anonymous: Option<bool>,
    /// The listener the listener options apply to.
    current: Option<Draft>,
    /// The line each broker-wide path option was set on (a second one is refused, as by
    /// Mosquitto's `conf__parse_string`).
    seen: HashMap<&'static str, usize>,
}

impl Parser<'_> {
    /// The error for line `number`.
    fn error(&self, number: usize, problem: Problem) -> Error {
        let line = self.text.lines().nth(number.saturating_sub(1)).unwrap_or_default();
        Error::Line { number, line: line.trim().to_owned(), problem }
    }

    /// Applies one line.
    fn line(&mut self, line: &str, number: usize) -> Result<(), Error> {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            return Ok(());
        }
        let (option, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let rest = rest.trim();
        if option == "listener" {
            // The listener before it is complete: check it first, so that its faults are
            // reported on its own lines.
            self.finish_listener()?;
        }
        self.option(option, rest, number).map_err(|problem| self.error(number, problem))
    }

    /// Applies one option with its arguments.
    fn option(&mut self, option: &str, rest: &str, number: usize) -> Result<(), Problem> {
        match option {
            "listener" => self.listener(rest, number),
            "protocol" => {
                let protocol = match one(rest)? {
                    "mqtt" => Protocol::Mqtt,
                    "websockets" => Protocol::WebSockets,
                    _ => return Err(Problem::InvalidValue("mqtt or websockets")),
                };
                self.draft()?.listener.protocol = protocol;
                Ok(())
            }
            "certfile" => self.tls_path(rest, number, |d| &mut d.certfile),
            "keyfile" => self.tls_path(rest, number, |d| &mut d.keyfile),
            "cafile" => self.tls_path(rest, number, |d| &mut d.cafile),
            "require_certificate" => {
                let value = boolean(rest)?;
                self.draft()?.require_certificate = Some((value, number));
                Ok(())
            }
            "max_connections" => {
                let value = match integer(rest)? {
                    -1 => None,
                    n => Some(
                        u32::try_from(n)
                            .map_err(|_| Problem::InvalidValue("a count, or -1 for no limit"))?,
                    ),
                };
                self.draft()?.listener.max_connections = value;
                Ok(())
            }
            "allow_anonymous" => {
                self.allow_anonymous = Some(boolean(rest)?);
                Ok(())
            }
            "password_file" => {
                let path = self.path(rest, "password_file", number)?;
                self.config.password_file = Some(path);
                Ok(())
            }
            "acl_file" => {
                let path = self.path(rest, "acl_file", number)?;
                self.config.acl_file = Some(path);
                Ok(())
            }
            "persistence_location" => {
                let path = self.path(rest, "persistence_location", number)?;
                self.config.persistence_location = Some(path);
                Ok(())
            }
            "persistence" => {
                self.config.persistence = boolean(rest)?;
                Ok(())
            }
            "max_keepalive" => {
                self.config.max_keepalive = limit(rest, "seconds, 0 to 65535")?;
                Ok(())
            }
            "max_inflight_messages" => {
                // Mosquitto takes 65535 as "no limit" too (`conf.c`).
                self.config.max_inflight_messages =
                    limit(rest, "a count, 0 to 65535")?.filter(|&n| n != u16::MAX);
                Ok(())
            }
            "max_queued_messages" => {
                self.config.max_queued_messages = limit(rest, "a count")?;
                Ok(())
            }
            "max_queued_bytes" => {
                self.config.max_queued_bytes = limit(rest, "a number of bytes")?;
                Ok(())
            }
            "message_size_limit" => {
                let value = limit::<u32>(rest, "a number of bytes up to 268435455")?;
                if value.is_some_and(|n| n > MAX_PAYLOAD) {
                    return Err(Problem::InvalidValue("a number of bytes up to 268435455"));
                }
                self.config.message_size_limit = value;
                Ok(())
            }
            "max_packet_size" => {
                let expected = "a number of bytes, at least 20";
                let value = u32::try_from(integer(rest)?)
                    .ok()
                    .filter(|&n| n >= MIN_PACKET_SIZE)
                    .ok_or(Problem::InvalidValue(expected))?;
                self.config.max_packet_size = Some(value);
                Ok(())
            }
            "connect_timeout" => {
                let seconds = u64::try_from(integer(rest)?)
                    .ok()
                    .filter(|&n| n >= 1)
                    .ok_or(Problem::InvalidValue("seconds, at least 1"))?;
                self.config.connect_timeout = Duration::from_secs(seconds);
                Ok(())
            }
            "per_listener_settings" => match boolean(rest)? {
                false => Ok(()),
                true => Err(Problem::Unsupported("per_listener_settings true")),
            },
            _ => Err(Problem::UnknownOption),
        }
    }

    /// `listener PORT [ADDRESS]`: starts a new listener (the one before it is finished).
    fn listener(&mut self, rest: &str, number: usize) -> Result<(), Problem> {
        let mut args = rest.split_whitespace();
        let port = args.next().ok_or(Problem::MissingArgument)?;
        let port = port
            .parse::<u16>()
            .ok()
            .filter(|&p| p != 0)
            .ok_or(Problem::InvalidValue("a port, 1 to 65535"))?;
        // Mosquitto ignores a comment after the address (`conf.c`, "listener").
        let address = args.next().filter(|a| !a.starts_with('#'));
        if address.is_some() && args.next().is_some_and(|a| !a.starts_with('#')) {
            return Err(Problem::ExtraArgument);
        }
        // Two listeners clash when they share a port and one binds all interfaces or both the
        // same address (`listener 1883 127.0.0.1` and `listener 1883 ::1` do not).
        let clash = self.config.listeners.iter().find(|l| {
            l.port == port
                && (l.address.is_none() || address.is_none() || l.address.as_deref() == address)
        });
        if let Some(first) = clash {
            return Err(Problem::DuplicateListener { first_line: first.line.unwrap_or(0) });
        }
        self.current = Some(Draft {
            listener: Listener {
                port,
                address: address.map(str::to_owned),
                protocol: Protocol::Mqtt,
                tls: None,
                max_connections: None,
                line: Some(number),
            },
            certfile: None,
            keyfile: None,
            cafile: None,
            require_certificate: None,
        });
        Ok(())
    }

    /// Checks the current listener's TLS options and adds it to the configuration.
    ///
    /// A problem found here names the line of the option at fault.
    fn finish_listener(&mut self) -> Result<(), Error> {
        let Some(d) = self.current.take() else { return Ok(()) };
        let at = |number: usize, problem: Problem| self.error(number, problem);
        let mut listener = d.listener.clone();
        match (&d.certfile, &d.keyfile) {
            (Some((certfile, _)), Some((keyfile, _))) => {
                let require_certificate = d.require_certificate.is_some_and(|(r, _)| r);
                if let (true, None, Some((_, n))) =
                    (require_certificate, &d.cafile, d.require_certificate)
                {
                    return Err(at(n, Problem::Tls("require_certificate true needs cafile")));
                }
                listener.tls = Some(Tls {
                    certfile: certfile.clone(),
                    keyfile: keyfile.clone(),
                    cafile: d.cafile.as_ref().map(|(p, _)| p.clone()),
                    require_certificate,
                });
            }
            (Some((_, n)), None) => return Err(at(*n, Problem::Tls("certfile needs keyfile"))),
            (None, Some((_, n))) => return Err(at(*n, Problem::Tls("keyfile needs certfile"))),
            (None, None) => {
                if let Some((_, n)) = d.cafile {
                    return Err(at(n, Problem::Tls("cafile needs certfile and keyfile")));
                }
                if let Some((true, n)) = d.require_certificate {
                    let problem = Problem::Tls("require_certificate needs certfile and keyfile");
                    return Err(at(n, problem));
                }
            }
        }
        self.config.listeners.push(listener);
        Ok(())
    }

    /// The listener that listener options apply to.
    fn draft(&mut self) -> Result<&mut Draft, Problem> {
        self.current.as_mut().ok_or(Problem::NoListener)
    }

    /// A listener's `certfile`, `keyfile` or `cafile`, set once.
    fn tls_path(
        &mut self,
        rest: &str,
        number: usize,
        field: impl FnOnce(&mut Draft) -> &mut Option<(PathBuf, usize)>,
    ) -> Result<(), Problem> {
        let path = resolve(self.base_dir, rest)?;
        let slot = field(self.draft()?);
        if let Some((_, first_line)) = slot {
            return Err(Problem::DuplicateOption { first_line: *first_line });
        }
        *slot = Some((path, number));
        Ok(())
    }

    /// A broker-wide path option, set once.
    fn path(
        &mut self,
        rest: &str,
        option: &'static str,
        number: usize,
    ) -> Result<PathBuf, Problem> {
        let path = resolve(self.base_dir, rest)?;
        if let Some(&first_line) = self.seen.get(option) {
            return Err(Problem::DuplicateOption { first_line });
        }
        self.seen.insert(option, number);
        Ok(path)
    }
}

/// A path argument: the rest of the line (it may hold blanks), taken from `base_dir` when
/// relative.
fn resolve(base_dir: &Path, rest: &str) -> Result<PathBuf, Problem> {
    if rest.is_empty() {
        return Err(Problem::MissingArgument);
    }
    Ok(base_dir.join(rest))
}

/// The one argument of an option.
fn one(rest: &str) -> Result<&str, Problem> {
    let mut args = rest.split_whitespace();
    let value = args.next().ok_or(Problem::MissingArgument)?;
    match args.next() {
        Some(_) => Err(Problem::ExtraArgument),
        None => Ok(value),
    }
}

/// A boolean argument: `true` or `false` (and `1` or `0`, as Mosquitto's `conf__parse_bool`
/// takes them).
fn boolean(rest: &str) -> Result<bool, Problem> {
    match one(rest)? {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(Problem::InvalidValue("true or false")),
    }
}

/// A decimal integer argument.
fn integer(rest: &str) -> Result<i64, Problem> {
    one(rest)?.parse().map_err(|_| Problem::InvalidValue("a decimal number"))
}

/// A limit where 0 means none: `None` for 0, else the value if it fits `T`.
fn limit<T: TryFrom<i64>>(rest: &str, expected: &'static str) -> Result<Option<T>, Problem> {
    match integer(rest)? {
        0 => Ok(None),
        n => T::try_from(n).map(Some).map_err(|_| Problem::InvalidValue(expected)),
    }
}

/// Why a configuration file was refused.
pub type Error = FileError<Problem>;

/// What is wrong with a line.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// An option this broker does not know.
    UnknownOption,
    /// The option needs an argument.
    MissingArgument,
    /// More arguments than the option takes.
    ExtraArgument,
    /// The argument is not what the option takes (which is given).
    InvalidValue(&'static str),
    /// A listener option before any `listener` line.
    NoListener,
    /// A second listener on the port (and address) of the one on `first_line`.
    DuplicateListener {
        /// Where the first one is.
        first_line: usize,
    },
    /// An option that may be given once was given again (first on `first_line`).
    DuplicateOption {
        /// Where it was first given.
        first_line: usize,
    },
    /// A listener's TLS options do not go together.
    Tls(&'static str),
    /// A Mosquitto setting this broker does not support.
    Unsupported(&'static str),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::UnknownOption => f.write_str("unknown option"),
            Problem::MissingArgument => f.write_str("missing argument"),
            Problem::ExtraArgument => f.write_str("unexpected argument"),
            Problem::InvalidValue(expected) => write!(f, "invalid value, expected {expected}"),
            Problem::NoListener => f.write_str("listener option before any `listener` line"),
            Problem::DuplicateListener { first_line } => {
                write!(f, "a listener on this port is already defined on line {first_line}")
            }
            Problem::DuplicateOption { first_line } => {
                write!(f, "option already given on line {first_line}")
            }
            Problem::Tls(what) => write!(f, "incomplete TLS settings: {what}"),
            Problem::Unsupported(what) => write!(f, "not supported: {what}"),
        }
    }
}

impl LineProblem for Problem {
    const FILE: &'static str = "configuration file";
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, Error> {
        Config::parse(text, Path::new("/etc/broker"))
    }

    /// The problem and line number of a refused file.
    fn refused(text: &str) -> (usize, Problem, String) {
        match parse(text) {
            Err(Error::Line { number, problem, line }) => (number, problem, line),
            other => panic!("expected a line error for {text:?}, got {other:?}"),
        }
    }

    #[test]
    fn empty_file_gives_mosquittos_defaults() {
        let c = parse("# nothing\n\n   \n").unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(c.listeners.len(), 1);
        assert_eq!(c.listeners[0].bind_address(), "127.0.0.1:1883");
        assert_eq!(c.listeners[0].line, None);
        // mosquitto.conf(5): anonymous clients are allowed when no listener is defined.
        assert!(c.allow_anonymous);
        assert_eq!(c.max_inflight_messages, Some(20));
        assert_eq!(c.max_queued_messages, Some(1000));
        assert_eq!(c.max_keepalive, None);
        assert_eq!(c.max_queued_bytes, None);
        assert_eq!(c.message_size_limit, None);
        assert_eq!(c.max_packet_size, None);
        assert!(!c.persistence);
        assert_eq!(c.persistence_location, None);
        assert_eq!(c.connect_timeout, Duration::from_secs(10));
    }

    #[test]
    fn a_listener_turns_anonymous_access_off_unless_allowed() {
        let c = parse("listener 1883\n").unwrap();
        assert!(!c.allow_anonymous);
        assert_eq!(c.listeners.len(), 1);
        assert_eq!(c.listeners[0].bind_address(), "0.0.0.0:1883");
        let c = parse("allow_anonymous true\nlistener 1883\n").unwrap();
        assert!(c.allow_anonymous);
        // An explicit value wins in a file without listeners too.
        let c = parse("allow_anonymous false\n").unwrap();
        assert!(!c.allow_anonymous);
    }

    #[test]
    fn full_file() {
        let text = "\
# A broker on two ports and a WebSocket listener with TLS
per_listener_settings false
allow_anonymous false
password_file passwd
acl_file /etc/mosquitto/acl
max_keepalive 120
max_inflight_messages 10
max_queued_messages 0
max_queued_bytes 1048576
message_size_limit 65536
max_packet_size 131072
persistence true
persistence_location data/
connect_timeout 5

listener 1883 127.0.0.1
max_connections 100

listener 8883
certfile certs/server.pem
keyfile certs/server.key
cafile /etc/ssl/ca.pem
require_certificate true

listener 8080 ::1
protocol websockets
max_connections -1
";
        let c = parse(text).unwrap();
        assert!(!c.allow_anonymous);
        assert_eq!(c.password_file.as_deref(), Some(Path::new("/etc/broker/passwd")));
        assert_eq!(c.acl_file.as_deref(), Some(Path::new("/etc/mosquitto/acl")));
        assert_eq!(c.max_keepalive, Some(120));
        assert_eq!(c.max_inflight_messages, Some(10));
        assert_eq!(c.max_queued_messages, None);
        assert_eq!(c.max_queued_bytes, Some(1_048_576));
        assert_eq!(c.message_size_limit, Some(65536));
        assert_eq!(c.max_packet_size, Some(131_072));
        assert!(c.persistence);
        assert_eq!(c.persistence_location.as_deref(), Some(Path::new("/etc/broker/data/")));
        assert_eq!(c.connect_timeout, Duration::from_secs(5));

        let [plain, tls, ws] = &c.listeners[..] else { panic!("{:?}", c.listeners) };
        assert_eq!(
            plain,
            &Listener {
                port: 1883,
                address: Some("127.0.0.1".into()),
                protocol: Protocol::Mqtt,
                tls: None,
                max_connections: Some(100),
                line: Some(16),
            }
        );
        assert_eq!(plain.bind_address(), "127.0.0.1:1883");
        assert_eq!(
            tls.tls,
            Some(Tls {
                certfile: "/etc/broker/certs/server.pem".into(),
                keyfile: "/etc/broker/certs/server.key".into(),
                cafile: Some("/etc/ssl/ca.pem".into()),
                require_certificate: true,
            })
        );
        assert_eq!((tls.port, tls.address.as_deref(), tls.line), (8883, None, Some(19)));
        assert_eq!(ws.protocol, Protocol::WebSockets);
        assert_eq!(ws.max_connections, None);
        assert_eq!(ws.bind_address(), "[::1]:8080");
    }

    #[test]
    fn load_resolves_paths_against_the_files_directory() {
        let dir = std::env::temp_dir().join(format!("broker-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("broker.conf");
        std::fs::write(&file, "listener 1883\npassword_file users\nacl_file ../acl\n").unwrap();
        let c = Config::load(&file).unwrap();
        assert_eq!(c.password_file, Some(dir.join("users")));
        assert_eq!(c.acl_file, Some(dir.join("../acl")));
        std::fs::remove_dir_all(&dir).unwrap();

        let missing = dir.join("absent.conf");
        let e = Config::load(&missing).unwrap_err();
        assert!(matches!(e, Error::Read { .. }), "{e:?}");
        assert!(e.to_string().contains("absent.conf"), "{e}");
    }

    #[test]
    fn paths_keep_their_blanks_and_tabs_separate_arguments() {
        let c = parse("password_file  my users.txt \nlistener\t1884\tlocalhost\n").unwrap();
        assert_eq!(c.password_file, Some(PathBuf::from("/etc/broker/my users.txt")));
        assert_eq!(c.listeners[0].bind_address(), "localhost:1884");
    }

    #[test]
    fn errors_name_the_line() {
        let (n, p, line) = refused("listener 1883\n\nlistner 1884\n");
        assert_eq!((n, p, line.as_str()), (3, Problem::UnknownOption, "listner 1884"));
        let e = parse("listener 1883\n\nlistner 1884\n").unwrap_err();
        assert_eq!(e.to_string(), "configuration file line 3: unknown option: listner 1884");

        assert_eq!(refused("max_keepalive\n").1, Problem::MissingArgument);
        assert_eq!(refused("password_file   \n").1, Problem::MissingArgument);
        assert_eq!(refused("listener\n").1, Problem::MissingArgument);
        assert_eq!(refused("max_keepalive 60 70\n").1, Problem::ExtraArgument);
        assert_eq!(refused("listener 1883 a b\n").1, Problem::ExtraArgument);
        for bad in [
            "max_keepalive x",
            "max_keepalive 65536",
            "max_keepalive -1",
            "max_inflight_messages 65536",
            "max_queued_messages -5",
            "message_size_limit 268435456",
            "max_packet_size 19",
            "max_packet_size 0",
            "connect_timeout 0",
            "persistence yes",
            "allow_anonymous maybe",
            "listener 0",
            "listener 65536",
            "listener http",
            "listener 1883\nprotocol mqtts",
            "listener 1883\nmax_connections -2",
            "listener 1883\nrequire_certificate on",
        ] {
            assert!(matches!(refused(bad).1, Problem::InvalidValue(_)), "{bad}");
        }
    }

    #[test]
    fn listener_options_need_a_listener() {
        for option in [
            "protocol websockets",
            "certfile a.pem",
            "keyfile a.key",
            "cafile ca.pem",
            "require_certificate false",
            "max_connections 5",
        ] {
            let (n, p, _) = refused(&format!("# first\n{option}\nlistener 1883\n"));
            assert_eq!((n, p), (2, Problem::NoListener), "{option}");
        }
    }

    #[test]
    fn duplicate_listeners_are_refused() {
        let (n, p, line) = refused("listener 1883\nlistener 8080\n\nlistener 1883\n");
        assert_eq!(
            (n, p, line.as_str()),
            (4, Problem::DuplicateListener { first_line: 1 }, "listener 1883")
        );
        let e = parse("listener 1883\nlistener 1883\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "configuration file line 2: a listener on this port is already defined on line 1: \
             listener 1883"
        );
        assert_eq!(
            refused("listener 1883 ::1\nlistener 1883\n").1,
            Problem::DuplicateListener { first_line: 1 }
        );
        assert_eq!(refused("listener 1883 ::1\nlistener 1883 ::1\n").0, 2);
        // One port on two distinct addresses is fine, as in Mosquitto.
        let c = parse("listener 1883 127.0.0.1\nlistener 1883 ::1\n").unwrap();
        assert_eq!(c.listeners.len(), 2);
        // A comment after the address is ignored, as Mosquitto does.
        let c = parse("listener 1883 # all interfaces\n").unwrap();
        assert_eq!(c.listeners[0].address, None);
    }

    #[test]
    fn options_given_twice() {
        assert_eq!(
            refused("password_file a\npassword_file b\n").1,
            Problem::DuplicateOption { first_line: 1 }
        );
        assert_eq!(
            refused("listener 8883\ncertfile a\nkeyfile b\ncertfile c\n").1,
            Problem::DuplicateOption { first_line: 2 }
        );
        // Each listener has its own.
        let c = parse("listener 1\ncertfile a\nkeyfile b\nlistener 2\ncertfile c\nkeyfile d\n");
        assert_eq!(
            c.unwrap().listeners[1].tls.as_ref().unwrap().certfile,
            Path::new("/etc/broker/c")
        );
        // Numbers may be set again; the last one counts, as in Mosquitto.
        assert_eq!(parse("max_keepalive 5\nmax_keepalive 6\n").unwrap().max_keepalive, Some(6));
    }

    #[test]
    fn tls_settings_must_go_together() {
        let (n, p, _) = refused("listener 8883\ncertfile a.pem\n\nlistener 1883\n");
        assert_eq!((n, p), (2, Problem::Tls("certfile needs keyfile")));
        let (n, p, _) = refused("listener 8883\nkeyfile a.key\n");
        assert_eq!((n, p), (2, Problem::Tls("keyfile needs certfile")));
        let (n, _, _) = refused("listener 8883\ncafile ca.pem\n");
        assert_eq!(n, 2);
        let (n, _, _) = refused("listener 8883\nrequire_certificate true\n");
        assert_eq!(n, 2);
        let (n, p, _) = refused("listener 8883\ncertfile a\nkeyfile b\nrequire_certificate true\n");
        assert_eq!((n, p), (4, Problem::Tls("require_certificate true needs cafile")));
        let e = parse("listener 8883\ncertfile a.pem\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "configuration file line 2: incomplete TLS settings: certfile needs keyfile: certfile a.pem"
        );
        // `require_certificate false` alone is harmless.
        let c = parse("listener 1883\nrequire_certificate false\n").unwrap();
        assert_eq!(c.listeners[0].tls, None);
        let c = parse("listener 8883\nkeyfile k\ncertfile c\n").unwrap();
        let tls = c.listeners[0].tls.clone().unwrap();
        assert_eq!((tls.cafile, tls.require_certificate), (None, false));
    }

    #[test]
    fn limits_where_zero_means_none() {
        let c = parse(
            "max_keepalive 0\nmax_inflight_messages 0\nmax_queued_messages 0\n\
             max_queued_bytes 0\nmessage_size_limit 0\n",
        )
        .unwrap();
        assert_eq!(c.max_keepalive, None);
        assert_eq!(c.max_inflight_messages, None);
        assert_eq!(c.max_queued_messages, None);
        assert_eq!(c.max_queued_bytes, None);
        assert_eq!(c.message_size_limit, None);
        // Mosquitto's `conf.c` reads max_inflight_messages 65535 as no limit too.
        assert_eq!(parse("max_inflight_messages 65535\n").unwrap().max_inflight_messages, None);
        let c = parse("max_keepalive 65535\nmax_packet_size 20\nlistener 1\nmax_connections 0\n");
        let c = c.unwrap();
        assert_eq!((c.max_keepalive, c.max_packet_size), (Some(65535), Some(20)));
        assert_eq!(c.listeners[0].max_connections, Some(0));
        assert!(parse("persistence 1\n").unwrap().persistence);
    }

    #[test]
    fn per_listener_settings_true_is_refused() {
        let (n, p, _) = refused("per_listener_settings true\n");
        assert_eq!((n, p), (1, Problem::Unsupported("per_listener_settings true")));
    }

    #[test]
    fn windows_line_endings_and_indented_comments() {
        let c =
            parse("  # indented comment\r\nlistener 1883\r\n\tallow_anonymous true\r\n").unwrap();
        assert!(c.allow_anonymous);
        assert_eq!(c.listeners[0].port, 1883);
    }
}
