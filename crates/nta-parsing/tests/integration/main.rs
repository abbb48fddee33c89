//! Integration tests of nta-parsing: real captures (../shared/pcaps) and property tests.

mod common;
mod manifest;
mod picks;
mod properties;
mod sample;
mod tunnels;
