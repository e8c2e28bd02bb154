//! The MQTT client's commands through a driver: each one writes what the session owed, then
//! its own packet, and flushes the transport (see [`Client`] for what they check).

use crate::mqtt::ReasonCode;
use crate::mqtt::client::{Client, ConnectOptions, Outgoing, Sent, Store};
use crate::mqtt::packet::Subscription;
use crate::mqtt::properties::Properties;
use crate::time::Instant;

use super::{Buffer, asynch, blocking};

type Blocking<'b, T, S, B, const I: usize, const A: usize, const L: usize> =
    blocking::Connection<'b, T, Client<S, I, A, L>, B>;
type BResult<R, T, S, const I: usize, const A: usize, const L: usize> =
    blocking::Result<R, T, Client<S, I, A, L>>;
type Async<'b, T, S, B, const I: usize, const A: usize, const L: usize> =
    asynch::Connection<'b, T, Client<S, I, A, L>, B>;
type AResult<R, T, S, const I: usize, const A: usize, const L: usize> =
    asynch::Result<R, T, Client<S, I, A, L>>;

/// The commands, written once for both drivers (`async` and `.await` for the async one).
macro_rules! commands {
    ($Result:ident $(, $async:tt $await:tt)?) => {
        /// The session.
        pub fn client(&self) -> &Client<S, I, A, L> {
            self.machine()
        }

        /// Sends CONNECT ([`Client::connect`]): once per transport, the first thing on it.
        pub $($async)? fn connect(
            &mut self,
            now: Instant,
            options: &ConnectOptions<'_>,
        ) -> $Result<(), T, S, I, A, L> {
            self.command(now, |c, tx| c.connect(now, options, tx).map(|n| ((), n)))$(.$await)?
        }

        /// Publishes `msg` ([`Client::publish`]).
        pub $($async)? fn publish(
            &mut self,
            now: Instant,
            msg: &Outgoing<'_>,
        ) -> $Result<Sent, T, S, I, A, L> {
            self.command(now, |c, tx| c.publish(now, msg, tx).map(|s| (s, s.len)))$(.$await)?
        }

        /// Starts a PUBLISH whose payload of `payload_len` bytes follows in pieces
        /// ([`Client::publish_stream`]): its head is written behind what the session owed.
        /// Give the payload to [`publish_chunk`](Self::publish_chunk), then call
        /// [`publish_end`](Self::publish_end).
        pub $($async)? fn publish_stream(
            &mut self,
            now: Instant,
            msg: &Outgoing<'_>,
            payload_len: usize,
        ) -> $Result<Sent, T, S, I, A, L> {
            self.queue(now, |c, tx| {
                c.publish_stream(now, msg, payload_len, tx).map(|s| (s, s.len))
            })
            $(.$await)?
        }

        /// Sends the next piece of a streamed PUBLISH's payload, all of `data`
        /// ([`Client::publish_chunk`]): it is copied into the transmit buffer, which is written
        /// to the transport each time it is full, so memory stays that of the buffer.
        pub $($async)? fn publish_chunk(
            &mut self,
            now: Instant,
            mut data: &[u8],
        ) -> $Result<(), T, S, I, A, L> {
            while !data.is_empty() {
                let n = self.queue(now, |c, tx| c.publish_chunk(now, data, tx).map(|n| (n, n)))
                    $(.$await)??;
                data = data.get(n..).unwrap_or_default();
            }
            Ok(())
        }

        /// Ends a streamed PUBLISH ([`Client::publish_end`]) and flushes the transport; returns
        /// its packet identifier (QoS 1/2), which [`Event::Published`](crate::mqtt::client::Event)
        /// acknowledges.
        pub $($async)? fn publish_end(
            &mut self,
            now: Instant,
        ) -> $Result<Option<crate::mqtt::PacketId>, T, S, I, A, L> {
            let id = self.machine_mut().publish_end(now).map_err(super::DriverError::Machine)?;
            self.flush(now)$(.$await)??;
            Ok(id)
        }

        /// Subscribes ([`Client::subscribe`]); [`Event::Subscribed`](crate::mqtt::client::Event)
        /// reports the SUBACK.
        pub $($async)? fn subscribe(
            &mut self,
            now: Instant,
            subscriptions: &[Subscription<'_>],
            properties: Properties<'_>,
        ) -> $Result<Sent, T, S, I, A, L> {
            self.command(now, |c, tx| {
                c.subscribe(now, subscriptions, properties, tx).map(|s| (s, s.len))
            })
            $(.$await)?
        }

        /// Unsubscribes ([`Client::unsubscribe`]).
        pub $($async)? fn unsubscribe(
            &mut self,
            now: Instant,
            filters: &[&str],
            properties: Properties<'_>,
        ) -> $Result<Sent, T, S, I, A, L> {
            self.command(now, |c, tx| {
                c.unsubscribe(now, filters, properties, tx).map(|s| (s, s.len))
            })
            $(.$await)?
        }

        /// Answers or starts enhanced authentication ([`Client::auth`]).
        pub $($async)? fn auth(
            &mut self,
            now: Instant,
            reason_code: ReasonCode,
            properties: Properties<'_>,
        ) -> $Result<(), T, S, I, A, L> {
            self.command(now, |c, tx| c.auth(now, reason_code, properties, tx).map(|n| ((), n)))
            $(.$await)?
        }

        /// Sends DISCONNECT ([`Client::disconnect`]); close the transport afterwards.
        pub $($async)? fn disconnect(
            &mut self,
            now: Instant,
            reason_code: ReasonCode,
            properties: Properties<'_>,
        ) -> $Result<(), T, S, I, A, L> {
            self.command(now, |c, tx| {
                c.disconnect(now, reason_code, properties, tx).map(|n| ((), n))
            })
            $(.$await)?
        }
    };
}

impl<T, S, B, const I: usize, const A: usize, const L: usize> Blocking<'_, T, S, B, I, A, L>
where
    T: embedded_io::Read + embedded_io::Write,
    S: Store,
    B: Buffer,
{
    commands!(BResult);
}

impl<T, S, B, const I: usize, const A: usize, const L: usize> Async<'_, T, S, B, I, A, L>
where
    T: embedded_io_async::Read + embedded_io_async::Write,
    S: Store,
    B: Buffer,
{
    commands!(AResult, async await);
}
