//! UART0 as an [`embedded_io_async`] transport, woken by its receive interrupt.
//!
//! A read takes the bytes waiting in the receive FIFO and returns as soon as it has one; it
//! never waits after taking bytes, so it is cancel-safe. When the FIFO is empty it registers the
//! task's waker, enables the UART's receive interrupt and looks once more (on the CMSDK UART a
//! byte that came before the interrupt was enabled raises none), then returns `Pending`.
//! [`on_interrupt`] disables the receive interrupt again (the PL011 keeps raising it while its
//! FIFO holds bytes, which only the task reads) and wakes the task. There is no read timeout: the
//! firmware races its reads against a timer instead.
//!
//! A write puts what fits into the transmit FIFO. When the FIFO is full it yields (wakes its own
//! task and returns `Pending`) instead of waiting for the transmit interrupt: QEMU's UARTs pass
//! each byte on at once, so that hardly happens. Like the blocking write, it fails with
//! [`TimedOut::Write`] when the FIFO takes no byte for [`WRITE_TIMEOUT_MS`].

use core::future::poll_fn;
use core::task::Poll;

use cortex_m::interrupt::InterruptNumber;
use cortex_m::peripheral::NVIC;
use embedded_io::ErrorType;

use super::{Model, TimedOut, UART0, Uart, WRITE_TIMEOUT_MS, write_reg};
use crate::clock;
use crate::waker::WakerSlot;

/// The receive interrupt of a UART model.
trait RxInterrupt {
    /// Its number in the NVIC.
    const IRQ: u16;
    /// Enables it: raised when a byte arrives.
    fn listen(&self);
    /// Disables and clears it.
    fn unlisten(&self);
}

#[cfg(feature = "lm3s6965evb")]
impl super::Pl011 {
    /// Interrupt mask set/clear.
    const IMSC: usize = 0x38;
    /// IMSC: receive interrupt (QEMU raises it while the receive FIFO holds bytes).
    const IMSC_RXIM: u32 = 1 << 4;
}

#[cfg(feature = "lm3s6965evb")]
impl RxInterrupt for super::Pl011 {
    /// UART0 of the LM3S6965.
    const IRQ: u16 = 5;
    fn listen(&self) {
        write_reg(self.base, Self::IMSC, Self::IMSC_RXIM);
    }
    fn unlisten(&self) {
        write_reg(self.base, Self::IMSC, 0);
    }
}

#[cfg(feature = "mps2-an386")]
impl super::CmsdkUart {
    /// Interrupt status; write 1 to clear.
    const INTSTATUS: usize = 0x0C;
    const INTSTATUS_RX: u32 = 1 << 1;
    /// CTRL: receive interrupt enable (latched into INTSTATUS when a byte arrives).
    const CTRL_RX_INTEN: u32 = 1 << 3;
}

#[cfg(feature = "mps2-an386")]
impl RxInterrupt for super::CmsdkUart {
    /// UART0's receive interrupt on the MPS2 AN385/AN386 images (its transmit interrupt is 1).
    const IRQ: u16 = 0;
    fn listen(&self) {
        write_reg(self.base, Self::CTRL, Self::CTRL_ENABLE | Self::CTRL_RX_INTEN);
    }
    fn unlisten(&self) {
        write_reg(self.base, Self::CTRL, Self::CTRL_ENABLE);
        write_reg(self.base, Self::INTSTATUS, Self::INTSTATUS_RX);
    }
}

/// The NVIC interrupt number of UART0's receive interrupt.
pub const IRQ: u16 = <Model as RxInterrupt>::IRQ;

/// The task waiting in a read.
static RX_WAKER: WakerSlot = WakerSlot::new();

/// Handles UART0's receive interrupt: disables it and wakes the task waiting in a read.
pub fn on_interrupt() {
    // Interrupt enable and status only: the data and FIFO registers stay the `Uart`'s.
    UART0.unlisten();
    RX_WAKER.wake();
}

#[derive(Clone, Copy)]
struct Uart0Rx;

// SAFETY: `number` always returns the same interrupt number, one the board has.
unsafe impl InterruptNumber for Uart0Rx {
    fn number(self) -> u16 {
        IRQ
    }
}

/// UART0 as an async transport. See the [module docs](self).
pub struct AsyncUart(Uart);

impl AsyncUart {
    /// UART0 for async use: its interrupt line is enabled in the NVIC (its receive interrupt is
    /// enabled in the UART only while a read waits).
    pub fn new(uart: Uart) -> Self {
        // SAFETY: unmasking can break a critical section made by masking this interrupt; there
        // is none (the firmware's critical sections disable all interrupts), and the handler
        // touches only the UART's interrupt registers and a waker slot it locks itself.
        unsafe { NVIC::unmask(Uart0Rx) };
        AsyncUart(uart)
    }
}

impl ErrorType for AsyncUart {
    type Error = TimedOut;
}

impl embedded_io_async::Read for AsyncUart {
    /// # Cancel safety
    ///
    /// Cancel-safe: the bytes are taken and returned in the same poll.
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, TimedOut> {
        if buf.is_empty() {
            return Ok(0);
        }
        poll_fn(|cx| {
            let n = self.0.read_waiting(buf);
            if n > 0 {
                return Poll::Ready(Ok(n));
            }
            RX_WAKER.register(cx.waker());
            UART0.listen();
            match self.0.read_waiting(buf) {
                0 => Poll::Pending,
                n => Poll::Ready(Ok(n)),
            }
        })
        .await
    }
}

impl embedded_io_async::Write for AsyncUart {
    /// # Cancel safety
    ///
    /// Cancel-safe: bytes are put into the FIFO and reported in the same poll.
    async fn write(&mut self, buf: &[u8]) -> Result<usize, TimedOut> {
        if buf.is_empty() {
            return Ok(0);
        }
        let deadline = clock::now_ms() + WRITE_TIMEOUT_MS;
        poll_fn(|cx| match self.0.write_room(buf) {
            0 if clock::now_ms() >= deadline => Poll::Ready(Err(TimedOut::Write)),
            0 => {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            n => Poll::Ready(Ok(n)),
        })
        .await
    }

    async fn flush(&mut self) -> Result<(), TimedOut> {
        Ok(())
    }
}
