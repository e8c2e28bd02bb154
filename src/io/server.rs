//! The MQTT server session's commands through a driver: each one writes what the session owed,
//! then its own packet, and flushes the transport (see [`Server`] for what they check).

use crate::mqtt::packet::Publish;
use crate::mqtt::server::{Accept, Error, Sent, Server, Store, TopicAliases};
use crate::mqtt::{PacketId, ReasonCode};
use crate::time::Instant;

use super::{Buffer, asynch, blocking};

type Blocking<'b, T, B, const I: usize, const A: usize, const L: usize, S, AL> =
    blocking::Connection<'b, T, Server<I, A, L, S, AL>, B>;
type BResult<R, T, const I: usize, const A: usize, const L: usize, S, AL> =
    blocking::Result<R, T, Server<I, A, L, S, AL>>;
type Async<'b, T, B, const I: usize, const A: usize, const L: usize, S, AL> =
    asynch::Connection<'b, T, Server<I, A, L, S, AL>, B>;
type AResult<R, T, const I: usize, const A: usize, const L: usize, S, AL> =
    asynch::Result<R, T, Server<I, A, L, S, AL>>;

/// The commands, written once for both drivers (`async` and `.await` for the async one).
macro_rules! commands {
    ($Result:ident $(, $async:tt $await:tt)?) => {
        /// The session.
        pub fn session(&self) -> &Server<I, A, L, S, AL> {
            self.machine()
        }

        /// Accepts the CONNECT with CONNACK ([`Server::accept`]).
        pub $($async)? fn accept(
            &mut self,
            now: Instant,
            accept: &Accept<'_>,
        ) -> $Result<(), T, I, A, L, S, AL> {
            self.command(now, |s, tx| {
                s.accept(now, accept, tx).map(|n| ((), n)).map_err(Error::from)
            })
            $(.$await)?
        }

        /// Refuses the CONNECT with CONNACK ([`Server::reject`]); the session closes.
        pub $($async)? fn reject(
            &mut self,
            now: Instant,
            reason_code: ReasonCode,
        ) -> $Result<(), T, I, A, L, S, AL> {
            self.command(now, |s, tx| s.reject(reason_code, tx).map(|n| ((), n)).map_err(Error::from))
            $(.$await)?
        }

        /// Sends AUTH ([`Server::auth`]).
        pub $($async)? fn auth(
            &mut self,
            now: Instant,
            reason_code: ReasonCode,
            method: &str,
            data: Option<&[u8]>,
        ) -> $Result<(), T, I, A, L, S, AL> {
            self.command(now, |s, tx| {
                s.auth(reason_code, method, data, tx).map(|n| ((), n)).map_err(Error::from)
            })
            $(.$await)?
        }

        /// Sends an application message ([`Server::publish`]).
        pub $($async)? fn publish(
            &mut self,
            now: Instant,
            publish: &Publish<'_>,
        ) -> $Result<Sent, T, I, A, L, S, AL> {
            self.command(now, |s, tx| s.publish(publish, tx).map(|r| (r, r.len)).map_err(Error::from))
            $(.$await)?
        }

        /// Sends a message of a resumed session again ([`Server::republish`]).
        pub $($async)? fn republish(
            &mut self,
            now: Instant,
            packet_id: PacketId,
            publish: &Publish<'_>,
        ) -> $Result<(), T, I, A, L, S, AL> {
            self.command(now, |s, tx| {
                s.republish(packet_id, publish, tx).map(|n| ((), n)).map_err(Error::from)
            })
            $(.$await)?
        }

        /// Answers SUBSCRIBE ([`Server::sub_ack`]).
        pub $($async)? fn sub_ack(
            &mut self,
            now: Instant,
            packet_id: PacketId,
            reason_codes: &[ReasonCode],
        ) -> $Result<(), T, I, A, L, S, AL> {
            self.command(now, |s, tx| {
                s.sub_ack(packet_id, reason_codes, tx).map(|n| ((), n)).map_err(Error::from)
            })
            $(.$await)?
        }

        /// Answers UNSUBSCRIBE ([`Server::unsub_ack`]).
        pub $($async)? fn unsub_ack(
            &mut self,
            now: Instant,
            packet_id: PacketId,
            reason_codes: &[ReasonCode],
        ) -> $Result<(), T, I, A, L, S, AL> {
            self.command(now, |s, tx| {
                s.unsub_ack(packet_id, reason_codes, tx).map(|n| ((), n)).map_err(Error::from)
            })
            $(.$await)?
        }

        /// Ends the session with DISCONNECT ([`Server::disconnect`]) and sends it.
        pub $($async)? fn disconnect(
            &mut self,
            now: Instant,
            reason_code: ReasonCode,
        ) -> $Result<(), T, I, A, L, S, AL> {
            self.command(now, |s, _| s.disconnect(reason_code).map(|()| ((), 0)).map_err(Error::from))
            $(.$await)?
        }
    };
}

impl<T, B, const I: usize, const A: usize, const L: usize, S, AL> Blocking<'_, T, B, I, A, L, S, AL>
where
    T: embedded_io::Read + embedded_io::Write,
    B: Buffer,
    S: Store,
    AL: TopicAliases,
{
    commands!(BResult);
}

impl<T, B, const I: usize, const A: usize, const L: usize, S, AL> Async<'_, T, B, I, A, L, S, AL>
where
    T: embedded_io_async::Read + embedded_io_async::Write,
    B: Buffer,
    S: Store,
    AL: TopicAliases,
{
    commands!(AResult, async await);
}
