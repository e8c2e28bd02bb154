//! The `mqtt` example against `mosquitto_sub` and `mosquitto_pub` (Debian `mosquitto-clients`)
//! on a Mosquitto broker: `mqtt sub` prints byte for byte what `mosquitto_sub` prints for the
//! same messages (plain, `-v`, `-F` with its codes, binary payloads, the retain flag, over TCP
//! and WebSocket), `mosquitto_sub` receives what `mqtt pub` sends (`-m`, `-f`, `-l`, `-n`, `-s`,
//! `--repeat`, `-r`), `-u`/`-P` against a password file, and the errors (a wrong password, a
//! refused connection, an unknown CA, `-W` running out) are one line and a non-zero exit.
//! `mqtt rr` prints the reply `mosquitto_rr` prints; `-F`'s time and JSON codes have
//! mosquitto_sub's form (the times themselves checked against the test's clock); `-d` logs
//! what `mosquitto_pub -d` logs; Ctrl-C disconnects `sub` and `rr` so that no will is sent.
//!
//! Ignored by default: they need the programs and a broker.
//!   scripts/broker cargo test --test cli_mosquitto -- --ignored
//! The test builds the example (`cargo build --example mqtt`) the first time it needs it.
#![cfg(all(feature = "mqtt", feature = "ws"))]

mod common_examples;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The `mqtt` example, built once.
fn mqtt() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| common_examples::build("mqtt"))
}

fn env_port(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name}: run under scripts/broker"))
}

fn tcp_port() -> String {
    env_port("MQTT_TCP_PORT")
}

/// A running subscriber (ours or mosquitto_sub), its output read as it comes.
struct Sub {
    child: Child,
    out: BufReader<ChildStdout>,
    seen: Vec<u8>,
}

fn spawn(program: &Path, args: &[&str]) -> Sub {
    spawn_in(program, args, &[])
}

/// [`spawn`] with these environment variables set.
fn spawn_in(program: &Path, args: &[&str], env: &[(&str, &str)]) -> Sub {
    let mut child = Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("{}: {e} (apt-get install mosquitto-clients)", program.display())
        });
    let out = BufReader::new(child.stdout.take().unwrap());
    Sub { child, out, seen: Vec::new() }
}

impl Sub {
    /// Waits for the first line: the retained marker every test publishes before it starts
    /// subscribers, so the subscription is known to be in place. `-W` bounds the wait.
    fn ready(&mut self) {
        let n = self.out.read_until(b'\n', &mut self.seen).unwrap();
        assert!(n > 0, "the subscriber ended before its first message: {:?}", self.stderr());
    }

    /// Waits for the next line of output (bounded by the program's own `-W`).
    fn line(&mut self) -> String {
        let mut line = Vec::new();
        let n = self.out.read_until(b'\n', &mut line).unwrap();
        assert!(n > 0, "the program ended before the line: {:?}", self.stderr());
        String::from_utf8(line).unwrap()
    }

    fn stderr(&mut self) -> String {
        let mut e = String::new();
        let _ = self.child.stderr.take().map(|mut s| s.read_to_string(&mut e));
        e
    }

    /// Waits for the end (`-C` reached, or `-W` ran out): status, whole stdout, stderr.
    fn finish(mut self) -> (ExitStatus, Vec<u8>, String) {
        self.out.read_to_end(&mut self.seen).unwrap();
        let stderr = self.stderr();
        let status = self.child.wait().unwrap();
        (status, self.seen, stderr)
    }
}

fn mosquitto_pub(args: &[&str]) {
    let status = Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &tcp_port()])
        .args(args)
        .status()
        .expect("mosquitto_pub (apt-get install mosquitto-clients)");
    assert!(status.success(), "mosquitto_pub {args:?}");
}

/// Runs the example to its end: status, stdout, stderr.
fn run(args: &[&str], stdin: &[u8]) -> (ExitStatus, Vec<u8>, String) {
    let mut child = Command::new(mqtt())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    (out.status, out.stdout, String::from_utf8(out.stderr).unwrap())
}

/// Every byte value, as a file for `mosquitto_pub -f`.
fn binary_file(dir: &Path) -> PathBuf {
    let path = dir.join("binary.bin");
    std::fs::write(&path, (0..=255u8).collect::<Vec<u8>>()).unwrap();
    path
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mqtt-ws-cli-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Starts our `sub` (over `transport`: "tcp" or "ws") and `mosquitto_sub` with the same
/// flags on `prefix/#`, publishes the same messages to both with `mosquitto_pub`, and
/// compares what they print and how they exit.
fn compare(prefix: &str, transport: &str, flags: &[&str]) {
    let dir = temp_dir(prefix);
    let binary = binary_file(&dir);
    let filter = format!("{prefix}/#");
    // The retained marker: each subscriber prints it first, on subscribing.
    mosquitto_pub(&["-t", &format!("{prefix}/marker"), "-m", "start", "-r", "-q", "1"]);
    let port = tcp_port();
    let common = ["-C", "6", "-W", "20"];
    let ours_at: Vec<String> = match transport {
        "ws" => {
            let url = format!("ws://127.0.0.1:{}/{filter}", env_port("MQTT_WS_PORT"));
            vec!["sub".into(), "-L".into(), url]
        }
        _ => ["sub", "-h", "127.0.0.1", "-p", &port, "-t", &filter].map(String::from).to_vec(),
    };
    let ours_args: Vec<&str> =
        ours_at.iter().map(String::as_str).chain(common).chain(flags.iter().copied()).collect();
    let mut ours = spawn(mqtt(), &ours_args);
    let theirs_args: Vec<&str> = ["-h", "127.0.0.1", "-p", &port, "-t", &filter]
        .into_iter()
        .chain(common)
        .chain(flags.iter().copied())
        .collect();
    let mut theirs = spawn(Path::new("mosquitto_sub"), &theirs_args);
    ours.ready();
    theirs.ready();
    // QoS 0, then 1, then 2: Mosquitto may pass a QoS 0 message ahead of a QoS 2 one still in
    // flight to a subscriber, so the order is the same for both only in this order.
    mosquitto_pub(&["-t", &format!("{prefix}/bin"), "-f", binary.to_str().unwrap()]);
    mosquitto_pub(&["-t", &format!("{prefix}/percent"), "-m", "100% \\n"]);
    mosquitto_pub(&["-t", &format!("{prefix}/text"), "-m", "hello world", "-q", "1"]);
    mosquitto_pub(&["-t", &format!("{prefix}/empty"), "-n", "-q", "2"]);
    mosquitto_pub(&["-t", &format!("{prefix}/lines"), "-m", "two\nlines\r\n", "-q", "2"]);
    let (theirs_status, theirs_out, _) = theirs.finish();
    let (ours_status, ours_out, ours_err) = ours.finish();
    mosquitto_pub(&["-t", &format!("{prefix}/marker"), "-n", "-r"]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(theirs_status.success(), "mosquitto_sub {flags:?}: {theirs_status}");
    assert!(ours_status.success(), "mqtt sub {flags:?}: {ours_status} {ours_err}");
    assert_eq!(
        String::from_utf8_lossy(&ours_out),
        String::from_utf8_lossy(&theirs_out),
        "with {flags:?}"
    );
    assert_eq!(ours_out, theirs_out, "with {flags:?}");
}

#[test]
#[ignore = "needs mosquitto and mosquitto-clients (scripts/broker)"]
fn sub_plain_prints_as_mosquitto_sub() {
    compare("cli-plain", "tcp", &[]);
}

#[test]
#[ignore = "needs mosquitto and mosquitto-clients (scripts/broker)"]
fn sub_verbose_prints_as_mosquitto_sub() {
    compare("cli-verbose", "tcp", &["-v", "-q", "1"]);
}

#[test]
#[ignore = "needs mosquitto and mosquitto-clients (scripts/broker)"]
fn sub_format_prints_as_mosquitto_sub() {
    compare("cli-format", "tcp", &["-q", "2", "-F", "%t|%q|%r|%l|%m|%x|%X|%%|%p\\t\\\\end"]);
    compare("cli-width", "tcp", &["-F", "[%-12t][%12t][%.4t][%05l][%-5l][%8p][%08p][%-8p]"]);
    compare("cli-hex", "tcp", &["-V", "311", "-F", "%t %X [%8x] [%-9X]\\n", "-N"]);
}

#[test]
#[ignore = "needs mosquitto and mosquitto-clients (scripts/broker)"]
fn sub_over_websocket_prints_as_mosquitto_sub() {
    compare("cli-ws", "ws", &["-v", "-q", "2"]);
}

#[test]
#[ignore = "needs mosquitto and mosquitto-clients (scripts/broker)"]
fn sub_retained_only_filter_out_and_no_retained() {
    let port = tcp_port();
    for (t, m) in [("cli-ret/a", "A"), ("cli-ret/b", "B"), ("cli-ret/skip/c", "C")] {
        mosquitto_pub(&["-t", t, "-m", m, "-r", "-q", "1"]);
    }
    let base = ["sub", "-h", "127.0.0.1", "-p", &port, "-t", "cli-ret/#", "-W", "20"];
    // --retained-only: the retained messages, then the end at the first live one.
    let mut sub =
        spawn(mqtt(), &[&base[..], &["--retained-only", "-v", "-T", "+/skip/#"]].concat());
    sub.ready();
    mosquitto_pub(&["-t", "cli-ret/live", "-m", "L"]);
    let (status, out, err) = sub.finish();
    assert!(status.success(), "{err}");
    let out = String::from_utf8(out).unwrap();
    let mut lines: Vec<&str> = out.lines().collect();
    lines.sort();
    assert_eq!(lines, ["cli-ret/a A", "cli-ret/b B"]);
    // -R: only the live message; -C 1 ends there.
    let mut sub = spawn(mqtt(), &[&base[..], &["-R", "-C", "1", "-F", "%t %r %p"]].concat());
    // No retained message is printed, so there is no marker line: publish until one arrives.
    let deadline = Instant::now() + Duration::from_secs(15);
    while sub.child.try_wait().unwrap().is_none() && Instant::now() < deadline {
        mosquitto_pub(&["-t", "cli-ret/live", "-m", "L", "-q", "1"]);
        wait_exit(&mut sub.child, Duration::from_millis(100));
    }
    let (status, out, err) = sub.finish();
    assert!(status.success(), "{err}");
    assert_eq!(out, b"cli-ret/live 0 L\n");
    // -E: exits once subscribed.
    let (status, out, err) = run(&[&base[..], &["-E"]].concat(), b"");
    assert!(status.success() && out.is_empty(), "{err}");
    for t in ["cli-ret/a", "cli-ret/b", "cli-ret/skip/c"] {
        mosquitto_pub(&["-t", t, "-n", "-r"]);
    }
}

/// Waits up to `bound` for the child to exit (an event, with a bound).
fn wait_exit(child: &mut Child, bound: Duration) {
    let deadline = Instant::now() + bound;
    while child.try_wait().unwrap().is_none() && Instant::now() < deadline {
        std::thread::yield_now();
        std::thread::park_timeout(Duration::from_millis(5));
    }
}

#[test]
#[ignore = "needs mosquitto and mosquitto-clients (scripts/broker)"]
fn pub_is_received_by_mosquitto_sub() {
    let port = tcp_port();
    let dir = temp_dir("pub");
    let binary = binary_file(&dir);
    let at = ["pub", "-h", "127.0.0.1", "-p", &port];
    // The retained marker, sent by us (-r): mosquitto_sub prints it first, on subscribing.
    let (status, _, err) =
        run(&[&at[..], &["-t", "cli-pub/marker", "-m", "start", "-r"]].concat(), b"");
    assert!(status.success(), "{err}");
    let mut sub = spawn(
        Path::new("mosquitto_sub"),
        &["-h", "127.0.0.1", "-p", &port, "-t", "cli-pub/#", "-C", "9", "-W", "20", "-q", "2"]
            .into_iter()
            .chain(["-F", "%t %q %r %l %x"])
            .collect::<Vec<_>>(),
    );
    sub.ready();
    let runs: [(&[&str], &[u8]); 5] = [
        (&["-t", "cli-pub/m", "-m", "hello", "-q", "1"], b""),
        (&["-t", "cli-pub/f", "-f", binary.to_str().unwrap(), "-q", "2"], b""),
        (&["-t", "cli-pub/l", "-l", "-q", "1", "-V", "311"], b"one\n\nthree\n"),
        (&["-L", &format!("mqtt://127.0.0.1:{port}/cli-pub/s"), "-s"], b"all\nof it"),
        (&["-t", "cli-pub/n", "-n", "--repeat", "2", "--repeat-delay", "0.1"], b""),
    ];
    for (args, stdin) in runs {
        let args =
            if args[0] == "-L" { [&["pub"][..], args].concat() } else { [&at[..], args].concat() };
        let (status, _, err) = run(&args, stdin);
        assert!(status.success(), "{args:?}: {err}");
    }
    let (status, out, err) = sub.finish();
    assert!(status.success(), "{err}");
    let hex: String = (0..=255u8).map(|b| format!("{b:02x}")).collect();
    let expected = [
        "cli-pub/marker 0 1 5 7374617274".to_string(),
        "cli-pub/m 1 0 5 68656c6c6f".into(),
        format!("cli-pub/f 2 0 256 {hex}"),
        "cli-pub/l 1 0 3 6f6e65".into(),
        "cli-pub/l 1 0 0 ".into(),
        "cli-pub/l 1 0 5 7468726565".into(),
        "cli-pub/s 0 0 9 616c6c0a6f66206974".into(),
        "cli-pub/n 0 0 0 ".into(),
        "cli-pub/n 0 0 0 ".into(),
    ];
    assert_eq!(String::from_utf8(out).unwrap(), expected.join("\n") + "\n");
    mosquitto_pub(&["-t", "cli-pub/marker", "-n", "-r"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A Mosquitto of the test's own, on a free port.
struct Broker {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
}

impl Broker {
    /// Starts Mosquitto with `settings` (a configuration without its listener) in `dir`.
    fn start(dir: PathBuf, settings: &str) -> Broker {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let conf = format!("{settings}persistence false\nlistener {port} 127.0.0.1\n");
        std::fs::write(dir.join("mosquitto.conf"), conf).unwrap();
        let mut broker = Broker { child: None, port, dir };
        broker.launch();
        broker
    }

    /// Runs the broker and waits until it takes connections.
    fn launch(&mut self) {
        let program = ["/usr/sbin/mosquitto", "mosquitto"]
            .into_iter()
            .find(|p| !p.starts_with('/') || Path::new(p).exists())
            .unwrap();
        let child = Command::new(program)
            .args(["-c", self.dir.join("mosquitto.conf").to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "mosquitto did not start");
            std::thread::park_timeout(Duration::from_millis(20));
        }
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A Mosquitto with a password file (alice / wonderland) and no anonymous access.
fn broker_with_passwords() -> Broker {
    let dir = temp_dir("passwd");
    let passwords = dir.join("passwd");
    let status = Command::new("mosquitto_passwd")
        .args(["-c", "-b", passwords.to_str().unwrap(), "alice", "wonderland"])
        .status()
        .expect("mosquitto_passwd");
    assert!(status.success());
    let settings = format!(
        "per_listener_settings false\nallow_anonymous false\npassword_file {}\n",
        passwords.display()
    );
    Broker::start(dir, &settings)
}

/// One line on stderr, and a failure status.
fn one_line_failure(status: ExitStatus, err: &str) {
    assert!(!status.success(), "exit 0; stderr {err:?}");
    assert_eq!(err.lines().count(), 1, "{err:?}");
    assert!(err.ends_with('\n'));
}

#[test]
#[ignore = "needs mosquitto and mosquitto_passwd"]
fn user_and_password_against_a_password_file() {
    let broker = broker_with_passwords();
    let port = broker.port.to_string();
    let at = ["-h", "127.0.0.1", "-p", &port, "-t", "secret"];
    for version in ["5", "311"] {
        let ok = [&["sub"][..], &at, &["-u", "alice", "-P", "wonderland", "-E", "-V", version]];
        let (status, _, err) = run(&ok.concat(), b"");
        assert!(status.success(), "-V {version}: {err}");
        let url = format!("mqtt://alice:wonderland@127.0.0.1:{port}/secret");
        let (status, _, err) = run(&["pub", "-L", &url, "-m", "x", "-V", version], b"");
        assert!(status.success(), "-L with user:pass@, -V {version}: {err}");
        let bad =
            [&["pub"][..], &at, &["-u", "alice", "-P", "looking-glass", "-m", "x", "-V", version]];
        let (status, _, err) = run(&bad.concat(), b"");
        one_line_failure(status, &err);
        assert!(
            err.contains("NotAuthorized (0x87)") || err.contains("BadUserNameOrPassword (0x86)"),
            "-V {version}: {err}"
        );
        let (status, _, err) = run(&[&["pub"][..], &at, &["-m", "x", "-V", version]].concat(), b"");
        one_line_failure(status, &err);
        assert!(err.contains("refused"), "{err}");
    }
}

#[test]
#[ignore = "needs mosquitto (scripts/broker)"]
fn errors_are_one_line_and_a_failure() {
    // Nothing listens on this port.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (status, _, err) =
        run(&["sub", "-h", "127.0.0.1", "-p", &closed.to_string(), "-t", "x"], b"");
    one_line_failure(status, &err);
    assert!(err.contains("refused"), "{err}");
    // A broker certificate signed by a CA we do not trust.
    let url = format!("mqtts://127.0.0.1:{}/x", env_port("MQTT_TLS_PORT"));
    let other = std::env::var("MQTT_OTHER_CAFILE").unwrap();
    let (status, _, err) = run(&["pub", "-L", &url, "--cafile", &other, "-m", "x"], b"");
    one_line_failure(status, &err);
    assert!(err.contains("UnknownIssuer"), "{err}");
    // The right CA.
    let ca = std::env::var("MQTT_CAFILE").unwrap();
    let (status, _, err) = run(&["pub", "-L", &url, "--cafile", &ca, "-m", "x", "-q", "1"], b"");
    assert!(status.success(), "{err}");
    // --capath: a directory of CA certificates, the right one among others, or only others.
    let dir = std::env::temp_dir().join(format!("mqtt-cli-capath-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(&other, dir.join("a.0")).unwrap();
    std::fs::write(dir.join("index.txt"), "no certificate here\n").unwrap();
    let capath = dir.to_str().unwrap();
    let (status, _, err) = run(&["pub", "-L", &url, "--capath", capath, "-m", "x"], b"");
    one_line_failure(status, &err);
    assert!(err.contains("UnknownIssuer"), "{err}");
    std::fs::copy(&ca, dir.join("b.0")).unwrap();
    let (status, _, err) = run(&["pub", "-L", &url, "--capath", capath, "-m", "x"], b"");
    assert!(status.success(), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
    // -W runs out: "Timed out" and status 27, as mosquitto_sub.
    let port = tcp_port();
    let (status, out, err) = run(&["sub", "-p", &port, "-t", "cli-nothing/#", "-W", "1"], b"");
    assert_eq!(
        (status.code(), out.as_slice(), err.as_str()),
        (Some(27), &b""[..], "mqtt: Timed out\n")
    );
    // Bad flags: clap's usage error.
    let (status, _, err) = run(&["pub", "-t", "x", "-m", "a", "-n"], b"");
    assert_eq!(status.code(), Some(2), "{err}");
}

#[test]
#[ignore = "needs mosquitto and mosquitto-clients (scripts/broker)"]
fn will_is_published_when_the_connection_breaks() {
    let port = tcp_port();
    mosquitto_pub(&["-t", "cli-will/marker", "-m", "start", "-r", "-q", "1"]);
    let mut watcher = spawn(
        Path::new("mosquitto_sub"),
        &["-h", "127.0.0.1", "-p", &port, "-t", "cli-will/#", "-C", "2", "-W", "20", "-v"],
    );
    watcher.ready();
    let will = ["--will-topic", "cli-will/gone", "--will-payload", "bye", "--will-qos", "1"];
    let at = ["sub", "-h", "127.0.0.1", "-p", &port, "-t", "cli-will/marker", "-W", "20"];
    let mut ours = spawn(mqtt(), &[&at[..], &will, &["--will-retain", "-k", "5"]].concat());
    // Connected and subscribed once it prints the marker; then the connection breaks.
    ours.ready();
    ours.child.kill().unwrap();
    let _ = ours.finish();
    let (status, out, err) = watcher.finish();
    assert!(status.success(), "{err}");
    assert_eq!(String::from_utf8(out).unwrap(), "cli-will/marker start\ncli-will/gone bye\n");
    // --will-retain: the broker kept it.
    let (status, out, err) =
        run(&[&at[..5], &["-t", "cli-will/gone", "-C", "1", "-F", "%r %p"]].concat(), b"");
    assert!(status.success(), "{err}");
    assert_eq!(out, b"1 bye\n");
    mosquitto_pub(&["-t", "cli-will/marker", "-n", "-r"]);
    mosquitto_pub(&["-t", "cli-will/gone", "-n", "-r"]);
}

#[test]
#[ignore = "needs mosquitto and mosquitto-clients (scripts/broker)"]
fn persistent_session_keeps_messages_while_away() {
    let port = tcp_port();
    for version in ["5", "311"] {
        let id = format!("cli-persist-{version}");
        let at = [
            "sub",
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "-t",
            "cli-persist/#",
            "-q",
            "1",
            "-V",
            version,
        ];
        // -c: the broker keeps the subscription after this client exits.
        let (status, _, err) = run(&[&at[..], &["-c", "-i", &id, "-E"]].concat(), b"");
        assert!(status.success(), "{err}");
        mosquitto_pub(&["-t", "cli-persist/x", "-m", &format!("queued {version}"), "-q", "1"]);
        let again = [&at[..], &["-c", "-i", &id, "-C", "1", "-W", "20", "-F", "%t %q %p"]].concat();
        let (status, out, err) = run(&again, b"");
        assert!(status.success(), "{err}");
        assert_eq!(String::from_utf8(out).unwrap(), format!("cli-persist/x 1 queued {version}\n"));
        // A clean session ends the kept one.
        let (status, _, err) = run(&[&at[..], &["-i", &id, "-E"]].concat(), b"");
        assert!(status.success(), "{err}");
    }
    // -x needs MQTT 5.0; -c needs an id.
    let (status, _, err) = run(&["sub", "-p", &port, "-t", "x", "-V", "311", "-x", "60"], b"");
    one_line_failure(status, &err);
    let (status, _, err) = run(&["sub", "-p", &port, "-t", "x", "-c"], b"");
    one_line_failure(status, &err);
}

#[test]
#[ignore = "needs mosquitto and mosquitto-clients (scripts/broker)"]
fn properties_print_as_mosquitto_sub() {
    let port = tcp_port();
    mosquitto_pub(&["-t", "cli-props/marker", "-m", "start", "-r", "-q", "1"]);
    let format = "%t|%A|%C|%D|%E|%F|%P|%R|%S|[%5E][%-5F][%05S][%8C][%.4R]";
    let flags = ["-t", "cli-props/#", "-C", "3", "-W", "20", "-F", format];
    let id = ["-D", "subscribe", "subscription-identifier", "7"];
    let at = ["-h", "127.0.0.1", "-p", &port];
    let mut ours = spawn(mqtt(), &[&["sub"][..], &at, &flags, &id].concat());
    let mut theirs =
        spawn(Path::new("mosquitto_sub"), &[&at[..], &["-V", "mqttv5"], &flags, &id].concat());
    ours.ready();
    theirs.ready();
    let d = |p: &'static str, v: &'static str| ["-D", "publish", p, v];
    let props = [
        &d("content-type", "text/plain")[..],
        &["-D", "publish", "user-property", "k1", "v1"],
        &["-D", "publish", "user-property", "k2", "v 2"],
        &d("correlation-data", "req-1"),
        &d("response-topic", "cli-props/reply"),
        &d("message-expiry-interval", "3600"),
        &d("payload-format-indicator", "1"),
    ]
    .concat();
    let msg = ["-m", "x", "-q", "1", "-V", "5"];
    mosquitto_pub(&[&["-t", "cli-props/theirs"][..], &msg, &props].concat());
    let (status, _, err) =
        run(&[&["pub"][..], &at, &["-t", "cli-props/ours"], &msg, &props].concat(), b"");
    assert!(status.success(), "{err}");
    let (theirs_status, theirs_out, _) = theirs.finish();
    let (ours_status, ours_out, ours_err) = ours.finish();
    mosquitto_pub(&["-t", "cli-props/marker", "-n", "-r"]);
    assert!(theirs_status.success() && ours_status.success(), "{ours_err}");
    assert_eq!(
        String::from_utf8(ours_out.clone()).unwrap(),
        String::from_utf8(theirs_out).unwrap()
    );
    let line = "cli-props/ours||text/plain|req-1|3600|1|k1:v1 k2:v 2|cli-props/reply|7|\
                [ 3600][1    ][00007][text/plain][cli-]\n";
    assert!(String::from_utf8(ours_out).unwrap().ends_with(line));
}

#[test]
#[ignore = "needs mosquitto and mosquitto-clients"]
fn sub_connects_again_after_the_broker_restarts() {
    let mut broker = Broker::start(temp_dir("restart"), "allow_anonymous true\n");
    let port = broker.port.to_string();
    let at = ["-h", "127.0.0.1", "-p", &port, "-t", "cli-again/#"];
    let publish = |m: &str, retain: bool| {
        let mut args =
            vec!["-h", "127.0.0.1", "-p", &port, "-t", "cli-again/x", "-m", m, "-q", "1"];
        if retain {
            args.push("-r");
        }
        let _ = Command::new("mosquitto_pub").args(&args).status();
    };
    publish("before", true);
    let mut ours =
        spawn(mqtt(), &[&["sub"][..], &at, &["-q", "1", "-C", "2", "-W", "30", "-v"]].concat());
    ours.ready();
    broker.stop();
    broker.launch();
    // The broker forgot everything (no persistence): publish until ours, subscribed again,
    // prints the message and ends (-C 2).
    let deadline = Instant::now() + Duration::from_secs(20);
    while ours.child.try_wait().unwrap().is_none() && Instant::now() < deadline {
        publish("after", false);
        wait_exit(&mut ours.child, Duration::from_millis(200));
    }
    let (status, out, err) = ours.finish();
    assert!(status.success(), "{err}");
    assert_eq!(String::from_utf8(out).unwrap(), "cli-again/x before\ncli-again/x after\n");
}

#[test]
#[ignore = "needs mosquitto and mosquitto-clients (scripts/broker)"]
fn large_binary_payload_both_ways() {
    let port = tcp_port();
    let dir = temp_dir("large");
    let file = dir.join("large.bin");
    // 3 MB of every byte value, in a pattern that is not periodic at packet sizes.
    let data: Vec<u8> =
        (0..3_000_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    std::fs::write(&file, &data).unwrap();
    mosquitto_pub(&["-t", "cli-large/marker", "-m", "start", "-r", "-q", "1"]);
    let flags =
        ["-h", "127.0.0.1", "-p", &port, "-t", "cli-large/#", "-C", "2", "-W", "20", "-q", "1"];
    let mut ours = spawn(mqtt(), &[&["sub"][..], &flags].concat());
    let mut theirs = spawn(Path::new("mosquitto_sub"), &flags);
    ours.ready();
    theirs.ready();
    let args = ["pub", "-h", "127.0.0.1", "-p", &port, "-t", "cli-large/x", "-q", "1", "-f"];
    let (status, _, err) = run(&[&args[..], &[file.to_str().unwrap()]].concat(), b"");
    assert!(status.success(), "{err}");
    let (theirs_status, theirs_out, _) = theirs.finish();
    let (ours_status, ours_out, err) = ours.finish();
    mosquitto_pub(&["-t", "cli-large/marker", "-n", "-r"]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(theirs_status.success() && ours_status.success(), "{err}");
    assert_eq!(ours_out.len(), "start\n".len() + data.len() + 1);
    assert!(ours_out == theirs_out, "mqtt sub and mosquitto_sub differ");
}

#[test]
#[ignore = "needs mosquitto and mosquitto-clients (scripts/broker)"]
fn a_message_larger_than_the_buffer_is_written_as_it_arrives_in_bounded_memory() {
    let port = tcp_port();
    let dir = temp_dir("huge");
    let file = dir.join("huge.bin");
    let data: Vec<u8> =
        (0..48u32 << 20).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    std::fs::write(&file, &data).unwrap();
    mosquitto_pub(&["-t", "cli-huge/marker", "-m", "start", "-r", "-q", "1"]);
    let flags = ["-h", "127.0.0.1", "-p", &port, "-t", "cli-huge/#", "-W", "60", "-v"];
    let mut ours = spawn(mqtt(), &[&["sub"][..], &flags].concat());
    ours.ready();
    mosquitto_pub(&["-t", "cli-huge/x", "-q", "1", "-f", file.to_str().unwrap()]);
    // The whole line, byte for byte as mosquitto_sub -v prints it.
    let mut line = Vec::new();
    ours.out.read_until(b'\n', &mut line).unwrap();
    while line.len() < "cli-huge/x ".len() + data.len() + 1 {
        let n = ours.out.read_until(b'\n', &mut line).unwrap();
        assert!(n > 0, "the subscriber ended: {:?}", ours.stderr());
    }
    // Its peak memory, read while it still runs: far below the message (a 1 MiB buffer, the
    // payload streamed to stdout), where a whole-message client needs 48 MiB at least.
    let status = std::fs::read_to_string(format!("/proc/{}/status", ours.child.id())).unwrap();
    let peak_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    let _ = ours.child.kill();
    mosquitto_pub(&["-t", "cli-huge/marker", "-n", "-r"]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(line.starts_with(b"cli-huge/x ") && line.ends_with(b"\n"));
    assert!(line["cli-huge/x ".len()..line.len() - 1] == data[..], "the payload changed");
    assert!(peak_kib < 16 << 10, "peak memory {peak_kib} KiB for a 48 MiB message");
}

#[test]
#[ignore = "needs mosquitto and mosquitto-clients (scripts/broker)"]
fn remove_retained_and_unsubscribe() {
    let port = tcp_port();
    let at = ["sub", "-h", "127.0.0.1", "-p", &port];
    // --remove-retained: both retained messages printed, then cleared.
    mosquitto_pub(&["-t", "cli-rm/a", "-m", "A", "-r", "-q", "1"]);
    mosquitto_pub(&["-t", "cli-rm/b", "-m", "B", "-r", "-q", "1"]);
    let rm = ["-t", "cli-rm/#", "--remove-retained", "-C", "2", "-W", "20", "-v"];
    let (status, out, err) = run(&[&at[..], &rm].concat(), b"");
    assert!(status.success(), "{err}");
    assert_eq!(out.len(), "cli-rm/a A\ncli-rm/b B\n".len());
    // Nothing retained is left: --retained-only ends at the first live message, printing nothing.
    let mut sub =
        spawn(mqtt(), &[&at[..], &["-t", "cli-rm/#", "--retained-only", "-W", "20"]].concat());
    let deadline = Instant::now() + Duration::from_secs(15);
    while sub.child.try_wait().unwrap().is_none() && Instant::now() < deadline {
        mosquitto_pub(&["-t", "cli-rm/live", "-m", "L"]);
        wait_exit(&mut sub.child, Duration::from_millis(100));
    }
    let (status, out, err) = sub.finish();
    assert!(status.success() && out.is_empty(), "{err} {out:?}");

    // -U: a persistent session's subscription removed; nothing is queued for it any more.
    let id = ["-c", "-i", "cli-unsub", "-q", "1"];
    let (status, _, err) = run(&[&at[..], &id, &["-t", "cli-unsub/#", "-E"]].concat(), b"");
    assert!(status.success(), "{err}");
    let (status, _, err) = run(&[&at[..], &id, &["-U", "cli-unsub/#"]].concat(), b"");
    assert!(status.success(), "{err}");
    mosquitto_pub(&["-t", "cli-unsub/x", "-m", "queued?", "-q", "1"]);
    mosquitto_pub(&["-t", "cli-unsub/marker", "-m", "m", "-r", "-q", "1"]);
    // A message queued meanwhile would come first, before the retained marker.
    let back = [&at[..], &id, &["-t", "cli-unsub/marker", "-C", "1", "-W", "20", "-v"]].concat();
    let (status, out, err) = run(&back, b"");
    assert!(status.success(), "{err}");
    assert_eq!(out, b"cli-unsub/marker m\n");
    mosquitto_pub(&["-t", "cli-unsub/marker", "-n", "-r"]);
    let (status, _, err) =
        run(&[&at[..], &["-i", "cli-unsub", "-t", "cli-unsub/#", "-E"]].concat(), b"");
    assert!(status.success(), "{err}");
}

/// Answers the next request the responder (`-F '%R %D'`) prints: a wrong Correlation Data
/// first (the requester must skip it), then `reply` with the request's own, if any.
fn answer(responder: &mut Sub, reply: &str) {
    let line = responder.line();
    let (response_topic, correlation) = line.trim_end_matches('\n').split_once(' ').unwrap();
    let to = ["-V", "5", "-t", response_topic];
    if !correlation.is_empty() {
        mosquitto_pub(
            &[&to[..], &["-m", "not yours", "-D", "publish", "correlation-data", "x"]].concat(),
        );
        mosquitto_pub(
            &[&to[..], &["-m", reply, "-D", "publish", "correlation-data", correlation]].concat(),
        );
    } else {
        mosquitto_pub(&[&to[..], &["-m", reply]].concat());
    }
}

#[test]
#[ignore = "needs mosquitto and mosquitto-clients (scripts/broker)"]
fn rr_prints_the_reply_as_mosquitto_rr() {
    let port = tcp_port();
    let at = ["-h", "127.0.0.1", "-p", &port];
    // The responder prints the response topic and correlation data of each request.
    mosquitto_pub(&["-t", "cli-rr/req", "-m", "start", "-r", "-q", "1"]);
    let mut responder = spawn(
        mqtt(),
        &[&["sub"][..], &at, &["-t", "cli-rr/req", "-C", "5", "-W", "20", "-F", "%R %D"]].concat(),
    );
    responder.ready();
    let request = ["-t", "cli-rr/req", "-e", "cli-rr/reply", "-m", "question", "-W", "20"];
    for flags in [&["-v"][..], &["-F", "%t|%q|%r|%p", "-N"]] {
        let ours = spawn(mqtt(), &[&["rr"][..], &at, &request, flags].concat());
        answer(&mut responder, "answer");
        let (status, ours_out, err) = ours.finish();
        assert!(status.success(), "{err}");
        let theirs = spawn(Path::new("mosquitto_rr"), &[&at[..], &request, flags].concat());
        answer(&mut responder, "answer");
        let (status, theirs_out, _) = theirs.finish();
        assert!(status.success());
        assert_eq!(String::from_utf8(ours_out).unwrap(), String::from_utf8(theirs_out).unwrap());
    }
    let _ = responder.finish();
    mosquitto_pub(&["-t", "cli-rr/req", "-n", "-r"]);
}

#[test]
#[ignore = "needs mosquitto (scripts/broker)"]
fn rr_needs_mqtt_5_and_times_out() {
    let port = tcp_port();
    let request =
        ["rr", "-p", &port, "-t", "cli-rr-none/req", "-e", "cli-rr-none/reply", "-m", "?"];
    // 3.1.1 has no response topic: refused before connecting.
    let (status, _, err) = run(&[&request[..], &["-V", "311"]].concat(), b"");
    one_line_failure(status, &err);
    assert!(err.contains("MQTT 5.0"), "{err}");
    // Nobody answers: "Timed out" and status 27, as mosquitto_rr.
    let (status, out, err) = run(&[&request[..], &["-W", "1"]].concat(), b"");
    assert_eq!(
        (status.code(), out.as_slice(), err.as_str()),
        (Some(27), &b""[..], "mqtt: Timed out\n")
    );
    // The response topic is required.
    let (status, _, err) = run(&request[..5], b"");
    assert_eq!(status.code(), Some(2), "{err}");
}

/// A time zone of its own (no time zone database needed), half an hour off the hour.
const TZ: (&str, &str) = ("TZ", "IST-5:30");

/// Our `sub` and `mosquitto_sub` with the same flags (and `TZ`) on `prefix/#`, the retained
/// marker then what `publish` sends: both outputs (marker line first) and both stderrs.
fn both(prefix: &str, flags: &[&str], publish: impl FnOnce()) -> [(Vec<u8>, String); 2] {
    mosquitto_pub(&["-t", &format!("{prefix}/marker"), "-m", "start", "-r", "-q", "1"]);
    let port = tcp_port();
    let filter = format!("{prefix}/#");
    let args = [&["-h", "127.0.0.1", "-p", &port, "-t", &filter, "-W", "20"][..], flags].concat();
    let mut ours = spawn_in(mqtt(), &[&["sub"][..], &args].concat(), &[TZ]);
    let mut theirs =
        spawn_in(Path::new("mosquitto_sub"), &[&args[..], &["-V", "mqttv5"]].concat(), &[TZ]);
    ours.ready();
    theirs.ready();
    publish();
    let (ours_status, ours_out, ours_err) = ours.finish();
    let (theirs_status, theirs_out, theirs_err) = theirs.finish();
    mosquitto_pub(&["-t", &format!("{prefix}/marker"), "-n", "-r"]);
    assert!(ours_status.success() && theirs_status.success(), "{ours_err} {theirs_err}");
    [(ours_out, ours_err), (theirs_out, theirs_err)]
}

/// Digits as `9`: the shape of a time, for comparing two clocks' output.
fn shape(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_digit() { '9' } else { c }).collect()
}

#[test]
#[ignore = "needs mosquitto and mosquitto-clients (scripts/broker)"]
fn sub_time_codes_as_mosquitto_sub() {
    use jiff::{Timestamp, tz::Offset};
    let start = Timestamp::now();
    let format = "%U|%I|@Y-@m-@d @H:@M:@S @z|@s.@N|@@ @Z @j|[%30I]|%t";
    let [(ours, _), (theirs, _)] = both("cli-time", &["-C", "2", "-F", format], || {
        mosquitto_pub(&["-t", "cli-time/x", "-m", "x"]);
    });
    let end = Timestamp::now();
    let (ours, theirs) = (String::from_utf8(ours).unwrap(), String::from_utf8(theirs).unwrap());
    // The same fields, in the same form, zone named and offset as mosquitto_sub prints them.
    assert_eq!(shape(&ours), shape(&theirs));
    let zone = Offset::from_seconds(19_800).unwrap().to_time_zone();
    for line in ours.lines() {
        let fields: Vec<&str> = line.split('|').collect();
        // %U: seconds.nanoseconds, read while the message was printed.
        let (secs, nanos) = fields[0].split_once('.').unwrap();
        let at = Timestamp::new(secs.parse().unwrap(), nanos.parse().unwrap()).unwrap();
        assert!(start <= at && at <= end, "{line}");
        // The other codes: that same instant, in local time.
        let local = at.to_zoned(zone.clone());
        assert_eq!(fields[1], local.strftime("%Y-%m-%dT%H:%M:%S+0530").to_string());
        assert_eq!(fields[2], local.strftime("%Y-%m-%d %H:%M:%S +0530").to_string());
        assert_eq!(fields[3], fields[0]);
        assert_eq!(fields[4], local.strftime("@ IST %j").to_string());
        assert_eq!(fields[5], format!("[{:>30}]", fields[1]));
    }
}

/// JSON, text with characters JSON escapes, a number with spaces, an empty retained message:
/// what `%j` and `%J` print differently.
fn publish_json_set(prefix: &str) {
    let json = r#" { "n" : [1.0, 2.5e3, -0, 1e20, 0.1, 12345678901234567890, 1e-7,
        0.30000000000000004, 1e999], "s": "\u00e9\/\t\ud83d\ude00\"", "t": true, "f": false,
        "z": null, "o": {}, "a": [], "d": {"k": 1, "k": 2} } "#;
    let at = |t: &str| format!("{prefix}/{t}");
    let props = [
        "-D",
        "publish",
        "content-type",
        "text/json",
        "-D",
        "publish",
        "user-property",
        "k",
        "v",
        "-D",
        "publish",
        "correlation-data",
        "c\"d",
        "-D",
        "publish",
        "user-property",
        "k",
        "w",
        "-D",
        "publish",
        "response-topic",
        "r",
        "-D",
        "publish",
        "payload-format-indicator",
        "1",
    ];
    let topic = at("json");
    mosquitto_pub(&[&["-V", "5", "-t", &topic, "-m", json, "-q", "1"][..], &props].concat());
    mosquitto_pub(&["-t", &at("text"), "-m", "a \"quoted\"\tline\x01\n", "-q", "2"]);
    mosquitto_pub(&["-t", &at("number"), "-m", " 12 "]);
    mosquitto_pub(&["-t", &at("empty"), "-n", "-r"]);
}

#[test]
#[ignore = "needs mosquitto and mosquitto-clients (scripts/broker)"]
fn sub_json_formats_as_mosquitto_sub() {
    for code in ["%j", "%J"] {
        let id = ["-D", "subscribe", "subscription-identifier", "3"];
        let flags = [&["-C", "5", "-F", code, "-q", "2"][..], &id].concat();
        let prefix = if code == "%j" { "cli-json-j" } else { "cli-json-big-j" };
        let [(ours, ours_err), (theirs, theirs_err)] =
            both(prefix, &flags, || publish_json_set(prefix));
        mosquitto_pub(&["-t", &format!("{prefix}/empty"), "-n", "-r"]);
        // The same but for the time of reception ("tst"), which has the same form.
        let split = |out: &[u8]| -> Vec<(String, String)> {
            String::from_utf8_lossy(out)
                .lines()
                .map(|l| match l.split_once(r#""tst":""#) {
                    Some((a, b)) => (shape(&b[..32]), format!("{a}{}", &b[32..])),
                    None => (String::new(), l.to_string()),
                })
                .collect()
        };
        assert_eq!(split(&ours), split(&theirs), "{code}");
        assert_eq!(ours_err, theirs_err, "{code}");
        assert!(String::from_utf8(ours).unwrap().contains(r#"Z+0530","topic""#), "{code}");
    }
}

#[test]
#[ignore = "needs mosquitto and mosquitto-clients (scripts/broker)"]
fn pub_debug_log_as_mosquitto_pub() {
    let port = tcp_port();
    let at = ["-h", "127.0.0.1", "-p", &port, "-t", "cli-debug/x", "-m", "hello", "-d"];
    for flags in [["-q", "1", "-V", "5"], ["-q", "1", "-V", "311"], ["-q", "2", "-V", "5"]] {
        let args = [&at[..], &flags, &["-i", "cli-debug"]].concat();
        let theirs = Command::new("mosquitto_pub").args(&args).output().unwrap();
        assert!(theirs.status.success());
        let (status, out, err) = run(&[&["pub"][..], &args].concat(), b"");
        assert!(status.success() && out.is_empty(), "{err}");
        // mosquitto_pub writes its log on stdout; ours goes to stderr.
        assert_eq!(err, String::from_utf8(theirs.stdout).unwrap(), "{flags:?}");
    }
    // No -i (MQTT 5.0): the id the broker assigns names the lines from CONNACK on.
    let flags = [&at[..], &["-q", "1", "-V", "5"]].concat();
    let theirs = Command::new("mosquitto_pub").args(&flags).output().unwrap();
    assert!(theirs.status.success());
    let (status, _, err) = run(&[&["pub"][..], &flags].concat(), b"");
    assert!(status.success(), "{err}");
    let expected = [
        "Client (null) sending CONNECT",
        "Client ID received CONNACK (0)",
        "Client ID sending PUBLISH (d0, q1, r0, m1, 'cli-debug/x', ... (5 bytes))",
        "Client ID received PUBACK (Mid: 1, RC:16)",
        "Client ID sending DISCONNECT",
    ];
    assert_eq!(assigned_as_id(&err), expected.join("\n") + "\n");
    assert_eq!(assigned_as_id(&err), assigned_as_id(&String::from_utf8(theirs.stdout).unwrap()));
}

/// A `-d` log with the client id the broker assigned (one for all lines) written `ID`.
fn assigned_as_id(log: &str) -> String {
    let ids: Vec<&str> =
        log.lines().filter_map(|l| l.strip_prefix("Client auto-")?.split(' ').next()).collect();
    let Some(id) = ids.first() else { return log.to_string() };
    assert!(ids.iter().all(|i| i == id), "{log}");
    log.replace(&format!("auto-{id}"), "ID")
}

/// Sends SIGINT (Ctrl-C) to the child.
fn ctrl_c(child: &Child) {
    let status = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
}

#[test]
#[ignore = "needs mosquitto and mosquitto-clients (scripts/broker)"]
fn ctrl_c_disconnects_so_the_will_is_not_published() {
    let port = tcp_port();
    mosquitto_pub(&["-t", "cli-sigint/marker", "-m", "start", "-r", "-q", "1"]);
    let mut watcher = spawn(
        Path::new("mosquitto_sub"),
        &["-h", "127.0.0.1", "-p", &port, "-t", "cli-sigint/#", "-C", "2", "-W", "20", "-v"],
    );
    watcher.ready();
    let at = ["-h", "127.0.0.1", "-p", &port, "-W", "20", "-d", "-q", "1"];
    let will = ["--will-topic", "cli-sigint/will", "--will-payload", "gone", "--will-qos", "1"];
    // sub: connected and subscribed once it prints the retained marker.
    let mut sub = spawn(mqtt(), &[&["sub"][..], &at, &will, &["-t", "cli-sigint/marker"]].concat());
    sub.ready();
    ctrl_c(&sub.child);
    let (status, _, err) = sub.finish();
    assert!(status.success(), "{err}");
    assert!(err.ends_with(" sending DISCONNECT\n"), "{err}");
    // rr: waiting for its reply once its log shows the request sent.
    let request = ["-t", "cli-sigint-request", "-e", "cli-sigint-nobody", "-m", "?"];
    let mut rr = Command::new(mqtt())
        .args([&["rr"][..], &at, &will, &request].concat())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut log = BufReader::new(rr.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains("sending PUBLISH") {
        line.clear();
        assert!(log.read_line(&mut line).unwrap() > 0, "rr ended before its request");
    }
    ctrl_c(&rr);
    let mut rest = String::new();
    log.read_to_string(&mut rest).unwrap();
    assert!(rr.wait().unwrap().success(), "{rest}");
    assert!(rest.ends_with(" sending DISCONNECT\n"), "{rest}");
    // A will would come before this message.
    mosquitto_pub(&["-t", "cli-sigint/end", "-m", "end", "-q", "1"]);
    let (status, out, err) = watcher.finish();
    assert!(status.success(), "{err}");
    assert_eq!(String::from_utf8(out).unwrap(), "cli-sigint/marker start\ncli-sigint/end end\n");
    mosquitto_pub(&["-t", "cli-sigint/marker", "-n", "-r"]);
}

/// FNV-1a, 64 bits: a hash kept while bytes stream by.
struct Fnv(u64);

impl Fnv {
    fn new() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    fn update(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// The peak resident memory of a running process (`VmHWM`), in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[test]
#[ignore = "needs mosquitto and mosquitto-clients (scripts/broker)"]
fn pub_f_streams_a_100_mib_file_in_bounded_memory() {
    const LEN: usize = 100 << 20;
    let port = tcp_port();
    let dir = temp_dir("pub-stream");
    let file = dir.join("big.bin");
    // Written and hashed 1 MiB at a time: the test does not hold the file either.
    let mut sent = Fnv::new();
    {
        let mut w = std::io::BufWriter::new(std::fs::File::create(&file).unwrap());
        let mut block = vec![0u8; 1 << 20];
        for start in (0..LEN).step_by(block.len()) {
            for (i, b) in block.iter_mut().enumerate() {
                *b = ((start + i) as u32).wrapping_mul(2_654_435_761).rotate_right(13) as u8;
            }
            sent.update(&block);
            w.write_all(&block).unwrap();
        }
        w.flush().unwrap();
    }
    mosquitto_pub(&["-t", "cli-stream/marker", "-m", "start", "-r", "-q", "1"]);
    let flags = ["-h", "127.0.0.1", "-p", &port, "-t", "cli-stream/#", "-C", "2", "-W", "120"];
    let mut sub = spawn(mqtt(), &[&["sub", "-q", "1"][..], &flags].concat());
    sub.ready();
    // QoS 1, and a second copy after a long delay: the publisher is still running (its peak
    // memory readable) once the first copy has arrived whole.
    let path = file.to_str().unwrap();
    let at = ["-h", "127.0.0.1", "-p", &port, "-t", "cli-stream/x", "-q", "1"];
    let mut publisher = Command::new(mqtt())
        .args([&["pub"][..], &at, &["-f", path, "--repeat", "2", "--repeat-delay", "300"]].concat())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The payload, then the newline `sub` prints after it, hashed as it is read.
    let mut received = Fnv::new();
    let mut left = LEN;
    let mut buf = vec![0u8; 64 << 10];
    while left > 0 {
        let want = left.min(buf.len());
        let n = sub.out.read(&mut buf[..want]).unwrap();
        assert!(n > 0, "the subscriber ended early: {:?}", sub.stderr());
        received.update(&buf[..n]);
        left -= n;
    }
    assert_eq!(sub.line(), "\n");
    let peak_kib = peak_rss_kib(publisher.id());
    let alive = publisher.try_wait().unwrap().is_none();
    let _ = publisher.kill();
    let _ = publisher.wait();
    let (status, _, err) = sub.finish();
    mosquitto_pub(&["-t", "cli-stream/marker", "-n", "-r"]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(status.success(), "{err}");
    assert!(alive, "the publisher ended before its second copy");
    assert_eq!(received.0, sent.0, "the payload changed");
    println!("mqtt pub -f: peak resident memory {peak_kib} KiB for a 100 MiB file");
    assert!(peak_kib < 16 << 10, "peak memory {peak_kib} KiB for a 100 MiB file");
}
