//! What the library's errors say when printed: the error, and the code the peer is (or would
//! be) told, MQTT reason code or WebSocket close code.
#![cfg(all(feature = "mqtt", feature = "ws"))]

use mqtt_ws::mqtt::topic::TopicError;
use mqtt_ws::mqtt::{DecodeError, PacketId, ReasonCode, StoreFull};
use mqtt_ws::ws::Error as WsError;
use mqtt_ws::ws::error::ProtocolError;
use mqtt_ws::ws::frame::FrameError;

#[test]
fn mqtt_errors_name_the_fault_and_the_reason_code() {
    let e = DecodeError::MalformedVarInt;
    assert_eq!(e.reason_code(), ReasonCode::MalformedPacket);
    assert_eq!(e.to_string(), "invalid MQTT packet: MalformedVarInt (reason code MalformedPacket)");
    assert_eq!(TopicError::Empty.to_string(), "invalid MQTT topic: Empty");
    assert_eq!(StoreFull.to_string(), "the session store is full");
    assert_eq!(PacketId::new(42).unwrap().to_string(), "42");
}

#[test]
fn websocket_errors_name_the_fault_and_the_close_code() {
    let e = ProtocolError::Frame(FrameError::NonMinimalLength);
    assert_eq!(e.to_string(), "websocket protocol error Frame(NonMinimalLength) (close 1002)");
    let e = WsError::from(ProtocolError::UnmaskedFrame);
    assert!(matches!(e, WsError::Protocol(ProtocolError::UnmaskedFrame)));
    assert_eq!(e.to_string(), "websocket protocol error UnmaskedFrame (close 1002)");
}
