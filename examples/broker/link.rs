//! The byte link under an MQTT session: plain TCP, or binary WebSocket messages over TCP
//! (MQTT over WebSocket, either role). MQTT bytes go in and out; WebSocket framing, pings and
//! the closing handshake stay in here.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};

use mqtt_ws::ws::close::CloseCode;
use mqtt_ws::ws::connection::{Config, Connection, Event, MaskKeys, MessageKind, NoMasking, State, TextMessages};
use mqtt_ws::Status;

use super::ws_util;

fn io_err(e: impl std::fmt::Debug) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("{e:?}"))
}

/// WebSocket framing over a socket.
pub struct WsFraming<K: MaskKeys> {
    conn: Connection<K>,
    raw: Vec<u8>,
    out: Vec<u8>,
}

impl<K: MaskKeys> WsFraming<K> {
    fn new(conn: Connection<K>) -> Self {
        WsFraming { conn, raw: Vec::new(), out: Vec::new() }
    }

    /// Unframes `bytes` into MQTT bytes; writes pongs and close replies. `Ok(false)`: closed.
    fn feed(&mut self, tcp: &mut TcpStream, bytes: &[u8], mqtt: &mut Vec<u8>) -> io::Result<bool> {
        self.raw.extend_from_slice(bytes);
        let mut start = 0;
        let mut open = true;
        loop {
            match self.conn.handle_input(&mut self.raw[start..]) {
                Ok(Status::NeedMore) => break,
                Ok(Status::Closed) => {
                    open = false;
                    break;
                }
                Ok(Status::Progress { consumed, event }) => {
                    if let Some(Event::Data { kind: MessageKind::Binary, data, .. }) = event {
                        mqtt.extend_from_slice(data);
                    }
                    start += consumed;
                }
                Err(_) => {
                    open = false;
                    break;
                }
            }
        }
        self.raw.drain(..start);
        self.flush_owed(tcp)?;
        Ok(open && self.conn.state() == State::Open)
    }

    fn flush_owed(&mut self, tcp: &mut TcpStream) -> io::Result<()> {
        let mut out = [0u8; 160];
        while let Some(n) = self.conn.poll_transmit(&mut out).map_err(io_err)? {
            tcp.write_all(&out[..n])?;
        }
        Ok(())
    }

    fn send(&mut self, tcp: &mut TcpStream, mqtt: &[u8]) -> io::Result<()> {
        if self.conn.state() != State::Open {
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        self.out.resize(mqtt.len() + 14, 0);
        let n = self
            .conn
            .encode_data(&mut self.out, MessageKind::Binary, mqtt, true)
            .map_err(io_err)?;
        tcp.write_all(&self.out[..n])
    }

    fn close(&mut self, tcp: &mut TcpStream) {
        if self.conn.state() == State::Open {
            let _ = self.conn.close(CloseCode::Normal, "");
            let _ = self.flush_owed(tcp);
        }
    }
}

/// A random masking key source for WebSocket clients.
pub type ClientKeys = fn() -> [u8; 4];

fn client_key() -> [u8; 4] {
    let b = ws_util::random_u64().to_le_bytes();
    [b[0], b[1], b[2], b[3]]
}

/// The transport of one MQTT connection.
pub enum Link {
    /// MQTT over TCP.
    Tcp(TcpStream),
    /// MQTT over WebSocket, server side.
    WsServer(TcpStream, Box<WsFraming<NoMasking>>),
    /// MQTT over WebSocket, client side.
    WsClient(TcpStream, Box<WsFraming<ClientKeys>>),
}

impl Link {
    /// The server side of a WebSocket connection whose handshake is done.
    pub fn ws_server(tcp: TcpStream) -> Self {
        let mut config = Config::new();
        // MQTT over WebSocket uses binary messages only (MQTT 5.0 §6.0).
        config.text_messages = TextMessages::Reject;
        Link::WsServer(tcp, Box::new(WsFraming::new(Connection::server(config))))
    }

    /// The client side of a WebSocket connection whose handshake is done.
    pub fn ws_client(tcp: TcpStream) -> Self {
        let mut config = Config::new();
        config.text_messages = TextMessages::Reject;
        let conn = Connection::client(config, client_key as ClientKeys);
        Link::WsClient(tcp, Box::new(WsFraming::new(conn)))
    }

    /// Connects to `mqtt://host:port` (or `tcp://`, or a bare `host:port`) or
    /// `ws://host:port/path`; returns the link and MQTT bytes that came with the handshake.
    pub fn connect(url: &str) -> io::Result<(Self, Vec<u8>)> {
        if url.starts_with("ws://") {
            let u = ws_util::parse_ws_url(url)?;
            let (tcp, leftover) = ws_util::client_handshake(&u.host_port, &u.path, &["mqtt"])?;
            let mut link = Link::ws_client(tcp);
            let mut mqtt = Vec::new();
            if !leftover.is_empty() && !link.feed(&leftover, &mut mqtt)? {
                return Err(io::ErrorKind::ConnectionAborted.into());
            }
            return Ok((link, mqtt));
        }
        let addr =
            url.strip_prefix("mqtt://").or_else(|| url.strip_prefix("tcp://")).unwrap_or(url);
        let addr = addr.trim_end_matches('/');
        let tcp = TcpStream::connect(addr)?;
        tcp.set_nodelay(true)?;
        Ok((Link::Tcp(tcp), Vec::new()))
    }

    /// The socket underneath.
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Link::Tcp(t) | Link::WsServer(t, _) | Link::WsClient(t, _) => t,
        }
    }

    /// Takes bytes read from the socket, appends the MQTT bytes they carry to `mqtt`.
    /// `Ok(false)`: the peer closed the WebSocket.
    pub fn feed(&mut self, bytes: &[u8], mqtt: &mut Vec<u8>) -> io::Result<bool> {
        match self {
            Link::Tcp(_) => {
                mqtt.extend_from_slice(bytes);
                Ok(true)
            }
            Link::WsServer(t, w) => w.feed(t, bytes, mqtt),
            Link::WsClient(t, w) => w.feed(t, bytes, mqtt),
        }
    }

    /// Sends MQTT bytes (one WebSocket message on a WebSocket link).
    pub fn send(&mut self, mqtt: &[u8]) -> io::Result<()> {
        match self {
            Link::Tcp(t) => t.write_all(mqtt),
            Link::WsServer(t, w) => w.send(t, mqtt),
            Link::WsClient(t, w) => w.send(t, mqtt),
        }
    }

    /// Reads once from the socket into `buf` (for links read on the caller's thread).
    pub fn read_raw(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Link::Tcp(t) | Link::WsServer(t, _) | Link::WsClient(t, _) => t.read(buf),
        }
    }

    /// Ends the link: a WebSocket close frame if open, then the TCP shutdown.
    pub fn close(&mut self) {
        match self {
            Link::Tcp(_) => {}
            Link::WsServer(t, w) => w.close(t),
            Link::WsClient(t, w) => w.close(t),
        }
        let _ = self.tcp().shutdown(Shutdown::Both);
    }
}
