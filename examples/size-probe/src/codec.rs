//! The MQTT codec: decode of every packet type (from opaque bytes, both versions), encode of
//! whatever decoded (every packet type's encoder is reachable), the streaming PUBLISH head
//! functions and the property builder.

use core::hint::black_box;

use mqtt_ws::Status;
use mqtt_ws::mqtt::Version;
use mqtt_ws::mqtt::packet::{DecodeOptions, Publish, decode};
use mqtt_ws::mqtt::properties::{PropertiesBuilder, Property};

pub fn exercise(input: &[u8], tx: &mut [u8]) {
    let version =
        if black_box(input.first().copied()) == Some(4) { Version::V3_1_1 } else { Version::V5 };
    let options = DecodeOptions::new(version).with_max_packet_size(black_box(u32::MAX));
    if let Ok(Status::Progress { consumed: used, event: packet }) = decode(input, &options) {
        black_box(used);
        black_box(packet.encode(version, tx).ok());
    }
    if let Ok(Status::Progress { event: head, .. }) = Publish::decode_head(input, &options) {
        black_box(head.publish.encode_head(version, head.payload_len, tx).ok());
    }
    let mut props = [0u8; 32];
    let mut builder = PropertiesBuilder::new(&mut props);
    let _ = builder.push(Property::MessageExpiryInterval(black_box(60)));
    let _ = builder.push(Property::UserProperty(black_box("k"), black_box("v")));
    black_box(builder.finish());
}
