//! Arbitrary bytes through the MQTT decoder, as 5.0 and as 3.1.1: it never panics; whatever
//! decodes re-encodes (never longer than the input it came from) to bytes that decode to the
//! same packet; decoding the packet alone agrees with decoding it with the trailing bytes behind
//! it; a PUBLISH's streamed head agrees with the whole decode; a prefix of a packet is
//! `NeedMore` and never an error.

#![no_main]

use libfuzzer_sys::fuzz_target;
use mqtt_ws::Status;
use mqtt_ws::mqtt::Version;
use mqtt_ws::mqtt::packet::{DecodeOptions, Packet, Publish, decode};

fuzz_target!(|data: &[u8]| {
    for version in [Version::V5, Version::V3_1_1] {
        let options = DecodeOptions::new(version);
        let Ok(Status::Progress { consumed: used, event: packet }) = decode(data, &options) else {
            continue;
        };
        assert!(used <= data.len());
        let input = &data[..used];

        // The trailing bytes are not read: the packet alone decodes the same way.
        assert_eq!(decode(input, &options), Ok(Status::Progress { consumed: used, event: packet }));

        // Re-encode: the exact size first, then the bytes, which decode to the same packet.
        let len = packet.encoded_len(version).expect("a decoded packet encodes");
        assert!(len <= used, "re-encoding is longer: {len} > {used}");
        let mut out = vec![0u8; len];
        if len > 0 {
            let mut short = vec![0u8; len - 1];
            assert!(packet.encode(version, &mut short).is_err());
            assert!(short.iter().all(|&b| b == 0), "a failed encode wrote");
        }
        assert_eq!(packet.encode(version, &mut out), Ok(len));
        let again = match decode(&out, &options) {
            Ok(Status::Progress { consumed: n, event: p }) => {
                assert_eq!(n, len);
                p
            }
            other => panic!("re-encoded {packet:?} as {out:02x?}: {other:?}"),
        };
        assert_eq!(again, packet);

        // Every proper prefix is NeedMore (the packet is complete only at its end).
        for cut in [0, 1, used / 2, used.saturating_sub(1)] {
            if cut < used {
                match decode(&input[..cut], &options) {
                    Ok(Status::NeedMore { needed }) => assert!(needed >= 1 && cut + needed <= used),
                    other => panic!("prefix {cut} of {used}: {other:?}"),
                }
            }
        }

        // The streaming API sees the same PUBLISH head.
        if let Packet::Publish(p) = packet {
            match Publish::decode_head(input, &options) {
                Ok(Status::Progress { consumed, event: head }) => {
                    assert_eq!(consumed, head.head_len);
                    assert_eq!(head.publish.topic, p.topic);
                    assert_eq!(head.publish.qos_pid, p.qos_pid);
                    assert_eq!(head.publish.properties, p.properties);
                    assert_eq!(head.payload_len, p.payload.len());
                    assert_eq!(head.head_len + head.payload_len, used);
                }
                other => panic!("decode_head: {other:?}"),
            }
        }
    }
});
