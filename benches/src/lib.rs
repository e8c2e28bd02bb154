//! Shared inputs for the benchmarks and cross-checks in this crate: the same packets and frames
//! are fed to mqtt-ws and to the peer implementations it is measured against.
//!
//! The byte vectors are written here by hand from the MQTT 5.0 (§2, §3) and RFC 6455 (§5.2)
//! layouts with a tiny writer of their own, so that neither mqtt-ws nor a peer produced the bytes
//! both are measured on.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// A growable byte writer for hand-made packets.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Wire(pub Vec<u8>);

impl Wire {
    /// A single byte.
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.0.push(v);
        self
    }
    /// A Two Byte Integer (MQTT 5.0 §1.5.2).
    pub fn u16(&mut self, v: u16) -> &mut Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    /// A Four Byte Integer (MQTT 5.0 §1.5.3).
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    /// A Variable Byte Integer (MQTT 5.0 §1.5.5).
    pub fn varint(&mut self, mut v: u32) -> &mut Self {
        loop {
            let mut b = (v % 128) as u8;
            v /= 128;
            if v > 0 {
                b |= 0x80;
            }
            self.0.push(b);
            if v == 0 {
                return self;
            }
        }
    }
    /// Binary Data: a two-byte length then the bytes (MQTT 5.0 §1.5.6).
    pub fn bin(&mut self, v: &[u8]) -> &mut Self {
        self.u16(v.len() as u16);
        self.0.extend_from_slice(v);
        self
    }
    /// A UTF-8 Encoded String (MQTT 5.0 §1.5.4).
    pub fn str(&mut self, v: &str) -> &mut Self {
        self.bin(v.as_bytes())
    }
    /// Raw bytes.
    pub fn raw(&mut self, v: &[u8]) -> &mut Self {
        self.0.extend_from_slice(v);
        self
    }
    /// Wraps `body` (variable header and payload) in a fixed header (MQTT 5.0 §2.1.1).
    pub fn packet(first_byte: u8, body: &Wire) -> Vec<u8> {
        let mut w = Wire::default();
        w.u8(first_byte).varint(body.0.len() as u32).raw(&body.0);
        w.0
    }
    /// Appends a property block: its Variable Byte Integer length then `props`.
    pub fn props(&mut self, props: &Wire) -> &mut Self {
        self.varint(props.0.len() as u32).raw(&props.0)
    }
}

/// The topic of the benchmark PUBLISH packets.
pub const PUBLISH_TOPIC: &str = "sensors/building-7/floor-3/temperature";

/// A QoS 1 PUBLISH (packet id 0x1234) with `payload_len` bytes of payload and three properties
/// (MQTT 5.0 §3.3): Message Expiry Interval, Content Type and a User Property, as an MQTT 5
/// application tags its messages (a lifetime, a media type, a key-value pair such as a trace id).
pub fn publish_qos1(payload_len: usize) -> Vec<u8> {
    let mut props = Wire::default();
    props.u8(0x02).u32(3600); // Message Expiry Interval
    props.u8(0x03).str("application/octet-stream"); // Content Type
    props.u8(0x26).str("trace-id").str("7f3a9c"); // User Property
    let mut body = Wire::default();
    body.str(PUBLISH_TOPIC).u16(0x1234).props(&props);
    body.raw(&payload(payload_len));
    Wire::packet(0x32, &body)
}

/// The payload of [`publish_qos1`]: a repeating, non-constant pattern.
pub fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + 3) as u8).collect()
}

/// A CONNECT (MQTT 5.0 §3.1) with clean start, keep alive 60 s, user name and password,
/// connect properties (Session Expiry Interval, Receive Maximum, Maximum Packet Size, Topic
/// Alias Maximum, one User Property) and a QoS 1 retained will with will properties (Will Delay
/// Interval, Payload Format Indicator, Message Expiry Interval, Content Type, one User Property).
pub fn connect_with_will() -> Vec<u8> {
    let mut props = Wire::default();
    props.u8(0x11).u32(7200); // Session Expiry Interval
    props.u8(0x21).u16(32); // Receive Maximum
    props.u8(0x27).u32(65536); // Maximum Packet Size
    props.u8(0x22).u16(10); // Topic Alias Maximum
    props.u8(0x26).str("fw").str("1.4.2"); // User Property
    let mut will_props = Wire::default();
    will_props.u8(0x18).u32(30); // Will Delay Interval
    will_props.u8(0x01).u8(1); // Payload Format Indicator: UTF-8
    will_props.u8(0x02).u32(86400); // Message Expiry Interval
    will_props.u8(0x03).str("text/plain"); // Content Type
    will_props.u8(0x26).str("reason").str("lost"); // User Property
    let mut body = Wire::default();
    body.str("MQTT").u8(5);
    // Flags: user name, password, will retain, will QoS 1, will flag, clean start.
    body.u8(0b1110_1110).u16(60).props(&props);
    body.str("sensor-0042");
    body.props(&will_props).str("sensors/sensor-0042/status").bin(b"offline");
    body.str("device").bin(b"s3cr3t-passw0rd");
    Wire::packet(0x10, &body)
}

/// The ten topic filters of [`subscribe_10`], with their subscription options byte
/// (MQTT 5.0 §3.8.3.1).
pub const SUBSCRIBE_FILTERS: [(&str, u8); 10] = [
    ("sensors/+/temperature", 0x01),
    ("sensors/+/humidity", 0x01),
    ("sensors/+/pressure", 0x00),
    ("actuators/#", 0x02),
    ("building/7/+/lights", 0x05),
    ("building/7/+/doors", 0x09),
    ("alerts/critical", 0x22),
    ("alerts/warning", 0x11),
    ("$SYS/broker/uptime", 0x00),
    ("config/sensor-0042/#", 0x0e),
];

/// A SUBSCRIBE (MQTT 5.0 §3.8) with packet id 7, a Subscription Identifier and a User Property,
/// and the ten filters of [`SUBSCRIBE_FILTERS`].
pub fn subscribe_10() -> Vec<u8> {
    let mut props = Wire::default();
    props.u8(0x0b).varint(42); // Subscription Identifier
    props.u8(0x26).str("origin").str("bench"); // User Property
    let mut body = Wire::default();
    body.u16(7).props(&props);
    for (filter, options) in SUBSCRIBE_FILTERS {
        body.str(filter).u8(options);
    }
    Wire::packet(0x82, &body)
}

/// An UNSUBSCRIBE (MQTT 5.0 §3.10) with packet id 8 and a User Property for the ten filters of
/// [`SUBSCRIBE_FILTERS`]: a client leaving what it subscribed to.
pub fn unsubscribe_10() -> Vec<u8> {
    let mut props = Wire::default();
    props.u8(0x26).str("origin").str("bench"); // User Property
    let mut body = Wire::default();
    body.u16(8).props(&props);
    for (filter, _) in SUBSCRIBE_FILTERS {
        body.str(filter);
    }
    Wire::packet(0xa2, &body)
}

/// The SUBACK (MQTT 5.0 §3.9) a broker answers [`subscribe_10`] with: packet id 7, no properties,
/// one reason code per filter (the QoS granted, a refusal for the `$SYS` filter).
pub fn suback_10() -> Vec<u8> {
    let mut body = Wire::default();
    body.u16(7).props(&Wire::default());
    body.raw(&[0x01, 0x01, 0x00, 0x02, 0x01, 0x01, 0x02, 0x01, 0x87, 0x02]);
    Wire::packet(0x90, &body)
}

/// A PUBACK (MQTT 5.0 §3.4) for packet id 0x1234 with reason code 0x10 (No matching
/// subscribers) and a Reason String: a broker's answer to a QoS 1 PUBLISH nobody receives.
pub fn puback_reason() -> Vec<u8> {
    let mut props = Wire::default();
    props.u8(0x1f).str("no matching subscribers"); // Reason String
    let mut body = Wire::default();
    body.u16(0x1234).u8(0x10).props(&props);
    Wire::packet(0x40, &body)
}

/// The masking key of the WebSocket benchmark frames.
pub const MASK_KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// Valid UTF-8 text of exactly `len` bytes, mixing ASCII with two- and three-byte sequences so
/// the UTF-8 check cannot take an ASCII-only fast path the whole way.
pub fn text(len: usize) -> Vec<u8> {
    let pattern = "MQTT über WebSocket — sans-IO, no_std; ";
    let mut out = Vec::with_capacity(len + 4);
    while out.len() < len {
        for c in pattern.chars() {
            let mut b = [0; 4];
            let s = c.encode_utf8(&mut b);
            if out.len() + s.len() > len {
                // Pad with ASCII so the text ends on a character boundary.
                while out.len() < len {
                    out.push(b'.');
                }
                break;
            }
            out.extend_from_slice(s.as_bytes());
        }
    }
    out
}

/// A single masked text frame (FIN set) as a client sends it (RFC 6455 §5.2, §5.3).
pub fn masked_frame(opcode: u8, payload: &[u8], key: [u8; 4]) -> Vec<u8> {
    let mut w = Wire::default();
    w.u8(0x80 | opcode);
    let len = payload.len();
    if len < 126 {
        w.u8(0x80 | len as u8);
    } else if len <= 0xffff {
        w.u8(0x80 | 126).u16(len as u16);
    } else {
        w.u8(0x80 | 127).raw(&(len as u64).to_be_bytes());
    }
    w.raw(&key);
    w.0.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    w.0
}

/// A masked text message of `len` bytes of [`text`] in one frame.
pub fn masked_text_message(len: usize) -> Vec<u8> {
    masked_frame(0x1, &text(len), MASK_KEY)
}

/// A masked binary message of `len` bytes of [`payload`] in one frame.
pub fn masked_binary_message(len: usize) -> Vec<u8> {
    masked_frame(0x2, &payload(len), MASK_KEY)
}

/// `count` masked text messages of `len` bytes each, back to back: what one read returns when a
/// client sends many small messages (MQTT packets of a few bytes each, one per frame).
pub fn masked_text_messages(count: usize, len: usize) -> Vec<u8> {
    let one = masked_text_message(len);
    one.repeat(count)
}

/// The 16-byte nonce of RFC 6455 §1.3, whose key is `dGhlIHNhbXBsZSBub25jZQ==`.
pub const HANDSHAKE_NONCE: [u8; 16] = *b"the sample nonce";

/// An opening-handshake request as a browser sends it for MQTT over WebSocket: the fields a
/// current Chromium writes (user agent, origin, caching, compression offer, language) with the
/// RFC 6455 §1.3 sample key and subprotocol `mqtt`.
pub const BROWSER_UPGRADE_REQUEST: &[u8] = b"GET /mqtt HTTP/1.1\r\n\
Host: 127.0.0.1:8083\r\n\
Connection: Upgrade\r\n\
Pragma: no-cache\r\n\
Cache-Control: no-cache\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36\r\n\
Upgrade: websocket\r\n\
Origin: http://127.0.0.1:8083\r\n\
Sec-WebSocket-Version: 13\r\n\
Accept-Encoding: gzip, deflate, br, zstd\r\n\
Accept-Language: en-US,en;q=0.9\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\
Sec-WebSocket-Protocol: mqtt\r\n\
\r\n";

/// The `101` answer to [`BROWSER_UPGRADE_REQUEST`] as a broker sends it (RFC 6455 §4.2.2),
/// choosing `mqtt` and no extension.
pub const UPGRADE_RESPONSE: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\n\
Upgrade: websocket\r\n\
Connection: Upgrade\r\n\
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
Sec-WebSocket-Protocol: mqtt\r\n\
\r\n";

/// Two non-overlapping regions of one allocation for copy baselines: `src` and `dst` of `len`
/// bytes each, placed so that their addresses differ by half a page modulo 4 KiB. Two buffers
/// allocated back to back can end up a few bytes apart modulo 4 KiB, where store-to-load
/// aliasing makes `memcpy` an order of magnitude slower than its real bandwidth.
#[derive(Debug)]
pub struct CopyBuffers {
    storage: Vec<u8>,
    len: usize,
    src_offset: usize,
    dst_offset: usize,
}

impl CopyBuffers {
    /// Both regions of `len` bytes; the source is filled with `fill`.
    pub fn new(len: usize, fill: &[u8]) -> Self {
        assert_eq!(fill.len(), len);
        let mut storage = vec![0u8; 2 * len + 8192];
        let base = storage.as_ptr() as usize;
        // Source at a 64-byte boundary; destination the smallest distance >= len after it that
        // is 2048 modulo 4096.
        let src_offset = (64 - base % 64) % 64;
        let distance = len + (2048 + 4096 - len % 4096) % 4096;
        let dst_offset = src_offset + distance;
        storage[src_offset..src_offset + len].copy_from_slice(fill);
        Self { storage, len, src_offset, dst_offset }
    }

    /// The source and destination regions.
    pub fn split(&mut self) -> (&[u8], &mut [u8]) {
        let (head, tail) = self.storage.split_at_mut(self.dst_offset);
        (&head[self.src_offset..self.src_offset + self.len], &mut tail[..self.len])
    }

    /// Distance between the regions modulo 4 KiB.
    pub fn distance_mod_4k(&self) -> usize {
        (self.dst_offset - self.src_offset) % 4096
    }
}

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

/// A global allocator that counts the allocations of the current thread, to prove a code path
/// allocates nothing. Install it with `#[global_allocator]` in a test or bench binary.
#[derive(Debug)]
pub struct CountingAllocator;

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so the
// `GlobalAlloc` contract holds as it does for `System`. (This benchmark-only crate needs
// `unsafe` for the trait; mqtt-ws itself forbids it.)
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Number of allocations (and reallocations) the current thread made while running `f`.
pub fn allocations<R>(f: impl FnOnce() -> R) -> (R, u64) {
    let before = ALLOCATIONS.with(Cell::get);
    let r = f();
    let after = ALLOCATIONS.with(Cell::get);
    (r, after - before)
}

/// A JSON telemetry document of at least `len` bytes, as a browser or gateway publishes over MQTT:
/// the same keys in every record, numbers that change from record to record.
pub fn telemetry_json(len: usize) -> Vec<u8> {
    let mut out = String::from("[");
    let mut i = 0u32;
    while out.len() < len {
        let t = 20.0 + f64::from(i % 97) / 10.0;
        let h = 40 + i * 7 % 31;
        out.push_str(&format!(
            "{{\"sensor\":\"greenhouse-{:02}\",\"ts\":{},\"temperature\":{t:.1},\
             \"humidity\":{h},\"battery\":{},\"ok\":true}},",
            i % 12,
            1_765_000_000 + i * 5,
            100 - i % 50
        ));
        i += 1;
    }
    out.pop();
    out.push(']');
    out.into_bytes()
}

#[cfg(feature = "deflate")]
/// `payload` compressed as one permessage-deflate message (RFC 7692 §7.2.1: raw DEFLATE up to a
/// sync flush, its `00 00 ff ff` removed) by zlib-rs with a `window_bits` window, in one masked
/// client frame of `opcode` with RSV1 set.
pub fn deflated_frame(opcode: u8, payload: &[u8], window_bits: u8) -> Vec<u8> {
    use flate2::{Compress, Compression, FlushCompress};
    let mut z = Compress::new_with_window_bits(Compression::default(), false, window_bits);
    let mut out = Vec::with_capacity(payload.len() + 64);
    z.compress_vec(payload, &mut out, FlushCompress::Sync).expect("zlib-rs compresses");
    assert!(out.ends_with(&[0, 0, 0xff, 0xff]), "a sync flush ends with an empty stored block");
    out.truncate(out.len() - 4);
    let mut frame = masked_frame(opcode, &out, MASK_KEY);
    frame[0] |= 0x40; // RSV1: a compressed message (RFC 7692 §6)
    frame
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_matches_spec_examples() {
        // MQTT 5.0 §1.5.5 table 1-1 boundaries.
        for (v, bytes) in [
            (0u32, &[0x00][..]),
            (127, &[0x7f]),
            (128, &[0x80, 0x01]),
            (16_383, &[0xff, 0x7f]),
            (16_384, &[0x80, 0x80, 0x01]),
            (2_097_151, &[0xff, 0xff, 0x7f]),
            (268_435_455, &[0xff, 0xff, 0xff, 0x7f]),
        ] {
            let mut w = Wire::default();
            w.varint(v);
            assert_eq!(w.0, bytes, "{v}");
        }
    }

    #[test]
    fn text_is_utf8_of_exact_length() {
        for len in [0, 1, 16, 1024, 65536] {
            let t = text(len);
            assert_eq!(t.len(), len);
            assert!(core::str::from_utf8(&t).is_ok());
        }
        assert!(text(1024).iter().any(|b| !b.is_ascii()));
    }

    #[test]
    fn masked_frame_header_lengths() {
        assert_eq!(&masked_text_message(16)[..2], &[0x81, 0x90]);
        assert_eq!(&masked_text_message(1024)[..4], &[0x81, 0xfe, 0x04, 0x00]);
        assert_eq!(&masked_text_message(65536)[..10], &[0x81, 0xff, 0, 0, 0, 0, 0, 1, 0, 0]);
        // RFC 6455 §5.7: a masked "Hello".
        let hello = masked_frame(0x1, b"Hello", [0x37, 0xfa, 0x21, 0x3d]);
        assert_eq!(hello, [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    }

    #[test]
    fn copy_buffers_are_half_a_page_apart() {
        for len in [16, 1024, 65536] {
            let mut b = CopyBuffers::new(len, &payload(len));
            assert_eq!(b.distance_mod_4k(), 2048);
            let (src, dst) = b.split();
            assert_eq!(src, &payload(len)[..]);
            assert_eq!(dst.len(), len);
            let d = (dst.as_ptr() as usize).wrapping_sub(src.as_ptr() as usize) % 4096;
            assert_eq!(d, 2048);
        }
    }

    #[test]
    fn packet_lengths_are_consistent() {
        let packets = [
            publish_qos1(64),
            publish_qos1(1024),
            connect_with_will(),
            subscribe_10(),
            unsubscribe_10(),
            suback_10(),
            puback_reason(),
        ];
        for p in packets {
            // Remaining length (1 or 2 bytes here) matches the bytes that follow.
            let (len, header) = if p[1] & 0x80 == 0 {
                (p[1] as usize, 2)
            } else {
                ((p[1] & 0x7f) as usize + ((p[2] as usize) << 7), 3)
            };
            assert_eq!(p.len(), header + len);
        }
    }
}
