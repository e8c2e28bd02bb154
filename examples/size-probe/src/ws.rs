//! The WebSocket layer: client opening handshake (request out, 101 validated), server request
//! parsing and accept, and a connection in each role reading frames and writing messages and
//! control frames; with `ws-deflate`, permessage-deflate's negotiation and a server connection
//! inflating through a 1 KiB window.

use core::hint::black_box;

use mqtt_ws::Status;
use mqtt_ws::time::Instant;
use mqtt_ws::ws::connection::{Config, Connection, MessageKind};
use mqtt_ws::ws::handshake::{Client, ClientRequest, RequestParser};

pub fn exercise(input: &mut [u8], tx: &mut [u8]) {
    // Handshake, client side.
    let request = ClientRequest::new("broker.local", "/mqtt").protocols(&["mqtt"]);
    if let Ok(mut client) = Client::new(request, black_box([7; 16])) {
        black_box(client.encode_request(tx).ok());
        if let Ok(Status::Progress { event: Some(accepted), .. }) =
            client.handle_input(Instant::ZERO, input)
        {
            black_box(accepted.head_len());
            black_box(accepted.protocol());
        }
    }
    // Handshake, server side.
    let mut parser = RequestParser::default();
    match parser.parse(input) {
        Ok(Status::Progress { event: req, .. }) => {
            let protocol = req.select_protocol(&["mqtt"]);
            if let Ok(accept) = req.accept(protocol) {
                black_box(accept.encode(tx).ok());
            }
            #[cfg(feature = "ws-deflate")]
            {
                let config = mqtt_ws::ws::deflate::ServerConfig {
                    receive_window_bits: 10,
                    ..mqtt_ws::ws::deflate::ServerConfig::new()
                };
                black_box(config.accept(req.extensions()).map(|a| a.response()));
            }
        }
        Ok(_) => {}
        Err(e) => {
            black_box(e.reject().encode(tx).ok());
        }
    }
    // Connections: a client (masking with caller keys) and a server.
    let mut key = 0u32;
    let mut client = Connection::client(Config::new(), move || {
        key = key.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        key.to_le_bytes()
    });
    pump(&mut client, input, tx);
    let mut server = Connection::server(Config::new());
    pump(&mut server, input, tx);
    #[cfg(feature = "ws-deflate")]
    inflate(input, tx);
}

/// A server connection that agreed to permessage-deflate, reading through a 1 KiB window.
#[cfg(feature = "ws-deflate")]
fn inflate(input: &mut [u8], tx: &mut [u8]) {
    let mut window = [0u8; 1024];
    let Ok(mut inflater) = mqtt_ws::ws::deflate::Inflater::new(&mut window[..], black_box(false))
    else {
        return;
    };
    let mut server = Connection::server(Config::new());
    if let Ok(Status::Progress { consumed, event }) =
        server.handle_input_inflate(Instant::ZERO, input, &mut inflater)
    {
        black_box(consumed);
        black_box(event);
    }
    while let Ok(Some(n)) = server.poll_transmit(Instant::ZERO, tx) {
        black_box(n);
    }
}

fn pump<K: mqtt_ws::ws::connection::MaskKeys>(
    conn: &mut Connection<K>,
    input: &mut [u8],
    tx: &mut [u8],
) {
    if let Ok(Status::Progress { consumed, event }) = conn.handle_input(Instant::ZERO, input) {
        black_box(consumed);
        black_box(event);
    }
    while let Ok(Some(n)) = conn.poll_transmit(Instant::ZERO, tx) {
        black_box(n);
    }
    black_box(conn.encode_data(tx, MessageKind::Binary, b"\x10\x00", true).ok());
    black_box(conn.encode_ping(tx, b"").ok());
    black_box(conn.close(mqtt_ws::ws::close::CloseCode::from_u16(1000), "").ok());
}
