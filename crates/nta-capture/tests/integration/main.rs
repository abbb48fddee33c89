//! Integration tests of nta-capture against real captures and hand-built files.

mod common;
mod manifest;
mod synthetic;
mod time;
