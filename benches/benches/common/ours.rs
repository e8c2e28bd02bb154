//! Our side, filled from the mqtt-ws API.
