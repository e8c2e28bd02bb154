//! Builds a CONNECT with a will and properties and a PUBLISH with properties, encodes them into
//! a buffer, decodes them back from it and prints what was decoded.
//!
//! ```sh
//! cargo run --example mqtt_packets
//! ```

use core::num::{NonZeroU16, NonZeroU32};

use mqtt_ws::Status;
use mqtt_ws::mqtt::packet::{self, Connect, DecodeOptions, Packet, Publish, QosPid, Will};
use mqtt_ws::mqtt::properties::{PayloadFormat, PropertiesBuilder, Property};
use mqtt_ws::mqtt::{EncodeError, PacketId, Qos, Version};

fn main() -> Result<(), EncodeError> {
    let version = Version::V5;

    // Properties are written into caller buffers through a builder.
    let mut connect_props = [0u8; 64];
    let mut b = PropertiesBuilder::new(&mut connect_props);
    b.push(Property::SessionExpiryInterval(3600))?
        .push(Property::ReceiveMaximum(NonZeroU16::new(32).expect("non-zero")))?
        .push(Property::MaximumPacketSize(NonZeroU32::new(64 * 1024).expect("non-zero")))?;
    let connect_props = b.finish();

    let mut will_props = [0u8; 64];
    let mut b = PropertiesBuilder::new(&mut will_props);
    b.push(Property::WillDelayInterval(10))?
        .push(Property::PayloadFormatIndicator(PayloadFormat::Utf8))?;
    let will_props = b.finish();

    let connect = Connect {
        keep_alive: 30,
        properties: connect_props,
        will: Some(Will {
            qos: Qos::AtLeastOnce,
            retain: true,
            properties: will_props,
            topic: "sensors/kitchen/status",
            payload: b"offline",
        }),
        username: Some("sensor"),
        password: Some(b"secret"),
        ..Connect::new(version, "kitchen-1")
    };

    let mut publish_props = [0u8; 64];
    let mut b = PropertiesBuilder::new(&mut publish_props);
    b.push(Property::MessageExpiryInterval(60))?
        .push(Property::ContentType("application/json"))?
        .push(Property::UserProperty("unit", "celsius"))?;
    let publish = Publish {
        qos_pid: QosPid::AtLeastOnce(PacketId::new(1).expect("non-zero")),
        properties: b.finish(),
        ..Publish::new("sensors/kitchen/temperature", br#"{"t":21.5}"#)
    };

    // Encode both packets back to back into one buffer, as they would go on the wire.
    let mut wire = [0u8; 512];
    let mut len = 0;
    for p in [Packet::Connect(connect), Packet::Publish(publish)] {
        let n = p.encode(version, &mut wire[len..])?;
        println!(
            "encoded {:?} into {n} bytes (exact size known first: {:?})",
            p.packet_type(),
            p.encoded_len(version)
        );
        len += n;
    }

    // Decode them again, one packet per call; the packets borrow `wire`.
    let options = DecodeOptions::new(version);
    let mut rest = &wire[..len];
    while !rest.is_empty() {
        match packet::decode(rest, &options) {
            Ok(Status::Progress { consumed: used, event: packet }) => {
                print(&packet);
                rest = &rest[used..];
            }
            // A decoder never blocks or ends; only a state machine does.
            Ok(Status::NeedMore { needed }) => {
                println!("need {needed} more bytes");
                break;
            }
            Ok(Status::Blocked | Status::Closed) => break,
            Err(e) => {
                println!("malformed: {e} -> send reason code {:?}", e.reason_code());
                break;
            }
        }
    }
    Ok(())
}

fn print(packet: &Packet<'_>) {
    match packet {
        Packet::Connect(c) => {
            println!(
                "CONNECT {:?} client {:?} keep alive {}s",
                c.version, c.client_id, c.keep_alive
            );
            for p in c.properties.iter() {
                println!("  property {p:?}");
            }
            if let Some(w) = &c.will {
                println!(
                    "  will {:?} {:?} qos {:?} retain {}",
                    w.topic, w.payload, w.qos, w.retain
                );
                for p in w.properties.iter() {
                    println!("    will property {p:?}");
                }
            }
            println!("  user {:?} password {:?}", c.username, c.password.map(|p| p.len()));
        }
        Packet::Publish(p) => {
            println!(
                "PUBLISH {:?} {:?} payload {:?}",
                p.topic,
                p.qos_pid,
                core::str::from_utf8(p.payload).unwrap_or("<binary>")
            );
            for prop in p.properties.iter() {
                println!("  property {prop:?}");
            }
        }
        other => println!("{other:?}"),
    }
}
