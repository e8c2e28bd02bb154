//! One client connection: its MQTT session driven over its transport, the broker's answers to
//! what the client asks, the messages routed to it, and what the session leaves when it ends.

use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant as StdInstant};

use mqtt_ws::io::{DriverError, ElasticBuffer, asynch};
use mqtt_ws::mqtt::packet::{Publish, QosPid};
use mqtt_ws::mqtt::properties::{Properties, PropertiesBuilder, Property, PropertyContext};
use mqtt_ws::mqtt::server::{self, Accept, Event, Store as _, UsageError, WillAction};
use mqtt_ws::mqtt::topic::SharedSubscription;
use mqtt_ws::mqtt::{PacketId, Qos, ReasonCode, Version};
use tokio::sync::oneshot;

use super::chan;
use super::listen::{Link, ws_close_code};
use super::{
    Access, Broker, Carried, Cmd, Delivery, Handover, Leaving, Msg, Record, Session, Stamp, Sub,
    invalid,
};

/// A session over transport `T`, in the async driver with buffers it owns.
pub(crate) type Driver<T> = asynch::Connection<'static, T, Session, ElasticBuffer>;

/// The properties of an incoming PUBLISH that travel to subscribers (MQTT 5.0 §3.3.2.3): all but
/// Topic Alias and Subscription Identifier.
fn forwarded_props(p: &Properties<'_>) -> Vec<u8> {
    let mut buf = vec![0u8; p.as_bytes().len()];
    let mut b = PropertiesBuilder::new(&mut buf);
    for prop in p.iter() {
        if !matches!(prop, Property::TopicAlias(_) | Property::SubscriptionIdentifier(_)) {
            let _ = b.push(prop);
        }
    }
    let n = b.len();
    buf.truncate(n);
    buf
}

/// The will of a CONNECT, kept until the connection ends.
struct Will {
    msg: Msg,
    delay: u32,
}

pub(crate) struct Conn {
    broker: Broker,
    id: u64,
    /// Shared with its session's entry in the broker's table.
    client_id: Option<Arc<str>>,
    /// The user name it connected with (shared with its session's entry).
    username: Option<Arc<str>>,
    will: Option<Box<Will>>,
    expiry: u32,
    /// Deliveries waiting for the client's Receive Maximum.
    pending: VecDeque<Delivery>,
    /// Sent QoS 1 / 2 deliveries by packet identifier.
    inflight: BTreeMap<PacketId, Delivery>,
    /// Set when taken over: where `inflight` goes when this connection ends.
    successor: Option<oneshot::Sender<Handover>>,
    /// When it last woke for input or a routed message.
    active: Option<Stamp>,
    /// It woke twice within [`IDLE_AFTER`].
    busy: bool,
}

/// How [`Conn::run`] returned.
pub(crate) enum Ran {
    /// The session is over.
    Ended,
    /// The connection idles, until its socket or channel wakes it or `wake` comes.
    Idle { wake: Option<StdInstant> },
}

/// What woke an idle connection ([`super::park`]).
pub(crate) enum Woke {
    /// Its socket has bytes to read (or is closed).
    Readable,
    /// A message routed to it.
    Routed(Cmd),
    /// Its timer is due.
    Timer,
}

/// What a busy connection waited for.
enum Woken {
    /// The client's packet, as what it asks of the connection.
    Act(Action),
    /// The session ended (the client left, or closed).
    Ended,
    /// The client broke the protocol; the CONNACK or DISCONNECT that says so is owed.
    Fault(server::Error),
    /// The transport failed.
    Failed(String),
    Routed(Option<Cmd>),
    Timer,
}

/// What an event asks of the connection, owned so the event's borrow can end.
enum Action {
    None,
    Connect {
        client_id: String,
        /// The broker chose the Client Identifier (the CONNECT's was empty).
        assigned: bool,
        clean_start: bool,
        expiry: u32,
        will: Option<Box<Will>>,
        auth: bool,
        username: Option<String>,
        password: Option<Vec<u8>>,
    },
    Publish(Msg, Option<PacketId>),
    Subscribe(PacketId, Vec<Result<Sub, ReasonCode>>),
    Unsubscribe(PacketId, Vec<String>),
    Acked(PacketId),
    Disconnect(Option<u32>),
}

impl Conn {
    pub(crate) fn new(broker: Broker) -> Self {
        let id = broker.next_conn.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Conn {
            broker,
            id,
            client_id: None,
            username: None,
            will: None,
            expiry: 0,
            pending: VecDeque::new(),
            inflight: BTreeMap::new(),
            successor: None,
            active: None,
            busy: false,
        }
    }

    /// Journals the broker's copy of a message sent with `id` (when the broker persists).
    fn journal_inflight(&self, id: PacketId, d: &Delivery) {
        let client = self.client_id.as_deref().unwrap_or_default().to_owned();
        self.broker.journal(|| Record::Inflight { client, id, delivery: d.clone() });
    }

    /// Journals that queued message `d` was dropped.
    fn journal_dropped(&self, d: &Delivery) {
        self.broker.journal_dropped(self.client_id.as_deref().unwrap_or_default(), d);
    }

    /// Journals that the message sent with `id` is done with.
    fn journal_acked(&self, id: PacketId) {
        let client = self.client_id.as_deref().unwrap_or_default().to_owned();
        self.broker.journal(|| Record::Acked { client, id });
    }

    /// Runs the session from what woke it: its events, the messages routed to it, until the
    /// connection ends or idles: then its buffers are given back, and [`super::park`] waits for
    /// what wakes it next without a task.
    ///
    /// The loop is boxed: what it holds while the connection is busy is large, and the task
    /// that awaits it stays small.
    pub(crate) async fn run<T: Link>(
        &mut self,
        conn: &mut Driver<T>,
        rx: &mut chan::Receiver<Cmd>,
        woke: Option<Woke>,
    ) -> io::Result<Ran>
    where
        T::Error: std::fmt::Debug,
    {
        let ran = Box::pin(self.busy(conn, rx, woke)).await?;
        if let Ran::Idle { .. } = ran {
            conn.release_buffers();
        }
        Ok(ran)
    }

    /// The broker it belongs to.
    pub(crate) fn broker(&self) -> &Broker {
        &self.broker
    }

    /// The connection's number, unique in its broker.
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// The session while the connection is busy, from what woke it (`woke`), until it ends or
    /// idles (and the wait is [`super::park`]'s). Idle: nothing buffered, nothing owed, a transport that can wait for
    /// readiness, and no wake-up (input or a routed message) within [`IDLE_AFTER`] of the one
    /// before, or none for that long (busy: it would reallocate its buffers on every read).
    async fn busy<T: Link>(
        &mut self,
        conn: &mut Driver<T>,
        rx: &mut chan::Receiver<Cmd>,
        woke: Option<Woke>,
    ) -> io::Result<Ran>
    where
        T::Error: std::fmt::Debug,
    {
        // Readable: the next wait reads, whatever the idle rule says (and its input is the
        // wake-up noted).
        let mut read_now = matches!(woke, Some(Woke::Readable));
        if let Some(Woke::Routed(cmd)) = woke {
            self.woken(false);
            self.routed_batch(conn, rx, cmd);
            self.send_pending(conn).await?;
        }
        loop {
            // What is owed goes out first, so the wait below only reads and may be cancelled
            // (a write that takes longer than the write timeout ends the connection). While
            // packets of the last read wait, the wait below neither reads nor writes: their
            // answers go out together once they are handled.
            if !conn.pump().has_input() {
                match conn.flush(self.broker.now()).await {
                    Ok(()) => {}
                    Err(DriverError::Closed | DriverError::Eof) => return Ok(Ran::Ended),
                    Err(e) => return Err(invalid(e)),
                }
            }
            let mut wake = conn.poll_timeout().map(|t| self.broker.std_instant(t));
            let at = StdInstant::now();
            let quiet_at = match self.active {
                Some(t) => at + IDLE_AFTER.saturating_sub(self.broker.since(t)),
                None => at,
            };
            let waiting = T::READINESS
                && !std::mem::take(&mut read_now)
                && conn.pump().buffered() == 0
                && !conn.pump().is_closed()
                && wake.is_none_or(|w| w > at);
            if waiting && (!self.busy || at >= quiet_at) {
                return Ok(Ran::Idle { wake });
            }
            if waiting {
                wake = Some(wake.map_or(quiet_at, |w| w.min(quiet_at)));
            }
            let id = self.id;
            let broker = &self.broker;
            let woken = tokio::select! {
                step = conn.poll(broker.now()) => match step {
                    Ok(event) => Woken::Act(action(id, event)),
                    Err(DriverError::Closed | DriverError::Eof) => Woken::Ended,
                    Err(DriverError::Machine(e)) => Woken::Fault(e),
                    Err(e) => Woken::Failed(format!("{e:?}")),
                },
                cmd = rx.recv() => Woken::Routed(cmd),
                () = sleep_until(wake) => Woken::Timer,
            };
            self.woken(matches!(woken, Woken::Timer));
            match woken {
                Woken::Act(action) => {
                    if let Some(action) = self.act_at_once(conn, action) {
                        // Boxed: what CONNECT, SUBSCRIBE and UNSUBSCRIBE hold while they wait
                        // is then not part of every busy connection's loop.
                        Box::pin(self.act(conn, rx, action)).await?;
                    }
                }
                Woken::Fault(e) => {
                    // The CONNACK or DISCONNECT the fault calls for is owed: sent on the way out.
                    self.broker.log(|| format!("client {}: {e}", self.id));
                    return Ok(Ran::Ended);
                }
                Woken::Ended => return Ok(Ran::Ended),
                Woken::Failed(e) => return Err(io::Error::other(e)),
                Woken::Routed(Some(cmd)) => self.routed_batch(conn, rx, cmd),
                Woken::Routed(None) | Woken::Timer => {}
            }
            self.send_pending(conn).await?;
        }
    }

    /// Notes a wake-up: input or a routed message (not `timer`) within [`IDLE_AFTER`] of the one
    /// before makes the connection busy.
    fn woken(&mut self, timer: bool) {
        if !timer {
            self.busy = self.active.is_some_and(|t| self.broker.since(t) < IDLE_AFTER);
            self.active = Some(self.broker.stamp());
        }
    }

    /// Takes `cmd` and whatever else was routed meanwhile (up to [`ROUTED_BATCH`]): their
    /// messages then go out in the same write.
    fn routed_batch<T: Link>(
        &mut self,
        conn: &mut Driver<T>,
        rx: &mut chan::Receiver<Cmd>,
        cmd: Cmd,
    ) {
        self.routed(conn, cmd);
        for _ in 0..ROUTED_BATCH {
            let Some(cmd) = rx.try_recv() else { break };
            self.routed(conn, cmd);
        }
    }
}

impl Conn {
    /// Takes what another connection sent this one.
    fn routed<T: Link>(&mut self, conn: &mut Driver<T>, cmd: Cmd) {
        match cmd {
            Cmd::Deliver(d) if self.broker.has_room(&self.pending, &d) => {
                self.pending.push_back(*d);
            }
            Cmd::Deliver(d) => {
                self.journal_dropped(&d);
                self.broker.drop_message(self.client_id.as_deref().unwrap_or_default());
            }
            Cmd::Takeover(successor) => {
                // [MQTT-3.1.4-3] DISCONNECT 0x8E to the old connection, will published.
                let _ = conn.machine_mut().disconnect(ReasonCode::SessionTakenOver);
                self.successor = Some(successor);
            }
        }
    }
}

/// A connection woken again within this (input, or messages routed to it) is busy: it keeps its
/// buffers until it has been quiet this long.
const IDLE_AFTER: Duration = Duration::from_secs(1);

/// Messages routed to a connection taken at once, beyond the one that woke it.
const ROUTED_BATCH: usize = 63;

/// Sleeps until `at`, or forever.
async fn sleep_until(at: Option<StdInstant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

fn action(conn_id: u64, event: Option<Event<'_, 256>>) -> Action {
    match event {
        None => Action::None,
        Some(Event::Connect(c)) => {
            // An identifier nobody can guess, so nobody can take the session over.
            let assigned = c.client_id.is_empty();
            let client_id = if assigned {
                let bytes: [u8; 16] = mqtt_ws::net::random().unwrap_or_else(|_| {
                    // No OS randomness: still unique, though not secret.
                    let mut b = [0u8; 16];
                    b[..8].copy_from_slice(&conn_id.to_be_bytes());
                    b
                });
                let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
                format!("auto-{hex}")
            } else {
                c.client_id.to_owned()
            };
            let expiry = match c.version {
                // 3.1.1: Clean Session 0 keeps the session "forever" (no expiry in 3.1.1).
                Version::V3_1_1 if !c.clean_start => u32::MAX,
                Version::V3_1_1 => 0,
                Version::V5 => c.properties.session_expiry_interval().unwrap_or(0),
            };
            let will = c.will.as_ref().map(|w| {
                Box::new(Will {
                    msg: Msg {
                        topic: w.topic.into(),
                        payload: w.payload.into(),
                        qos: w.qos,
                        retain: w.retain,
                        props: forwarded_will_props(&w.properties).into(),
                        from: conn_id,
                        expires: None,
                    },
                    delay: w.properties.will_delay_interval().unwrap_or(0),
                })
            });
            Action::Connect {
                client_id,
                assigned,
                clean_start: c.clean_start,
                expiry,
                will,
                auth: c.properties.authentication_method().is_some(),
                username: c.username.map(str::to_owned),
                password: c.password.map(<[u8]>::to_vec),
            }
        }
        Some(Event::Publish(p)) => Action::Publish(
            Msg {
                topic: p.topic.as_str().into(),
                payload: p.payload.into(),
                qos: p.qos,
                retain: p.retain,
                props: forwarded_props(&p.properties).into(),
                from: conn_id,
                expires: None,
            },
            p.packet_id,
        ),
        Some(Event::Subscribe(s)) => {
            let id = s.properties.subscription_identifiers().next();
            let subs = s
                .filters
                .iter()
                .map(|f| {
                    let (group, filter) = match SharedSubscription::parse(f.filter) {
                        Ok(Some(sh)) => (Some(sh.group.to_owned()), sh.filter.to_owned()),
                        Ok(None) => (None, f.filter.to_owned()),
                        Err(_) => return Err(ReasonCode::TopicFilterInvalid),
                    };
                    Ok(Sub { full: f.filter.to_owned(), filter, group, options: f.options, id })
                })
                .collect();
            Action::Subscribe(s.packet_id, subs)
        }
        Some(Event::Unsubscribe(u)) => {
            Action::Unsubscribe(u.packet_id, u.filters.iter().map(str::to_owned).collect())
        }
        Some(Event::Acknowledged { packet_id, .. }) => Action::Acked(packet_id),
        Some(Event::Disconnect(d)) => Action::Disconnect(d.properties.session_expiry_interval()),
        Some(Event::Auth(_)) => Action::None,
    }
}

impl Conn {
    async fn act<T: Link>(
        &mut self,
        conn: &mut Driver<T>,
        rx: &chan::Receiver<Cmd>,
        action: Action,
    ) -> io::Result<()>
    where
        T::Error: std::fmt::Debug,
    {
        let Some(action) = self.act_at_once(conn, action) else { return Ok(()) };
        let now = self.broker.now();
        match action {
            Action::Connect {
                client_id,
                assigned,
                clean_start,
                expiry,
                will,
                auth,
                username,
                password,
            } => {
                if auth {
                    // No enhanced authentication methods here (MQTT 5.0 §4.12).
                    return conn
                        .reject(now, ReasonCode::BadAuthenticationMethod)
                        .await
                        .map_err(invalid);
                }
                if let Some(code) =
                    self.broker.authenticate(username.as_deref(), password.as_deref())
                {
                    println!("broker: {client_id} refused ({code:?}), user {username:?}");
                    return conn.reject(now, code).await.map_err(invalid);
                }
                self.username = username.map(Arc::from);
                let (key, present, carried, queued) = self
                    .broker
                    .connect_session(
                        &client_id,
                        self.username.clone(),
                        (self.id, rx.sender()),
                        clean_start,
                        expiry,
                    )
                    .await;
                let version = conn.session().version();
                self.broker.log(|| {
                    format!("{client_id} connected ({version:?}, session present: {present})")
                });
                let assigned = (version == Version::V5 && assigned).then_some(client_id.as_str());
                let accept = Accept {
                    session_present: present,
                    assigned_client_id: assigned,
                    ..Accept::default()
                };
                // The kept session's state first: Accept with Session Present keeps it (and
                // sends the PUBRELs it owes), without it the store starts empty.
                *conn.machine_mut().store_mut() = carried.store;
                conn.machine_mut().store_mut().attach(self.broker.journal.as_ref(), &client_id);
                conn.accept(now, &accept).await.map_err(invalid)?;
                self.client_id = Some(key);
                self.will = will;
                self.expiry = expiry;
                // What the session had in flight and queued is this connection's before anything
                // can fail: a write that fails below leaves it to the session, not lost.
                self.pending.extend(queued);
                if present {
                    self.inflight.extend(carried.inflight);
                    let again: Vec<PacketId> = conn.session().to_resend().collect();
                    for id in again {
                        match self.inflight.remove(&id) {
                            Some(d) => self.resend(conn, id, d).await?,
                            None => {
                                conn.machine_mut().store_mut().remove_outgoing(id);
                            }
                        }
                    }
                    // Those waiting for PUBCOMP stay in `inflight` until it arrives.
                }
            }
            Action::Subscribe(packet_id, subs) => {
                let client_id = self.client_id.clone().unwrap_or_default();
                let user = self.username.as_deref();
                let subs: Vec<Result<Sub, ReasonCode>> = subs
                    .into_iter()
                    .map(|s| match s {
                        Ok(sub)
                            if !self.broker.may(&client_id, user, Access::Subscribe(&sub.full)) =>
                        {
                            println!("broker: {client_id} may not subscribe to {}", sub.full);
                            Err(ReasonCode::NotAuthorized)
                        }
                        other => other,
                    })
                    .collect();
                let codes: Vec<ReasonCode> = subs
                    .iter()
                    .map(|s| match s {
                        Ok(sub) => ReasonCode::granted(sub.options.qos),
                        Err(code) => *code,
                    })
                    .collect();
                let ok: Vec<Sub> = subs.into_iter().filter_map(Result::ok).collect();
                self.broker.log(|| {
                    format!(
                        "{client_id} subscribed to {:?}",
                        ok.iter().map(|s| &s.full).collect::<Vec<_>>()
                    )
                });
                // The SUBACK is encoded first: one the client cannot take (larger than its
                // Maximum Packet Size) ends the connection with nothing stored. It leaves once
                // the subscriptions are in place, so a message published after the client saw
                // it is delivered (MQTT 5.0 §3.8.4).
                let sub_ack = |s: &mut super::Session, tx: &mut [u8]| {
                    s.sub_ack(packet_id, &codes, tx).map(|n| ((), n)).map_err(server::Error::from)
                };
                conn.queue(now, sub_ack).await.map_err(invalid)?;
                let retained = self.broker.subscribe(&client_id, ok);
                self.pending.extend(retained);
                conn.flush(now).await.map_err(invalid)?;
            }
            Action::Unsubscribe(packet_id, filters) => {
                let client_id = self.client_id.clone().unwrap_or_default();
                let codes = self.broker.unsubscribe(&client_id, &filters);
                conn.unsub_ack(now, packet_id, &codes).await.map_err(invalid)?;
            }
            Action::None | Action::Publish(..) | Action::Acked(_) | Action::Disconnect(_) => {}
        }
        Ok(())
    }

    /// Does what `action` asks when that needs no waiting (PUBLISH, acknowledgements,
    /// DISCONNECT); returns the others for [`Conn::act`].
    fn act_at_once<T: Link>(&mut self, conn: &mut Driver<T>, action: Action) -> Option<Action> {
        match action {
            Action::None => {}
            // Topics starting with `$` are the server's (MQTT 5.0 §4.7.2): refused, not routed
            // nor retained.
            Action::Publish(msg, id) if msg.topic.starts_with('$') => {
                let client = self.client_id.as_deref().unwrap_or_default();
                println!("broker: {client} may not publish to {}", msg.topic);
                if let Some(id) = id {
                    let _ = conn.machine_mut().refuse_publish(id, ReasonCode::NotAuthorized);
                }
            }
            Action::Publish(msg, id) => {
                let client = self.client_id.as_deref().unwrap_or_default();
                let limit = self.broker.options.message_size_limit;
                if limit.is_some_and(|l| msg.payload.len() as u64 > u64::from(l)) {
                    println!("broker: {client}'s message on {} over message_size_limit", msg.topic);
                    if let Some(id) = id {
                        let _ = conn.machine_mut().refuse_publish(id, ReasonCode::QuotaExceeded);
                    }
                } else if self.broker.may(
                    client,
                    self.username.as_deref(),
                    Access::Publish(&msg.topic),
                ) {
                    self.broker.publish(msg);
                } else {
                    // Not routed; QoS 1 / 2 told so (MQTT 5.0), QoS 0 dropped.
                    println!("broker: {client} may not publish to {}", msg.topic);
                    if let Some(id) = id {
                        let _ = conn.machine_mut().refuse_publish(id, ReasonCode::NotAuthorized);
                    }
                }
            }
            Action::Acked(id) => {
                if self.inflight.remove(&id).is_some() {
                    self.journal_acked(id);
                }
            }
            Action::Disconnect(expiry) => {
                if let Some(e) = expiry {
                    self.expiry = e;
                }
            }
            other => return Some(other),
        }
        None
    }

    fn publish_packet<'a>(d: &'a Delivery, props_buf: &'a mut Vec<u8>) -> Publish<'a> {
        let mut p = Publish::new(&d.msg.topic, &d.msg.payload);
        p.retain = d.msg.retain;
        let one = PacketId::new(1).expect("1 is not 0");
        p.qos_pid = match d.msg.qos {
            Qos::AtMostOnce => QosPid::AtMostOnce,
            Qos::AtLeastOnce => QosPid::AtLeastOnce(one),
            Qos::ExactlyOnce => QosPid::ExactlyOnce(one),
        };
        props_buf.resize(d.msg.props.len() + 5 * d.sub_ids.len(), 0);
        let mut b = PropertiesBuilder::new(props_buf);
        if let Ok(stored) = Properties::parse(&d.msg.props, PropertyContext::Publish) {
            for prop in stored.iter() {
                let prop = match (prop, d.msg.expires) {
                    // [MQTT-3.3.2-6] the time left, in whole seconds (rounded up: a message
                    // still deliverable never says 0).
                    (Property::MessageExpiryInterval(_), Some(t)) => {
                        let left = t.saturating_duration_since(StdInstant::now());
                        let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
                        Property::MessageExpiryInterval(secs.clamp(1, u64::from(u32::MAX)) as u32)
                    }
                    (other, _) => other,
                };
                let _ = b.push(prop);
            }
        }
        for id in &d.sub_ids {
            let _ = b.push(Property::SubscriptionIdentifier(*id));
        }
        p.properties = b.finish();
        p
    }

    /// Sends the messages routed to this connection, as far as the client's Receive Maximum
    /// lets them go.
    async fn send_pending<T: Link>(&mut self, conn: &mut Driver<T>) -> io::Result<()>
    where
        T::Error: std::fmt::Debug,
    {
        if !conn.session().is_connected() {
            return Ok(());
        }
        let mut props = Vec::new();
        while let Some(d) = self.pending.front() {
            if d.msg.qos != Qos::AtMostOnce && conn.session().send_quota() == 0 {
                break;
            }
            let d = self.pending.pop_front().expect("front exists");
            // [MQTT-3.3.2-5] expired before onward delivery started: deleted.
            if d.msg.expired(StdInstant::now()) {
                self.journal_dropped(&d);
                continue;
            }
            let p = Self::publish_packet(&d, &mut props);
            // Queued: the messages sent here leave together, with the next flush.
            let publish = |s: &mut Session, tx: &mut [u8]| {
                s.publish(&p, tx).map(|r| (r, r.len)).map_err(server::Error::from)
            };
            match conn.queue(self.broker.now(), publish).await {
                Ok(sent) => {
                    if let Some(id) = sent.packet_id {
                        self.journal_inflight(id, &d);
                        self.inflight.insert(id, d.sent());
                    }
                }
                // [MQTT-3.1.2-25] too large for the client: discarded.
                Err(DriverError::Machine(server::Error::Usage(UsageError::PacketTooLarge {
                    ..
                }))) => self.journal_dropped(&d),
                Err(e) => {
                    // The session did not take it (a failed `queue` ran no command): it stays
                    // queued, for the session's next connection.
                    self.pending.push_front(d);
                    return Err(invalid(e));
                }
            }
        }
        Ok(())
    }

    async fn resend<T: Link>(
        &mut self,
        conn: &mut Driver<T>,
        id: PacketId,
        d: Delivery,
    ) -> io::Result<()>
    where
        T::Error: std::fmt::Debug,
    {
        let mut props = Vec::new();
        let p = Self::publish_packet(&d, &mut props);
        match conn.republish(self.broker.now(), id, &p).await {
            Ok(()) => {
                self.journal_inflight(id, &d);
                self.inflight.insert(id, d);
            }
            Err(DriverError::Machine(_)) => {
                // Not deliverable on this connection as it was (too large for the client now):
                // it leaves the session's flow and is queued as a new message.
                conn.machine_mut().store_mut().remove_outgoing(id);
                self.journal_acked(id);
                let mut d = d;
                self.broker.journal_queued(self.client_id.as_deref().unwrap_or_default(), &mut d);
                self.pending.push_back(d);
            }
            Err(e) => {
                // Still in the session's flow (its store keeps `id`): the copy stays with it,
                // to go out again on the next connection.
                self.inflight.insert(id, d);
                return Err(invalid(e));
            }
        }
        Ok(())
    }

    /// After the session closed: the link, the will, the session's fate.
    pub(crate) async fn finish<T: Link>(
        &mut self,
        conn: &mut Driver<T>,
        rx: &mut chan::Receiver<Cmd>,
        link_ok: bool,
    ) {
        // After a failed (or timed-out) write, nothing more is sent.
        if link_ok {
            let _ = conn.flush(self.broker.now()).await;
        }
        let closed = conn.session().closed();
        conn.transport().close(ws_close_code(closed)).await;
        let Some(client_id) = self.client_id.take() else {
            // Never connected, or taken over: the will (if due) is still published.
            if let (Some(will), Some(c)) = (self.will.take(), closed)
                && c.will == WillAction::Publish
            {
                self.broker.publish(will.msg);
            }
            return;
        };
        self.broker.log(|| format!("{client_id} disconnected: {closed:?}"));
        let leaving = Leaving {
            conn_id: self.id,
            expiry: self.expiry,
            carried: Carried {
                store: std::mem::take(conn.machine_mut().store_mut()),
                inflight: std::mem::take(&mut self.inflight).into_iter().collect(),
            },
            pending: self.pending.drain(..).collect(),
            successor: self.successor.take(),
        };
        self.broker.disconnect_session(&client_id, leaving, rx);
        let Some(will) = self.will.take() else { return };
        if closed.is_none_or(|c| c.will != WillAction::Publish) {
            return;
        }
        // [MQTT-3.1.3-9] the will waits for its delay (or the session's end, if sooner) and is
        // dropped if the client reconnects first.
        let delay = will.delay.min(self.expiry);
        if delay == 0 {
            self.broker.publish(will.msg);
            return;
        }
        // The broker's timer publishes it when due, unless a connection takes the session first.
        let due = StdInstant::now() + Duration::from_secs(delay.into());
        let mut st = self.broker.lock();
        match st.sessions.get_mut(&*client_id) {
            Some(s) if s.conn.is_none() => s.will = Some(Box::new((due, will.msg))),
            // Already back on a new connection: not published [MQTT-3.1.3-9].
            Some(_) => {}
            None => {
                drop(st);
                self.broker.publish(will.msg);
            }
        }
    }
}

fn forwarded_will_props(p: &Properties<'_>) -> Vec<u8> {
    // Will properties travel like PUBLISH properties, without Will Delay Interval.
    let mut buf = vec![0u8; p.as_bytes().len()];
    let mut b = PropertiesBuilder::new(&mut buf);
    for prop in p.iter() {
        if !matches!(prop, Property::WillDelayInterval(_)) {
            let _ = b.push(prop);
        }
    }
    let n = b.len();
    buf.truncate(n);
    buf
}
