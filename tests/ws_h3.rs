//! RFC 9220 end to end: WebSocket over one HTTP/3 extended CONNECT stream, on QUIC (quinn) over
//! UDP on 127.0.0.1, with HTTP/3 from the `http3` crate. The server announces
//! SETTINGS_ENABLE_CONNECT_PROTOCOL; both ends map the WebSocket handshake with
//! `ws::handshake::extended_connect` and negotiate permessage-deflate through it; then our
//! WebSocket connections exchange text, binary, ping and close in the stream's DATA frames, and
//! an MQTT client and server session talk over `ws::Stream` on such a stream.
#![cfg(all(feature = "ws", feature = "mqtt", feature = "deflate", feature = "tokio"))]

mod common_h3;
mod common_headers;
mod common_tunnel;

use bytes::Bytes;
use http3::ext::Protocol;
use mqtt_ws::ws::deflate::{Agreement, ClientConfig, ServerConfig};
use mqtt_ws::ws::handshake::OriginPolicy;
use mqtt_ws::ws::handshake::extended_connect::{ClientConnect, ServerConnect};
use tokio::io::DuplexStream;

use common_h3::{Conn, bridge, endpoints};
use common_headers::{build_request, build_response, request_list, response_list};
use common_tunnel::PATIENCE;

const ORIGIN: &str = "https://app.example.com";

/// What the server runs inside the accepted stream.
#[derive(Clone, Copy)]
enum Inside {
    Echo,
    Mqtt,
}

/// http3's `:protocol`.
fn h3_protocol(builder: http::request::Builder, value: &str) -> http::request::Builder {
    let protocol: Protocol = value.parse().ok().expect("a protocol http3 knows");
    builder.extension(protocol)
}

/// The server: one QUIC connection, HTTP/3 with the extended CONNECT protocol enabled (when
/// `extended_connect`), one request mapped and answered, then `inside` on the stream's DATA.
/// Returns the status it answered.
async fn server(endpoint: quinn::Endpoint, extended_connect: bool, inside: Inside) -> u16 {
    let conn = endpoint.accept().await.expect("a client").await.unwrap();
    let mut h3 = http3::server::builder()
        .enable_extended_connect(extended_connect)
        .build::<_, Bytes>(Conn::new(conn))
        .await
        .unwrap();
    let Ok(Some(resolver)) = h3.accept().await else {
        return 0; // The client gave up (it saw no SETTINGS_ENABLE_CONNECT_PROTOCOL).
    };
    let (req, mut stream) = resolver.resolve_request().await.unwrap();
    // The connection keeps serving (control streams) while the request stream runs.
    tokio::spawn(async move { while let Ok(Some(_)) = h3.accept().await {} });

    let list = request_list(&req, req.extensions().get::<Protocol>().map(Protocol::as_str));
    let parsed = ServerConnect::parse(&list)
        .and_then(|r| r.check_origin(&OriginPolicy::allow_list(&[ORIGIN])).map(|_| r));
    let parsed = match parsed {
        Ok(r) => r,
        Err(e) => {
            let response = build_response(e.reject().connect_headers());
            let status = response.status().as_u16();
            stream.send_response(response).await.unwrap();
            stream.finish().await.unwrap();
            return status;
        }
    };
    assert_eq!(parsed.path(), "/mqtt");
    let protocol = parsed.select_protocol(&["mqtt"]);
    let agreement = ServerConfig::new().accept(parsed.extensions());
    let element = agreement.as_ref().map(Agreement::response);
    let accepted: Vec<&str> = element.iter().map(|e| e.as_str()).collect();
    let response = build_response(parsed.accept_with(protocol, &accepted).unwrap());
    stream.send_response(response).await.unwrap();

    let (send, recv) = stream.split();
    let io = bridge(recv, send);
    match inside {
        Inside::Echo => {
            assert!(agreement.is_some(), "permessage-deflate agreed");
            assert_eq!(common_tunnel::echo_server(io, agreement).await, 4);
        }
        Inside::Mqtt => {
            assert_eq!(common_tunnel::mqtt_server(io).await.len(), 3);
        }
    }
    200
}

/// Keeps the client's HTTP/3 connection open: it closes when the last of these is dropped.
type Keep = http3::client::SendRequest<common_h3::Opener, Bytes>;

/// The client: connects, sends the mapped extended CONNECT offering `mqtt` and
/// permessage-deflate, checks the answer; the stream's DATA as a pipe and the agreement.
async fn client(
    endpoint: &quinn::Endpoint,
    addr: std::net::SocketAddr,
    headers: &[(&str, &str)],
) -> Result<(DuplexStream, Option<Agreement>, Keep), u16> {
    let conn = endpoint.connect(addr, "localhost").unwrap().await.unwrap();
    let (mut driver, mut send_request) = http3::client::builder()
        .enable_extended_connect(true)
        .build::<_, _, Bytes>(Conn::new(conn))
        .await
        .unwrap();
    tokio::spawn(async move { std::future::poll_fn(|cx| driver.poll_close(cx)).await });

    let deflate = ClientConfig::new();
    let offer_element = deflate.offer();
    let offers = [offer_element.as_str()];
    let offer = ClientConnect::new("https", "localhost", "/mqtt")
        .protocols(&["mqtt"])
        .origin(ORIGIN)
        .extensions(&offers);
    let request = if headers.is_empty() {
        build_request(offer.headers().unwrap(), h3_protocol)
    } else {
        build_request(headers.iter().copied(), h3_protocol)
    };
    let mut stream = send_request.send_request(request).await.unwrap();
    let response = stream.recv_response().await.unwrap();
    let list = response_list(&response);
    let accepted = match offer.validate_response(&list) {
        Ok(a) => a,
        Err(_) => return Err(response.status().as_u16()),
    };
    assert_eq!(accepted.status(), 200);
    assert_eq!(accepted.protocol(), Some("mqtt"));
    let agreement = deflate.agreed(accepted.extensions()).unwrap();
    let (send, recv) = stream.split();
    Ok((bridge(recv, send), agreement, send_request))
}

#[tokio::test]
async fn websocket_with_permessage_deflate_over_one_http3_stream() {
    let (server_endpoint, addr, client_endpoint) = endpoints();
    let server = tokio::spawn(server(server_endpoint, true, Inside::Echo));
    let run = async {
        let (io, agreement, _keep) = client(&client_endpoint, addr, &[]).await.unwrap();
        assert!(agreement.is_some(), "the server agreed to permessage-deflate");
        common_tunnel::echo_client(io, agreement).await;
        server.await.unwrap()
    };
    let status = tokio::time::timeout(PATIENCE, run).await.expect("within the patience");
    assert_eq!(status, 200);
}

#[tokio::test]
async fn mqtt_over_websocket_over_http3() {
    let (server_endpoint, addr, client_endpoint) = endpoints();
    let server = tokio::spawn(server(server_endpoint, true, Inside::Mqtt));
    let run = async {
        let (io, _, _keep) = client(&client_endpoint, addr, &[]).await.unwrap();
        let echoed = common_tunnel::mqtt_client(io).await;
        assert_eq!(echoed.len(), 3);
        server.await.unwrap()
    };
    assert_eq!(tokio::time::timeout(PATIENCE, run).await.expect("within the patience"), 200);
}

#[tokio::test]
async fn refusals_travel_as_http3_statuses() {
    let base = [
        (":method", "CONNECT"),
        (":protocol", "websocket"),
        (":scheme", "https"),
        (":path", "/mqtt"),
        (":authority", "localhost"),
        ("sec-websocket-protocol", "mqtt"),
    ];
    // A foreign browser origin: 403 (RFC 6455 §10.2).
    let mut list = base.to_vec();
    list.push(("sec-websocket-version", "13"));
    list.push(("origin", "https://evil.example.net"));
    // Another WebSocket version: 426 (RFC 6455 §4.4).
    let mut old = base.to_vec();
    old.push(("sec-websocket-version", "8"));
    for (headers, want) in [(list, 403), (old, 426)] {
        let (server_endpoint, addr, client_endpoint) = endpoints();
        let server = tokio::spawn(server(server_endpoint, true, Inside::Echo));
        let got = client(&client_endpoint, addr, &headers).await.map(|_| 200);
        assert_eq!(got, Err(want));
        assert_eq!(server.await.unwrap(), want);
    }
}
