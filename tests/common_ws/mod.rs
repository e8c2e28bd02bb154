//! Shared by the WebSocket tests that need a real Mosquitto of their own: a broker on free
//! 127.0.0.1 ports (an MQTT and a WebSocket listener), stopped when dropped.
#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A Mosquitto process with its own configuration directory; killed on drop.
pub struct Mosquitto {
    child: Child,
    dir: PathBuf,
    /// Its MQTT (TCP) listener.
    pub tcp_port: u16,
    /// Its WebSocket listener (`protocol websockets`).
    pub ws_port: u16,
}

impl Mosquitto {
    /// Starts the broker (`name` keeps the temporary directories of concurrent tests apart)
    /// and waits until its WebSocket listener accepts connections.
    pub fn start(name: &str) -> Self {
        let free_port = || TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let (tcp_port, ws_port) = (free_port(), free_port());
        let dir = std::env::temp_dir().join(format!("mqtt-ws-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let conf = dir.join("mosquitto.conf");
        let log = dir.join("mosquitto.log").display().to_string();
        std::fs::write(
            &conf,
            format!(
                "per_listener_settings false\nallow_anonymous true\npersistence false\n\
log_dest file {log}\nlog_type all\nlog_timestamp_format %T\n\
listener {tcp_port} 127.0.0.1\nprotocol mqtt\n\
listener {ws_port} 127.0.0.1\nsocket_domain ipv4\nprotocol websockets\n"
            ),
        )
        .unwrap();
        let child = Command::new("mosquitto")
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto is installed");
        let broker = Self { child, dir, tcp_port, ws_port };
        drop(broker.connect_ws());
        broker
    }

    /// A TCP connection to the WebSocket listener (retried for up to 10 s while the broker
    /// starts), with a 5 s read timeout.
    pub fn connect_ws(&self) -> TcpStream {
        let deadline = Instant::now() + Duration::from_secs(10);
        let stream = loop {
            match TcpStream::connect(("127.0.0.1", self.ws_port)) {
                Ok(s) => break s,
                Err(_) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                Err(e) => panic!("mosquitto did not listen: {e}"),
            }
        };
        stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        stream
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            // What the broker saw, for the failing test's output.
            let log = std::fs::read_to_string(self.dir.join("mosquitto.log")).unwrap_or_default();
            eprintln!("--- mosquitto log ---\n{log}--- end of mosquitto log ---");
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
