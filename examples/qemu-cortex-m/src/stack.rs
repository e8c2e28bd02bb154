//! Peak stack use, measured by painting: [`paint`] fills the unused stack with a pattern at
//! start-up, [`peak`] finds the lowest word that no longer holds it. The blocking firmware keeps
//! everything (buffers, client, WebSocket state) on the stack, so the peak is its RAM use; the
//! async one keeps them in its task's future, a static: [`statics`] counts those.

use core::ptr::{read_volatile, write_volatile};

const PAINT: u32 = 0xDEAD_BEEF;
/// Bytes below the stack pointer left unpainted: the frame `paint` itself runs in.
const MARGIN: usize = 64;

unsafe extern "C" {
    /// Lowest address of the statics: the start of `.data` (from cortex-m-rt's linker script).
    static __sdata: u32;
    /// Highest address of the stack (from cortex-m-rt's linker script).
    static _stack_start: u32;
    /// Lowest address the stack may grow to: the end of `.bss` (no heap in this firmware).
    static _stack_end: u32;
}

fn bounds() -> (usize, usize) {
    (&raw const _stack_end as usize, &raw const _stack_start as usize)
}

/// Paints the stack below the current stack pointer.
pub fn paint() {
    let (low, _) = bounds();
    let sp = cortex_m::register::msp::read() as usize;
    let mut addr = low;
    while addr + 4 <= sp.saturating_sub(MARGIN) {
        // SAFETY: `addr` is in the stack region below the live stack pointer (minus a margin for
        // this function's own frame): memory no live value occupies.
        unsafe { write_volatile(addr as *mut u32, PAINT) };
        addr += 4;
    }
}

/// The most stack used since [`paint`], in bytes.
pub fn peak() -> usize {
    let (low, high) = bounds();
    let mut addr = low;
    // SAFETY: reads of the stack region below its top: plain RAM.
    while addr < high && unsafe { read_volatile(addr as *const u32) } == PAINT {
        addr += 4;
    }
    high - addr
}

/// Bytes of RAM the statics take (`.data`, `.bss`, `.uninit`: from `__sdata` up to the stack's
/// lowest address).
pub fn statics() -> usize {
    let (low, _) = bounds();
    low - &raw const __sdata as usize
}
