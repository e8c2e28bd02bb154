//! UART0 of the emulated board as an [`embedded_io`] transport (and, with the `async` feature,
//! as an [`embedded_io_async`] one: [`asynch`]).
//!
//! A write blocks until every byte is in the transmit FIFO, or fails with
//! [`embedded_io::ErrorKind::TimedOut`] when the FIFO takes no byte for [`WRITE_TIMEOUT_MS`]
//! (under QEMU: the TCP peer behind the UART is gone). A read blocks until at least one byte
//! arrived or [`READ_TIMEOUT_MS`] passed; on timeout it fails with
//! [`embedded_io::ErrorKind::TimedOut`], which the mqtt-ws drivers read as "no bytes yet" and use
//! to run the keep-alive timer. Once one byte arrived, it takes whatever else is already waiting.

use core::ptr::{read_volatile, write_volatile};

use embedded_io::{ErrorKind, ErrorType, Read, Write};

use crate::clock;

#[cfg(feature = "async")]
pub mod asynch;

/// How long a read waits for the first byte.
pub const READ_TIMEOUT_MS: u64 = 50;

/// How long a write waits for room in the transmit FIFO.
pub const WRITE_TIMEOUT_MS: u64 = 1000;

/// How a UART transfer fails: it timed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimedOut {
    /// Nothing arrived within [`READ_TIMEOUT_MS`] (the line is idle; not a failure).
    Read,
    /// The transmit FIFO took no byte within [`WRITE_TIMEOUT_MS`].
    Write,
}

impl core::fmt::Display for TimedOut {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            TimedOut::Read => f.write_str("UART read timed out"),
            TimedOut::Write => f.write_str("UART write stalled"),
        }
    }
}

impl core::error::Error for TimedOut {}

impl embedded_io::Error for TimedOut {
    fn kind(&self) -> ErrorKind {
        ErrorKind::TimedOut
    }
}

/// The register access a UART model needs.
trait Regs {
    /// Sets the UART up for 8N1 with transmit and receive enabled.
    fn init(&self);
    /// A received byte, if one is waiting.
    fn try_read(&self) -> Option<u8>;
    /// Queues `b` for transmission if there is room.
    fn try_write(&self, b: u8) -> bool;
}

fn reg(base: usize, offset: usize) -> *mut u32 {
    (base + offset) as *mut u32
}

fn read_reg(base: usize, offset: usize) -> u32 {
    // SAFETY: `base` is the address of a memory-mapped UART of this board and `offset` one of its
    // 32-bit registers; a volatile read of it has no effect beyond the UART's own.
    unsafe { read_volatile(reg(base, offset)) }
}

fn write_reg(base: usize, offset: usize, value: u32) {
    // SAFETY: as in `read_reg`; nothing else in the firmware touches this UART.
    unsafe { write_volatile(reg(base, offset), value) }
}

/// ARM PrimeCell PL011 (UART0 of the LM3S6965 at 0x4000_C000).
#[cfg(feature = "lm3s6965evb")]
pub struct Pl011 {
    base: usize,
}

#[cfg(feature = "lm3s6965evb")]
impl Pl011 {
    const DR: usize = 0x00;
    const FR: usize = 0x18;
    const LCRH: usize = 0x2C;
    const CR: usize = 0x30;
    const FR_RXFE: u32 = 1 << 4;
    const FR_TXFF: u32 = 1 << 5;
    /// LCRH: 8 data bits (WLEN = 0b11), FIFOs enabled.
    const LCRH_8N1_FIFO: u32 = 0x70;
    /// CR: UARTEN, TXE, RXE.
    const CR_ENABLE: u32 = 0x301;
}

#[cfg(feature = "lm3s6965evb")]
impl Regs for Pl011 {
    fn init(&self) {
        write_reg(self.base, Self::CR, 0);
        write_reg(self.base, Self::LCRH, Self::LCRH_8N1_FIFO);
        write_reg(self.base, Self::CR, Self::CR_ENABLE);
    }
    fn try_read(&self) -> Option<u8> {
        if read_reg(self.base, Self::FR) & Self::FR_RXFE != 0 {
            return None;
        }
        Some(read_reg(self.base, Self::DR) as u8)
    }
    fn try_write(&self, b: u8) -> bool {
        if read_reg(self.base, Self::FR) & Self::FR_TXFF != 0 {
            return false;
        }
        write_reg(self.base, Self::DR, u32::from(b));
        true
    }
}

/// Arm CMSDK APB UART (UART0 of the MPS2 AN385/AN386 images at 0x4000_4000).
#[cfg(feature = "mps2-an386")]
pub struct CmsdkUart {
    base: usize,
}

#[cfg(feature = "mps2-an386")]
impl CmsdkUart {
    const DATA: usize = 0x00;
    const STATE: usize = 0x04;
    const CTRL: usize = 0x08;
    const BAUDDIV: usize = 0x10;
    const STATE_TXFULL: u32 = 1 << 0;
    const STATE_RXFULL: u32 = 1 << 1;
    /// CTRL: TX enable, RX enable.
    const CTRL_ENABLE: u32 = 0b11;
    /// 25 MHz peripheral clock / 115200 baud; the UART ignores divisors below 16.
    const BAUDDIV_115200: u32 = 25_000_000 / 115_200;
}

#[cfg(feature = "mps2-an386")]
impl Regs for CmsdkUart {
    fn init(&self) {
        write_reg(self.base, Self::BAUDDIV, Self::BAUDDIV_115200);
        write_reg(self.base, Self::CTRL, Self::CTRL_ENABLE);
    }
    fn try_read(&self) -> Option<u8> {
        if read_reg(self.base, Self::STATE) & Self::STATE_RXFULL == 0 {
            return None;
        }
        Some(read_reg(self.base, Self::DATA) as u8)
    }
    fn try_write(&self, b: u8) -> bool {
        if read_reg(self.base, Self::STATE) & Self::STATE_TXFULL != 0 {
            return false;
        }
        write_reg(self.base, Self::DATA, u32::from(b));
        true
    }
}

#[cfg(feature = "lm3s6965evb")]
type Model = Pl011;
#[cfg(feature = "lm3s6965evb")]
const UART0: Model = Pl011 { base: 0x4000_C000 };

#[cfg(feature = "mps2-an386")]
type Model = CmsdkUart;
#[cfg(feature = "mps2-an386")]
const UART0: Model = CmsdkUart { base: 0x4000_4000 };

/// The board's UART0. Only one exists: [`Uart::take`] hands it out once.
pub struct Uart {
    regs: Model,
}

impl Uart {
    /// UART0, set up for 8N1; `None` if it was taken before.
    pub fn take() -> Option<Self> {
        use core::sync::atomic::{AtomicBool, Ordering};
        static TAKEN: AtomicBool = AtomicBool::new(false);
        if TAKEN.swap(true, Ordering::AcqRel) {
            return None;
        }
        let regs = UART0;
        regs.init();
        Some(Uart { regs })
    }
}

impl ErrorType for Uart {
    type Error = TimedOut;
}

impl Uart {
    /// Takes the bytes waiting in the receive FIFO, as many as fit `buf`; does not wait.
    fn read_waiting(&mut self, buf: &mut [u8]) -> usize {
        let mut n = 0;
        for slot in buf.iter_mut() {
            let Some(b) = self.regs.try_read() else { break };
            *slot = b;
            n += 1;
        }
        n
    }

    /// Puts bytes of `buf` into the transmit FIFO while it has room; does not wait.
    fn write_room(&mut self, buf: &[u8]) -> usize {
        let mut n = 0;
        for &b in buf {
            if !self.regs.try_write(b) {
                break;
            }
            n += 1;
        }
        n
    }
}

/// Calls `transfer` until it moves a byte; fails with `timeout` when `limit_ms` pass first.
fn retry(
    limit_ms: u64,
    timeout: TimedOut,
    mut transfer: impl FnMut() -> usize,
) -> Result<usize, TimedOut> {
    let deadline = clock::now_ms() + limit_ms;
    loop {
        match transfer() {
            0 if clock::now_ms() >= deadline => return Err(timeout),
            0 => {}
            n => return Ok(n),
        }
    }
}

impl Read for Uart {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, TimedOut> {
        if buf.is_empty() {
            return Ok(0);
        }
        // After the first byte, return what came instead of waiting for more.
        retry(READ_TIMEOUT_MS, TimedOut::Read, || self.read_waiting(buf))
    }
}

impl Write for Uart {
    fn write(&mut self, buf: &[u8]) -> Result<usize, TimedOut> {
        if buf.is_empty() {
            return Ok(0);
        }
        // Once a byte is in, report a short write instead of waiting for room again.
        retry(WRITE_TIMEOUT_MS, TimedOut::Write, || self.write_room(buf))
    }

    fn flush(&mut self) -> Result<(), TimedOut> {
        Ok(())
    }
}
