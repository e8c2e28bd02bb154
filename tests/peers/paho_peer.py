"""paho-mqtt (PyPI) against a broker: QoS 0/1/2, MQTT 5 properties, retained messages, wills and
session resumption, over TCP and WebSocket, MQTT 5.0 and 3.1.1.

Usage: paho_peer.py HOST TCP_PORT WS_PORT TAG
Prints one "OK <scenario> <transport> <version>" line per passed scenario and exits 0; on a
failure prints "FAIL ..." and exits 1. Drives the clients' network loops by hand (no threads),
so every wait is bounded.
"""
import socket
import sys
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

HOST, TCP_PORT, WS_PORT, TAG = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
TIMEOUT = 10.0


class Peer:
    def __init__(self, name, transport, version, will=None, persistent=False):
        self.name = f"paho-{TAG}-{name}"
        self.version = version
        self.transport = transport
        # MQTT 3.1.1 has no session expiry: a session outlives the connection only with Clean
        # Session 0, set here; MQTT 5.0 sets Clean Start and Session Expiry in connect().
        v311 = {"clean_session": not persistent} if version == mqtt.MQTTv311 else {}
        self.c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.name, protocol=version,
                             transport=transport, **v311)
        if transport == "websockets":
            self.c.ws_set_options(path="/mqtt")
        if will:
            topic, payload = will
            self.c.will_set(topic, payload, qos=1)
        self.messages = []
        self.connack = None
        self.subacks = 0
        self.pubacks = set()
        self.c.on_connect = self._on_connect
        self.c.on_message = lambda c, u, m: self.messages.append(m)
        self.c.on_subscribe = self._on_subscribe
        self.c.on_publish = lambda c, u, mid, rc, props: self.pubacks.add(mid)

    def _on_connect(self, c, u, flags, reason, props):
        self.connack = (flags.session_present, reason)

    def _on_subscribe(self, c, u, mid, reasons, props):
        self.subacks += 1

    def connect(self, clean=True, expiry=None):
        port = WS_PORT if self.transport == "websockets" else TCP_PORT
        self.connack = None
        if self.version == mqtt.MQTTv5:
            props = None
            if expiry is not None:
                props = Properties(PacketTypes.CONNECT)
                props.SessionExpiryInterval = expiry
            self.c.connect(HOST, port, keepalive=30, clean_start=clean, properties=props)
        else:
            self.c.connect(HOST, port, keepalive=30)
        wait(lambda: self.connack is not None, [self], f"CONNACK for {self.name}")
        session_present, reason = self.connack
        check(not reason.is_failure, f"{self.name} refused: {reason}")
        return session_present

    def subscribe(self, topic, qos):
        n = self.subacks
        self.c.subscribe(topic, qos)
        wait(lambda: self.subacks > n, [self], f"SUBACK for {self.name}")

    def publish(self, topic, payload, qos, retain=False, props=None):
        info = self.c.publish(topic, payload, qos=qos, retain=retain, properties=props)
        if qos > 0:
            wait(lambda: info.mid in self.pubacks, [self], f"ack of {topic} qos {qos}")

    def loop(self):
        self.c.loop(timeout=0.005)


def check(ok, what):
    if not ok:
        print(f"FAIL {what}", flush=True)
        sys.exit(1)


def wait(cond, peers, what):
    deadline = time.monotonic() + TIMEOUT
    while not cond():
        check(time.monotonic() < deadline, f"timed out waiting for {what}")
        for p in peers:
            p.loop()


def v5_props(**fields):
    p = Properties(PacketTypes.PUBLISH)
    for k, v in fields.items():
        setattr(p, k, v)
    return p


def run(transport, version):
    v = "5.0" if version == mqtt.MQTTv5 else "3.1.1"
    label = f"{transport} {v}"
    base = f"paho/{TAG}/{transport}/{v}"

    # QoS 0/1/2: the subscriber gets each at the QoS it was published with (subscribed at 2).
    sub = Peer(f"sub-{transport}-{v}", transport, version)
    pub = Peer(f"pub-{transport}-{v}", transport, version)
    sub.connect()
    pub.connect()
    sub.subscribe(f"{base}/q/#", 2)
    for qos in (0, 1, 2):
        props = None
        if version == mqtt.MQTTv5:
            props = v5_props(UserProperty=[("lang", "python")], ContentType="text/plain",
                             ResponseTopic=f"{base}/reply", CorrelationData=b"\x01\x02")
        pub.publish(f"{base}/q/{qos}", f"qos {qos}".encode(), qos, props=props)
    wait(lambda: len(sub.messages) >= 3, [sub, pub], "three messages")
    got = sorted((m.topic, m.payload, m.qos) for m in sub.messages)
    check(got == [(f"{base}/q/{q}", f"qos {q}".encode(), q) for q in (0, 1, 2)], f"got {got}")
    if version == mqtt.MQTTv5:
        for m in sub.messages:
            p = m.properties
            check(getattr(p, "UserProperty", None) == [("lang", "python")], f"user props {p}")
            check(getattr(p, "ContentType", None) == "text/plain", f"content type {p}")
            check(getattr(p, "ResponseTopic", None) == f"{base}/reply", f"response topic {p}")
            check(getattr(p, "CorrelationData", None) == b"\x01\x02", f"correlation {p}")
    print(f"OK qos012 {label}", flush=True)

    # Retained: a later subscriber gets the last retained message with the retain flag.
    pub.publish(f"{base}/ret", b"old", 1, retain=True)
    pub.publish(f"{base}/ret", b"kept", 1, retain=True)
    late = Peer(f"late-{transport}-{v}", transport, version)
    late.connect()
    late.subscribe(f"{base}/ret", 1)
    wait(lambda: late.messages, [late, pub], "the retained message")
    m = late.messages[0]
    check((m.payload, m.retain) == (b"kept", True), f"retained {m.payload} {m.retain}")
    pub.publish(f"{base}/ret", b"", 1, retain=True)  # clear it
    late.c.disconnect()
    print(f"OK retained {label}", flush=True)

    # Will: a client whose connection breaks without DISCONNECT has its will published.
    sub.subscribe(f"{base}/will", 1)
    willing = Peer(f"will-{transport}-{v}", transport, version, will=(f"{base}/will", b"gone"))
    willing.connect()
    n = len(sub.messages)
    raw = willing.c.socket()
    raw = getattr(raw, "_socket", raw)  # under the WebSocket wrapper, the TCP socket
    raw.shutdown(socket.SHUT_RDWR)
    raw.close()
    wait(lambda: len(sub.messages) > n, [sub], "the will message")
    m = sub.messages[-1]
    check((m.topic, m.payload) == (f"{base}/will", b"gone"), f"will {m.topic} {m.payload}")
    print(f"OK will {label}", flush=True)

    # Session resumption: a QoS 1 message published while the subscriber is away is queued and
    # delivered when it comes back with its session.
    away = Peer(f"away-{transport}-{v}", transport, version, persistent=True)
    away.connect(clean=True, expiry=60)
    away.subscribe(f"{base}/away", 1)
    away.c.disconnect()
    away.loop()
    pub.publish(f"{base}/away", b"while away", 1)
    away2 = Peer(f"away-{transport}-{v}", transport, version, persistent=True)
    present = away2.connect(clean=False, expiry=60)
    check(present, "session present on resumption")
    wait(lambda: away2.messages, [away2], "the queued message")
    check(away2.messages[0].payload == b"while away", f"queued {away2.messages[0].payload}")
    away2.c.disconnect()
    print(f"OK session {label}", flush=True)

    for p in (sub, pub):
        p.c.disconnect()
        p.loop()


for transport, version in (("tcp", mqtt.MQTTv5), ("websockets", mqtt.MQTTv5),
                           ("tcp", mqtt.MQTTv311), ("websockets", mqtt.MQTTv311)):
    run(transport, version)
print("DONE", flush=True)
