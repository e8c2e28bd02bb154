"""paho-mqtt against a broker that wants a user name, a password and TLS.

Usage: paho_configured.py HOST TLS_PORT CAFILE USER PASSWORD
Prints `OK tls`, `OK refused <reason>` for a wrong password, then `DONE`; exits non-zero on a
failure. Every wait is bounded.
"""
import queue
import sys

import paho.mqtt.client as mqtt

host, port, cafile, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]


def client(name, secret):
    events = queue.Queue()
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=name, protocol=mqtt.MQTTv5)
    c.tls_set(ca_certs=cafile)
    c.username_pw_set(user, secret)
    c.on_connect = lambda c, u, f, rc, p: events.put(("connect", rc))
    c.on_subscribe = lambda c, u, mid, rcs, p: events.put(("subscribe", rcs))
    c.on_message = lambda c, u, m: events.put(("message", m.topic, m.payload))
    c.connect(host, port)
    c.loop_start()
    return c, events


def expect(events, kind):
    event = events.get(timeout=10)
    if event[0] != kind:
        sys.exit("expected %s, got %r" % (kind, event))
    return event


c, events = client("paho-tls", password)
if expect(events, "connect")[1] != 0:
    sys.exit("refused")
c.subscribe("house/#", qos=1)
expect(events, "subscribe")
c.publish("house/lamp", b"on", qos=1)
_, topic, payload = expect(events, "message")
if (topic, payload) != ("house/lamp", b"on"):
    sys.exit("got %r %r" % (topic, payload))
print("OK tls", flush=True)
c.disconnect()
c.loop_stop()

c, events = client("paho-wrong", password + "x")
rc = expect(events, "connect")[1]
c.loop_stop()
print("OK refused %s" % rc, flush=True)
print("DONE", flush=True)
